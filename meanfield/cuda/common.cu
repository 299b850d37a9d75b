// meanfield/cuda/common.cu -- shared CUDA building blocks of meanfield's activation kernels.
//
// This text is prepended to activations.cu (the hand-written built-in kernels) and to the
// kernels that meanfield.gpu.codegen generates from a user's SymPy expression; the pieces are
// concatenated in Python, so no #include is needed under NVRTC (CuPy's RawModule).
//
// Layout
//   1. MF_FN and the mf_* math overload set (float -> expf & co, double -> exp & co).  These
//      compile for the device (nvcc/NVRTC) *and* for the host (g++), which lets the test-suite
//      check the activation formulas numerically on a machine without a GPU.
//   2. Device-only drivers (guarded by MF_DEVICE_CODE): grid-stride elementwise loops with
//      16-byte vector loads when the pointers allow it (2-4 packs per thread and iteration), a
//      warp-shuffle block reduction, and the Kahan-compensated backward-with-parameter-gradient
//      loop.
//
// Every module is compiled by CuPy with -ftz=true: float operations flush subnormal inputs and
// results to zero (double ones do not).  A float result below FLT_MIN (1.18e-38) may thus come
// out as 0, and so may a result computed from such an intermediate (erf'(9.35) = 1.28e-38 is
// 1.13 * exp(-87.4), whose exp is subnormal); tests/test_gpu_kernels.py allows for that.
//
// An "Op" is a struct with  T f(T x) const  and  T df(T x) const  (and, for the SELU family,
// T unit(T x) const = f(x) / lam computed without dividing).  Parameters live in the Op and
// reach it as kernel arguments.
//
// No cuRAND, no CUB, no standard headers on the device side.

#ifndef MEANFIELD_COMMON_CU
#define MEANFIELD_COMMON_CU

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define MF_DEVICE_CODE 1
#define MF_FN __device__ __forceinline__
#else
#include <math.h>
#define MF_FN inline
#endif

// ---------------------------------------------------------------------------------------------
// 1. math overloads: one name, float and double versions; the float one calls the float
//    function so that a float instantiation never computes in double.

#define MF_UNARY(name, fname, dname)                          \
    MF_FN float name(float a) { return fname(a); }            \
    MF_FN double name(double a) { return dname(a); }

#define MF_BINARY(name, fname, dname)                                 \
    MF_FN float name(float a, float b) { return fname(a, b); }        \
    MF_FN double name(double a, double b) { return dname(a, b); }

MF_UNARY(mf_exp, expf, exp)
MF_UNARY(mf_exp2, exp2f, exp2)
MF_UNARY(mf_expm1, expm1f, expm1)
MF_UNARY(mf_log, logf, log)
MF_UNARY(mf_log2, log2f, log2)
MF_UNARY(mf_log10, log10f, log10)
MF_UNARY(mf_log1p, log1pf, log1p)
MF_UNARY(mf_sqrt, sqrtf, sqrt)
MF_UNARY(mf_cbrt, cbrtf, cbrt)
MF_UNARY(mf_sin, sinf, sin)
MF_UNARY(mf_cos, cosf, cos)
MF_UNARY(mf_tan, tanf, tan)
MF_UNARY(mf_asin, asinf, asin)
MF_UNARY(mf_acos, acosf, acos)
MF_UNARY(mf_atan, atanf, atan)
MF_UNARY(mf_sinh, sinhf, sinh)
MF_UNARY(mf_cosh, coshf, cosh)
MF_UNARY(mf_tanh, tanhf, tanh)
MF_UNARY(mf_asinh, asinhf, asinh)
MF_UNARY(mf_acosh, acoshf, acosh)
MF_UNARY(mf_atanh, atanhf, atanh)
MF_UNARY(mf_erf, erff, erf)
MF_UNARY(mf_erfc, erfcf, erfc)
MF_UNARY(mf_tgamma, tgammaf, tgamma)
MF_UNARY(mf_lgamma, lgammaf, lgamma)
MF_UNARY(mf_fabs, fabsf, fabs)
MF_UNARY(mf_floor, floorf, floor)
MF_UNARY(mf_ceil, ceilf, ceil)
MF_BINARY(mf_pow, powf, pow)
MF_BINARY(mf_atan2, atan2f, atan2)
MF_BINARY(mf_hypot, hypotf, hypot)
MF_BINARY(mf_fmod, fmodf, fmod)

