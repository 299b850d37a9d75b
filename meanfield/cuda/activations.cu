// meanfield/cuda/activations.cu -- hand-written kernels for meanfield's built-in activations.
//
// Compiled after common.cu (meanfield.gpu.kernels concatenates the two, appends the entry
// points of one Op, and hands the text to cupy.RawModule).  Every Op is a template in the
// element type T (float or double); the activation's parameters (p0, p1, p2) and the affine
// wrapper y = scale * f(x) + shift (GPN versions, nrelu/nswish) are kernel arguments, so one
// compiled module serves every parameter value.
//
// Parameter slots per Op (unused slots are ignored):
//   Relu, Tanh, Sigmoid, Softplus, Gelu, Swish, Erf, Linear : none
//   LRelu : p0 = slope          Elu : p0 = alpha
//   Selu  : p0 = lam, p1 = alpha            (selu and dselu)
//   SSelu : p0 = lam, p1 = alpha, p2 = beta lam * (x > 0 ? x : alpha * (e^(beta x) - 1))
//   LSelu : p0 = lam, p1 = alpha, p2 = beta lam * (x > 0 ? x : alpha * (e^x - 1) + beta x)
//
// Numerics: the negative branches use expm1 (no cancellation near 0); every branch sits behind
// a ternary, so an unused branch is never evaluated (no overflow of e^x for large x);
// tanh' = 4 e / (1 + e)^2 and sigmoid' = e / (1 + e)^2 with e = exp(-|x|) have no cancellation
// in the tails; softplus = max(x, 0) + log1p(exp(-|x|)); GELU is the exact x * Phi(x) with
// CUDA's normcdf.  The derivative at a kink is the one-sided value from the left (x <= 0),
// like the NumPy reference act.df.

#ifndef MEANFIELD_ACTIVATIONS_CU
#define MEANFIELD_ACTIVATIONS_CU

namespace mf {

template <typename T> struct Relu {
    MF_FN Relu(T, T, T) {}
    MF_FN T f(T x) const { return x <= T(0) ? T(0) : x; }  // NaN propagates
    MF_FN T df(T x) const { return x > T(0) ? T(1) : T(0); }
};

template <typename T> struct LRelu {
    T slope;
    MF_FN LRelu(T p0, T, T) : slope(p0) {}
    MF_FN T f(T x) const { return x > T(0) ? x : slope * x; }
    MF_FN T df(T x) const { return x > T(0) ? T(1) : slope; }
};

template <typename T> struct Elu {
    T alpha;
    MF_FN Elu(T p0, T, T) : alpha(p0) {}
    MF_FN T f(T x) const { return x > T(0) ? x : alpha * mf_expm1(x); }
    MF_FN T df(T x) const { return x > T(0) ? T(1) : alpha * mf_exp(x); }
};

// SELU and dSELU: lam * (x > 0 ? x : alpha * (e^x - 1)).
template <typename T> struct Selu {
    T lam, alpha;
    MF_FN Selu(T p0, T p1, T) : lam(p0), alpha(p1) {}
    MF_FN T unit(T x) const { return x > T(0) ? x : alpha * mf_expm1(x); }
    MF_FN T f(T x) const { return lam * unit(x); }
    MF_FN T df(T x) const { return lam * (x > T(0) ? T(1) : alpha * mf_exp(x)); }
};

// sSELU: lam * (x > 0 ? x : alpha * (e^(beta x) - 1)).
template <typename T> struct SSelu {
    T lam, alpha, beta;
    MF_FN SSelu(T p0, T p1, T p2) : lam(p0), alpha(p1), beta(p2) {}
    MF_FN T unit(T x) const { return x > T(0) ? x : alpha * mf_expm1(beta * x); }
    MF_FN T f(T x) const { return lam * unit(x); }
    MF_FN T df(T x) const { return lam * (x > T(0) ? T(1) : alpha * beta * mf_exp(beta * x)); }
};

// lSELU: lam * (x > 0 ? x : alpha * (e^x - 1) + beta * x).
template <typename T> struct LSelu {
    T lam, alpha, beta;
    MF_FN LSelu(T p0, T p1, T p2) : lam(p0), alpha(p1), beta(p2) {}
    MF_FN T unit(T x) const { return x > T(0) ? x : alpha * mf_expm1(x) + beta * x; }
    MF_FN T f(T x) const { return lam * unit(x); }
    MF_FN T df(T x) const { return lam * (x > T(0) ? T(1) : alpha * mf_exp(x) + beta); }
};

template <typename T> struct Tanh {
    MF_FN Tanh(T, T, T) {}
    MF_FN T f(T x) const { return mf_tanh(x); }
    MF_FN T df(T x) const {
        const T e = mf_exp(T(-2) * mf_fabs(x));
        const T d = T(1) + e;
        return T(4) * e / (d * d);
    }
};

template <typename T> struct Sigmoid {
    MF_FN Sigmoid(T, T, T) {}
    MF_FN T f(T x) const {
        const T e = mf_exp(-mf_fabs(x));
        return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    }
    MF_FN T df(T x) const {
        const T e = mf_exp(-mf_fabs(x));
        const T d = T(1) + e;
        return e / (d * d);
    }
};

template <typename T> struct Softplus {
    MF_FN Softplus(T, T, T) {}
    MF_FN T f(T x) const { return mf_max(x, T(0)) + mf_log1p(mf_exp(-mf_fabs(x))); }
    MF_FN T df(T x) const {
        const T e = mf_exp(-mf_fabs(x));
        return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    }
};

// Exact GELU x * Phi(x); Phi' = exp(-x^2 / 2) / sqrt(2 pi).
template <typename T> struct Gelu {
    MF_FN Gelu(T, T, T) {}
    MF_FN T f(T x) const { return x * mf_normcdf(x); }
    MF_FN T df(T x) const {
        return mf_normcdf(x) + x * (T(0.39894228040143267794) * mf_exp(T(-0.5) * x * x));
    }
};

// Swish / SiLU x * sigmoid(x); f' = s(x) * (1 + x * s(-x)).
template <typename T> struct Swish {
    MF_FN Swish(T, T, T) {}
    MF_FN T f(T x) const { return x * Sigmoid<T>(T(0), T(0), T(0)).f(x); }
    MF_FN T df(T x) const {
        const T e = mf_exp(-mf_fabs(x));
        const T sp = T(1) / (T(1) + e);  // sigmoid(|x|)
        const T sn = e / (T(1) + e);     // sigmoid(-|x|)
        const T s = x >= T(0) ? sp : sn;
        const T s_minus = x >= T(0) ? sn : sp;
        return s * (T(1) + x * s_minus);
    }
};

template <typename T> struct Erf {
    MF_FN Erf(T, T, T) {}
    MF_FN T f(T x) const { return mf_erf(x); }
    MF_FN T df(T x) const { return T(1.12837916709551257390) * mf_exp(-(x * x)); }
};

template <typename T> struct Linear {
    MF_FN Linear(T, T, T) {}
    MF_FN T f(T x) const { return x; }
    MF_FN T df(T) const { return T(1); }
};

}  // namespace mf