#undef MF_UNARY
#undef MF_BINARY

// Standard normal CDF.  CUDA has normcdf/normcdff (accurate in both tails); the host fallback
// (used only by the host-side tests) is the same erfc form.
#ifdef MF_DEVICE_CODE
MF_FN float mf_normcdf(float a) { return normcdff(a); }
MF_FN double mf_normcdf(double a) { return normcdf(a); }
#else
MF_FN float mf_normcdf(float a) { return 0.5f * erfcf(-a * 0.70710678118654752f); }
MF_FN double mf_normcdf(double a) { return 0.5 * erfc(-a * 0.70710678118654752); }
#endif

// NaN-propagating max/min (like numpy.maximum; fmax would drop a NaN).
template <typename T> MF_FN T mf_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T> MF_FN T mf_min(T a, T b) { return (a != a || a < b) ? a : b; }
// sign(0) = 0, sign(NaN) = NaN (numpy.sign).
template <typename T> MF_FN T mf_sign(T a) { return a > T(0) ? T(1) : (a < T(0) ? T(-1) : a); }

template <typename T> MF_FN T mf_nan();
template <> MF_FN float mf_nan<float>() { return 0.0f / 0.0f; }
template <> MF_FN double mf_nan<double>() { return 0.0 / 0.0; }
template <typename T> MF_FN T mf_inf();
template <> MF_FN float mf_inf<float>() { return 1.0f / 0.0f; }
template <> MF_FN double mf_inf<double>() { return 1.0 / 0.0; }

// x**(1/3) of a real x as NumPy's power (C's pow) computes it: NaN for finite x < 0 (cbrt would
// give the real cube root, -2 for -8, and the GPU would disagree with act.f), +inf for -inf,
// cbrt's accuracy otherwise.
template <typename T> MF_FN T mf_real_cbrt(T a) {
    return a < T(0) ? (a == -mf_inf<T>() ? mf_inf<T>() : mf_nan<T>()) : mf_cbrt(a);
}

// One step of Kahan (compensated) summation: sum += v with the lost low-order bits kept in c.
template <typename T> MF_FN void mf_kahan_add(T& sum, T& c, T v) {
    T y = v - c;
    T t = sum + y;
    c = (t - sum) - y;
    sum = t;
}

// ---------------------------------------------------------------------------------------------
// 2. device-only drivers

#ifdef MF_DEVICE_CODE

// Threads per block. The host launches every kernel with kernels.BLOCK_SIZE (it does not read
// this macro); tests/test_gpu_kernels.py checks that the two agree.
#define MF_BLOCK 256

template <typename T, int V>
struct alignas(sizeof(T) * V) mf_pack {
    T v[V];
};

MF_FN bool mf_aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0ull;
}