#ifdef MF_DEVICE_CODE

// Entry points.  Each is extern "C" with a fixed name, mf_<kind>_<Op>_<f32|f64>, so that
// cupy.RawModule needs no name expressions (with name expressions CuPy 13 recompiles the
// module in every process instead of loading it from its disk cache).  meanfield.gpu.kernels
// compiles one module per Op: this file followed by MF_ENTRY_POINTS(Op) and, for the SELU
// family, MF_LAMBDA_ENTRY_POINTS(Op).  __launch_bounds__(MF_BLOCK): every launch uses
// kernels.BLOCK_SIZE threads, so the compiler may budget registers for exactly that.
//
//   forward            y = scale * f(x) + shift
//   derivative         y = scale * f'(x)
//   forward_derivative y = scale * f(x) + shift and dy = scale * f'(x), reading x once
//   backward           gx = g * scale * f'(x)
//   backward_lambda    gx = g * scale * f'(x);  *acc += sum(g * scale * f(x) / lam)

#define MF_ENTRY_POINTS_T(OP, T, SUF)                                                            \
    extern "C" __global__ void __launch_bounds__(MF_BLOCK)                                       \
        mf_forward_##OP##_##SUF(const T* x, T* y, long long n, T p0, T p1, T p2, T scale,        \
                                T shift) {                                                       \
        mf_forward_loop(x, y, n, mf::OP<T>(p0, p1, p2), scale, shift);                           \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(MF_BLOCK)                                       \
        mf_derivative_##OP##_##SUF(const T* x, T* y, long long n, T p0, T p1, T p2, T scale) {   \
        mf_derivative_loop(x, y, n, mf::OP<T>(p0, p1, p2), scale);                               \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(MF_BLOCK)                                       \
        mf_forward_derivative_##OP##_##SUF(const T* x, T* y, T* dy, long long n, T p0, T p1,     \
                                           T p2, T scale, T shift) {                             \
        mf_forward_derivative_loop(x, y, dy, n, mf::OP<T>(p0, p1, p2), scale, shift);            \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(MF_BLOCK)                                       \
        mf_backward_##OP##_##SUF(const T* x, const T* g, T* gx, long long n, T p0, T p1, T p2,   \
                                 T scale) {                                                      \
        mf_backward_loop(x, g, gx, n, mf::OP<T>(p0, p1, p2), scale);                             \
    }

#define MF_LAMBDA_ENTRY_POINTS_T(OP, T, SUF)                                                     \
    extern "C" __global__ void __launch_bounds__(MF_BLOCK)                                       \
        mf_backward_lambda_##OP##_##SUF(const T* x, const T* g, T* gx, double* acc, long long n, \
                                        T p0, T p1, T p2, T scale) {                             \
        mf_backward_param_loop(x, g, gx, acc, n, mf::OP<T>(p0, p1, p2), scale);                  \
    }

#define MF_ENTRY_POINTS(OP)                  \
    MF_ENTRY_POINTS_T(OP, float, f32)        \
    MF_ENTRY_POINTS_T(OP, double, f64)

#define MF_LAMBDA_ENTRY_POINTS(OP)           \
    MF_LAMBDA_ENTRY_POINTS_T(OP, float, f32) \
    MF_LAMBDA_ENTRY_POINTS_T(OP, double, f64)

#endif  // MF_DEVICE_CODE

#endif  // MEANFIELD_ACTIVATIONS_CU