MF_FN long long mf_thread_index() {
    return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

MF_FN long long mf_thread_count() {
    return static_cast<long long>(gridDim.x) * blockDim.x;
}

// Packs per thread per iteration of the grid-stride loops: each thread loads U 16-byte packs of
// every input (U independent loads in flight), computes, then stores them; 64 bytes per array
// per thread and iteration in both precisions.
template <typename T> struct mf_unroll { static constexpr int value = 4; };
template <> struct mf_unroll<double> { static constexpr int value = 2; };

// The one grid-stride driver.  When `packed` (every pointer 16-byte aligned) it calls
// body(i, stride, live) for the 16-byte packs i, i + stride, ..., i + (U - 1) stride of the
// first n / V elements, live[u] saying whether pack i + u stride exists (the last iteration
// may hold fewer than U); then tail(i) for the elements after the last whole pack (or for all
// of them when not packed).  Consecutive threads touch consecutive packs, so every access is
// coalesced.  The body loads all its live packs, computes, then stores: one inlined copy of
// the activation per body (a separate loop for a partial last iteration would double it).
template <int V, int U, typename BodyFn, typename TailFn>
MF_FN void mf_grid_stride(long long n, bool packed, const BodyFn& body, const TailFn& tail) {
    const long long start = mf_thread_index();
    const long long stride = mf_thread_count();
    long long head = 0;
    if (packed) {
        const long long np = n / V;
        for (long long i = start; i < np; i += U * stride) {
            bool live[U];
#pragma unroll
            for (int u = 0; u < U; ++u) live[u] = i + u * stride < np;
            body(i, stride, live);
        }
        head = np * V;
    }
    for (long long i = head + start; i < n; i += stride) tail(i);
}

// y[i] = fn(x[i])   (y may be x: each element is read before it is written by the same thread)
template <typename T, typename Fn>
MF_FN void mf_map_loop(const T* x, T* y, long long n, const Fn& fn) {
    constexpr int V = 16 / sizeof(T);
    constexpr int U = mf_unroll<T>::value;
    using Pack = mf_pack<T, V>;
    mf_grid_stride<V, U>(
        n, mf_aligned16(x) && mf_aligned16(y),
        [&](long long i, long long s, const bool* live) {
            Pack a[U];
#pragma unroll
            for (int u = 0; u < U; ++u)
                if (live[u]) a[u] = reinterpret_cast<const Pack*>(x)[i + u * s];
#pragma unroll
            for (int u = 0; u < U; ++u) {
#pragma unroll
                for (int k = 0; k < V; ++k) a[u].v[k] = fn(a[u].v[k]);
            }
#pragma unroll
            for (int u = 0; u < U; ++u)
                if (live[u]) reinterpret_cast<Pack*>(y)[i + u * s] = a[u];
        },
        [&](long long i) { y[i] = fn(x[i]); });
}

// out[i] = fn(x[i], g[i])   (out may be x or g).  fn is called for live elements only (the
// backward with dL/dlam accumulates a sum in it).
template <typename T, typename Fn>
MF_FN void mf_zip_loop(const T* x, const T* g, T* out, long long n, const Fn& fn) {
    constexpr int V = 16 / sizeof(T);
    constexpr int U = mf_unroll<T>::value;
    using Pack = mf_pack<T, V>;
    mf_grid_stride<V, U>(
        n, mf_aligned16(x) && mf_aligned16(g) && mf_aligned16(out),
        [&](long long i, long long s, const bool* live) {
            Pack a[U], b[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (live[u]) {
                    a[u] = reinterpret_cast<const Pack*>(x)[i + u * s];
                    b[u] = reinterpret_cast<const Pack*>(g)[i + u * s];
                }
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (live[u]) {
#pragma unroll
                    for (int k = 0; k < V; ++k) a[u].v[k] = fn(a[u].v[k], b[u].v[k]);
                }
            }
#pragma unroll
            for (int u = 0; u < U; ++u)
                if (live[u]) reinterpret_cast<Pack*>(out)[i + u * s] = a[u];
        },
        [&](long long i) { out[i] = fn(x[i], g[i]); });
}

// y[i] = scale * op.f(x[i]) + shift
template <typename T, typename Op>
MF_FN void mf_forward_loop(const T* x, T* y, long long n, const Op& op, T scale, T shift) {
    mf_map_loop(x, y, n, [&](T v) { return scale * op.f(v) + shift; });
}

// y[i] = scale * op.df(x[i])
template <typename T, typename Op>
MF_FN void mf_derivative_loop(const T* x, T* y, long long n, const Op& op, T scale) {
    mf_map_loop(x, y, n, [&](T v) { return scale * op.df(v); });
}

// y[i] = scale * op.f(x[i]) + shift and dy[i] = scale * op.df(x[i]) in one pass over x (the
// simulator's forward step keeps f'(h) for its backward pass).
template <typename T, typename Op>
MF_FN void mf_forward_derivative_loop(const T* x, T* y, T* dy, long long n, const Op& op, T scale,
                                      T shift) {
    constexpr int V = 16 / sizeof(T);
    constexpr int U = mf_unroll<T>::value;
    using Pack = mf_pack<T, V>;
    mf_grid_stride<V, U>(
        n, mf_aligned16(x) && mf_aligned16(y) && mf_aligned16(dy),
        [&](long long i, long long s, const bool* live) {
            Pack a[U], d[U];
#pragma unroll
            for (int u = 0; u < U; ++u)
                if (live[u]) a[u] = reinterpret_cast<const Pack*>(x)[i + u * s];
#pragma unroll
            for (int u = 0; u < U; ++u) {
#pragma unroll
                for (int k = 0; k < V; ++k) {
                    const T xi = a[u].v[k];
                    d[u].v[k] = scale * op.df(xi);
                    a[u].v[k] = scale * op.f(xi) + shift;
                }
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (live[u]) {
                    reinterpret_cast<Pack*>(y)[i + u * s] = a[u];
                    reinterpret_cast<Pack*>(dy)[i + u * s] = d[u];
                }
            }
        },
        [&](long long i) {
            const T xi = x[i];
            y[i] = scale * op.f(xi) + shift;
            dy[i] = scale * op.df(xi);
        });
}

// gx[i] = g[i] * scale * op.df(x[i])   (gx may be x or g)
template <typename T, typename Op>
MF_FN void mf_backward_loop(const T* x, const T* g, T* gx, long long n, const Op& op, T scale) {
    mf_zip_loop(x, g, gx, n, [&](T xi, T gi) { return gi * (scale * op.df(xi)); });
}

// Sum of v over the block, valid in thread 0.  Warp shuffles, then one warp over the per-warp
// sums held in shared memory.  blockDim.x must be a multiple of 32 (at most 1024).
MF_FN double mf_block_sum(double v) {
    __shared__ double warp_sums[32];
    const unsigned lane = threadIdx.x & 31u;
    const unsigned warp = threadIdx.x >> 5;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const unsigned nwarps = (blockDim.x + 31u) >> 5;
        v = lane < nwarps ? warp_sums[lane] : 0.0;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    return v;
}

// Backward with a trainable scale parameter lam (Appendix B, Algorithm 2 of "Rethinking the
// self-normalization"): gx[i] = g[i] * scale * op.df(x[i]) and
//     *acc += sum_i g[i] * scale * op.unit(x[i])        (= dL/dlam, since f = lam * unit).
// g[i] is loaded once and reused for both; each thread keeps a Kahan-compensated partial sum
// in T over its grid-stride share, the block reduces the partials in double, and one thread
// per block does a single atomicAdd into the double accumulator.  Launch with a grid of a few
// thousand blocks (not n / blockDim), so that each thread sums many elements on chip.
template <typename T, typename Op>
MF_FN void mf_backward_param_loop(const T* x, const T* g, T* gx, double* acc, long long n,
                                  const Op& op, T scale) {
    T sum = T(0);
    T comp = T(0);
    mf_zip_loop(x, g, gx, n, [&](T xi, T gi) {
        mf_kahan_add(sum, comp, gi * (scale * op.unit(xi)));
        return gi * (scale * op.df(xi));
    });
    const double total = mf_block_sum(static_cast<double>(sum) - static_cast<double>(comp));
    if (threadIdx.x == 0) atomicAdd(acc, total);
}

#endif  // MF_DEVICE_CODE

#endif  // MEANFIELD_COMMON_CU
