"""Tests of meanfield.gpu.kernels and the CUDA source in meanfield/cuda/.

Two kinds of tests:

* Without a GPU (always run, each skips only if its tool is missing): the ``.cu`` files are
  found with importlib.resources and compile through CuPy's own NVRTC path with CuPy's exact
  options (``-ftz=true``, ``-arch=sm_90``, its include paths; needs CuPy and NVRTC, not a
  GPU); the PTX has 16-byte loads and stores, ``__launch_bounds__``, no local memory and no
  double-precision instruction in float kernels; the activation formulas of
  ``activations.cu`` (compiled for the *host* with g++, in double, in float, and in float with
  the CPU's flush-to-zero mode, as CuPy compiles) match the NumPy reference
  ``act.f``/``act.df``; the Kahan step compensates; :func:`kernel_plan` picks the right kernels.
* ``@pytest.mark.gpu`` (skipped unless CuPy imports and sees a CUDA device): every kernel
  against the NumPy reference, fully written outputs, in-place use, the dL/dlam reduction
  against a float64 sum, and input validation.

Tolerance (:func:`_tolerance`): ``rtol_for(dtype) * (|f| + |x f'(x)| + |shift|) + tiny``.

* ``rtol_for(dtype)`` is a few ulps of the dtype: each formula is a handful of correctly
  rounded operations and CUDA/libm functions accurate to <= 2 ulp (normcdf <= 5 ulp).
* ``|x f'(x)|``: a rounding inside an argument (``beta * x``, ``x * x`` in ``exp(-x^2/2)``)
  perturbs the result like a relative perturbation of ``x``, i.e. by ``|x f'(x)|`` times it;
  this also bounds the cancellation where ``f`` crosses zero away from 0 (lSELU with beta < 0,
  the zero of GELU's derivative near x = -0.75).
* ``|shift|``: ``scale * f + shift`` cancels where ``scale * f ~ -shift`` (GPN versions).
* ``tiny`` (the dtype's smallest normal number): results in the subnormal range (sigmoid(-100)
  in float) carry fewer significant bits, so they are compared in absolute terms.
* float32 only, flush to zero (:func:`_ftz_slack`): CuPy compiles every kernel with
  ``-ftz=true``, so a float intermediate below ``tiny`` becomes 0 and the result loses
  ``tiny`` times the factors applied after it: 1.13 for erf' (erf'(9.35) = 1.28e-38 comes out
  as 0), 4 for tanh', ``|x|`` for GELU' and Swish, ``lam * alpha * beta`` (< 4 here) for the
  SELU family, times the affine ``scale``. ``16 * tiny * (1 + |x|) * max(1, |scale|)``
  (< 2e-33 for |x| <= 1e4) bounds all of these; it matters only for results near ``tiny``.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from meanfield import Activation, get_activation, list_activations
from meanfield.expressions import X
from meanfield.gpu import codegen, kernels, plans
from meanfield.gpu.kernels import kernel_plan
from meanfield.tolerances import rtol_for

SSELU = {"lam": 1.0360, "alpha": 1.7, "beta": 0.8}
LSELU = {"lam": 1.0362, "alpha": 1.6, "beta": -0.3}
DSELU = {"lam": 1.06, "alpha": 1.6}


def _builtin_cases():
    """(id, activation) for every built-in, with parameters, plus affine versions."""
    params = {"dselu": DSELU, "sselu": SSELU, "lselu": LSELU}
    acts = [(name, get_activation(name, **params.get(name, {}))) for name in list_activations()]
    acts.append(("lrelu-0.2", get_activation("lrelu", slope=0.2)))
    acts.append(("elu-0.5", get_activation("elu", alpha=0.5)))
    acts.append(("relu-gpn", get_activation("relu").gpn()))
    acts.append(("tanh-gpn", get_activation("tanh").gpn()))
    acts.append(("sselu-affine", get_activation("sselu", **SSELU).affine(1.3, -0.4)))
    acts.append(("lselu-affine-affine",
                 get_activation("lselu", **LSELU).affine(0.7, 0.2).affine(1.5, -0.1)))
    return acts


BUILTIN_CASES = _builtin_cases()
LAMBDA_CASES = [(i, a) for i, a in BUILTIN_CASES if kernel_plan(a).has_lambda]

# Inputs: moderate values, kinks, tiny values, and tails where a careless formula overflows
# (e^x for large x in an unused branch) or cancels (1 - tanh^2, s * (1 - s)).
_SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0,
                     -0.75, 5.0, -5.0, 10.0, -10.0, 20.0, -20.0, 30.0, -30.0, 50.0, -50.0,
                     80.0, -80.0, 100.0, -100.0, 700.0, -700.0, 1e4, -1e4, 1e30, -1e30])


def _inputs(dtype, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 3.0, n), rng.uniform(-12, 12, n), _SPECIAL])
    return x.astype(dtype)


def _reference(act, x):
    """float64 reference f, f', and a numerical f'' (only used to scale tolerances)."""
    x64 = np.asarray(x, dtype=np.float64)
    f = act.f(x64)
    d = act.df(x64)
    h = 1e-6 * np.maximum(1.0, np.abs(x64))
    d2 = (act.df(x64 + h) - act.df(x64 - h)) / (2 * h)
    return f, d, np.where(np.isfinite(d2), d2, 0.0)


#: Factor of the flush-to-zero slack of float32 results (see the module docstring).
FTZ_FACTOR = 16.0


def _ftz_slack(dtype, x, scale=1.0):
    """Absolute error a float32 result may carry from -ftz=true (0 for float64)."""
    if np.dtype(dtype) != np.float32:
        return 0.0
    x = np.nan_to_num(np.abs(np.asarray(x, dtype=np.float64)), posinf=0.0)
    return FTZ_FACTOR * np.finfo(np.float32).tiny * (1.0 + x) * max(1.0, abs(scale))


def _tolerance(dtype, x, ref, dref, shift=0.0, scale=1.0):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.abs(ref) + np.nan_to_num(np.abs(x * dref), posinf=0.0) + abs(shift)
    return rtol_for(dtype) * size + np.finfo(dtype).tiny + _ftz_slack(dtype, x, scale)


def _assert_close(got, ref, tol, what):
    got = np.asarray(got, dtype=np.float64)
    finite = np.isfinite(ref)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: NaN pattern differs"
    assert np.array_equal(got[~finite & ~np.isnan(ref)], ref[~finite & ~np.isnan(ref)]), \
        f"{what}: infinities differ"
    err = np.abs(got[finite] - ref[finite])
    bad = err > tol[finite]
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise AssertionError(f"{what}: {bad.sum()} values off, e.g. got {got[finite][i]!r}, "
                             f"want {ref[finite][i]!r} (tol {tol[finite][i]:.3g})")


# ------------------------------------------------------------------------------------------------
# no GPU needed: sources, nvcc, host-compiled formulas, kernel plans


def test_cuda_sources_found_via_importlib_resources():
    from importlib import resources

    for name in ("common.cu", "activations.cu"):
        path = resources.files("meanfield").joinpath("cuda", name)
        assert path.is_file(), name
        assert codegen.read_cuda_source(name) == path.read_text(encoding="utf-8")
    src = kernels.builtin_source()
    assert "mf_backward_param_loop" in src and "namespace mf" in src
    assert not re.search(r"#include\s*[<\"](curand|cub)", src)
    with pytest.raises(ValueError, match="name"):
        codegen.read_cuda_source("../activations.py")
    with pytest.raises(ValueError, match="name"):
        codegen.read_cuda_source("missing.cu")


def test_block_size_matches_cuda_source():
    assert f"#define MF_BLOCK {kernels.BLOCK_SIZE}" in codegen.read_cuda_source("common.cu")
    assert kernels.BLOCK_SIZE % 32 == 0


def _nvrtc_or_skip():
    from meanfield.gpu import _compile

    reason = _compile.nvrtc_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return _compile


def _ptx_entries(ptx):
    """Map each .entry (kernel name) of a PTX text to its body."""
    parts = re.split(r"(?m)^\.(?:visible|weak) \.entry ", ptx)[1:]
    return {p.split("(")[0]: p for p in parts}


def _check_builtin_ptx(op, ptx):
    entries = _ptx_entries(ptx)
    kinds = list(codegen._KERNEL_KINDS) + (["backward_lambda"] if op in plans._LAMBDA_OPS else [])
    want = {kernels.builtin_entry_name(k, op, d) for k in kinds for d in ("float32", "float64")}
    assert set(entries) == want
    for name, body in entries.items():
        assert ".maxntid 256, 1, 1" in body, f"{name} lacks __launch_bounds__(MF_BLOCK)"
        assert ".local" not in body, f"{name} uses local memory"
        # 16-byte packs, mf_unroll<T> of them per input and iteration (4 float, 2 double): the
        # unrolled body issues that many vector loads per input it reads (a constant
        # derivative, Linear's, reads none; Linear's backward reads g alone)
        vec, unroll = ("v4.f32", 4) if name.endswith("_f32") else ("v2.f64", 2)
        loads = body.count(f"ld.global.{vec}")
        assert loads % unroll == 0 and f"st.global.{vec}" in body, f"{name}: {loads} loads"
        if "_derivative_" not in name or "forward" in name:
            assert loads >= unroll, f"{name} reads no 16-byte packs"
        # float kernels compute in float; only the dL/dlam accumulator is double
        if name.endswith("_f32") and "backward_lambda" not in name:
            assert not re.search(r"\.f64\b", body), f"{name} uses double precision"
        if "backward_lambda" in name:
            # one double atomic add per block (red when its result is unused), warp shuffles
            assert re.search(r"(atom|red)\.global\.add\.f64", body), name
            assert "shfl.sync.down" in body, name


def test_cupy_compile_options_are_cupys():
    compile_ = _nvrtc_or_skip()
    options = compile_.cupy_nvrtc_options("90")
    assert options[-3:] == ("-ftz=true", "-arch=sm_90", "--device-as-default-execution-space")
    assert any(o.startswith("-I") for o in options)


@pytest.mark.parametrize("op", ["mf::LRelu"])
def test_builtin_module_compiles_with_cupy_nvrtc(op):
    _check_builtin_ptx(op, _nvrtc_or_skip().compile_ptx(kernels.builtin_module_source(op)))


@pytest.mark.slow
@pytest.mark.parametrize("op", sorted(plans._ops() - {"mf::LRelu"}))
def test_every_builtin_module_compiles_with_cupy_nvrtc(op):
    # ~2-7 s each on 2 loaded cores (13 modules, 106 kernels in all)
    _check_builtin_ptx(op, _nvrtc_or_skip().compile_ptx(kernels.builtin_module_source(op)))


def test_random_module_compiles_with_cupy_nvrtc():
    from meanfield.gpu.random import random_source

    ptx = _nvrtc_or_skip().compile_ptx(random_source())
    entries = _ptx_entries(ptx)
    assert set(entries) == {"mf_philox_normal_f64"}
    body = entries["mf_philox_normal_f64"]
    assert "mul.hi.u32" in body or "mul.wide.u32" in body  # Philox's 32x32 -> 64 products
    assert ".local" not in body


_HOST_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
// Flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6): the CPU's float arithmetic then
// treats subnormals as CuPy's -ftz=true makes the GPU treat them.
static void set_ftz() { _mm_setcsr(_mm_getcsr() | 0x8040u); }
#else
static void set_ftz() {}
#endif

template <template <typename> class Op, typename T>
static void run(const double* x, long n, const double* p, double* out) {
    Op<T> op((T)p[0], (T)p[1], (T)p[2]);
    const T scale = (T)p[3], shift = (T)p[4];
    for (long i = 0; i < n; ++i) {
        const T xi = (T)x[i];
        out[i] = (double)(scale * op.f(xi) + shift);
        out[n + i] = (double)(scale * op.df(xi));
        out[2 * n + i] = 0.0;
    }
}

template <template <typename> class Op, typename T>
static void run_unit(const double* x, long n, const double* p, double* out) {
    run<Op, T>(x, n, p, out);
    Op<T> op((T)p[0], (T)p[1], (T)p[2]);
    for (long i = 0; i < n; ++i) out[2 * n + i] = (double)op.unit((T)x[i]);
}

// double first, then float (under flush-to-zero when ftz)
template <template <typename> class Op, bool Unit>
static void both(const double* x, long n, const double* p, double* out, bool ftz) {
    if constexpr (Unit) {
        run_unit<Op, double>(x, n, p, out);
        if (ftz) set_ftz();
        run_unit<Op, float>(x, n, p, out + 3 * n);
    } else {
        run<Op, double>(x, n, p, out);
        if (ftz) set_ftz();
        run<Op, float>(x, n, p, out + 3 * n);
    }
}

static double kahan_float(const double* x, long n, double* naive) {
    float s = 0.0f, c = 0.0f, plain = 0.0f;
    for (long i = 0; i < n; ++i) { mf_kahan_add(s, c, (float)x[i]); plain += (float)x[i]; }
    *naive = plain;
    return (double)s - (double)c;
}

int main(int argc, char** argv) {
    // usage: harness OP IN OUT N p0 p1 p2 scale shift FTZ
    const char* op = argv[1];
    const bool ftz = argc > 10 && !strcmp(argv[10], "ftz");
    long n = atol(argv[4]);
    double p[5];
    for (int i = 0; i < 5; ++i) p[i] = strtod(argv[5 + i], NULL);
    double* x = (double*)malloc(sizeof(double) * (n ? n : 1));
    double* out = (double*)calloc(6 * (n ? n : 1), sizeof(double));
    FILE* fi = fopen(argv[2], "rb");
    if (fread(x, sizeof(double), n, fi) != (size_t)n) return 3;
    fclose(fi);
    if (!strcmp(op, "kahan")) { out[0] = kahan_float(x, n, out + 1); }
%(dispatch)s
    else return 2;
    FILE* fo = fopen(argv[3], "wb");
    fwrite(out, sizeof(double), 6 * n, fo);
    fclose(fo);
    return 0;
}
"""


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory):
    """The built-in Ops of activations.cu compiled for the host (double and float)."""
    gxx = shutil.which("g++") or shutil.which("c++")
    if not gxx:
        pytest.skip("no host C++ compiler")
    ops = sorted({kernel_plan(a).op for _, a in BUILTIN_CASES})
    dispatch = "\n".join(
        f'    else if (!strcmp(op, "{op}")) both<{op}, '
        f'{"true" if op in ("mf::Selu", "mf::SSelu", "mf::LSelu") else "false"}>(x, n, p, out, ftz);'
        for op in ops)
    d = tmp_path_factory.mktemp("host")
    src = d / "harness.cpp"
    src.write_text(kernels.builtin_source() + _HOST_MAIN % {"dispatch": dispatch})
    exe = d / "harness"
    proc = subprocess.run([gxx, "-O2", "-std=c++17", str(src), "-o", str(exe), "-lm"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    def run(op, x, params=(0.0, 0.0, 0.0), scale=1.0, shift=0.0, ftz=False):
        x = np.ascontiguousarray(x, dtype=np.float64)
        fin, fout = d / "in.bin", d / "out.bin"
        x.tofile(fin)
        args = [str(exe), op, str(fin), str(fout), str(x.size),
                *[repr(float(v)) for v in (*params, scale, shift)], "ftz" if ftz else "-"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return np.fromfile(fout, dtype=np.float64).reshape(6, x.size)

    return run


@pytest.mark.parametrize(("case", "act"), BUILTIN_CASES, ids=[c for c, _ in BUILTIN_CASES])
@pytest.mark.parametrize(("dtype", "ftz"), [(np.float64, False), (np.float32, False),
                                            (np.float32, True)],
                         ids=["float64", "float32", "float32-ftz"])
def test_host_compiled_formulas_match_numpy(host_harness, case, act, dtype, ftz):
    plan = kernel_plan(act)
    assert plan.kind == "builtin"
    x = _inputs(dtype).astype(np.float64)  # exactly representable in dtype
    out = host_harness(plan.op, x, plan.params, plan.scale, plan.shift, ftz=ftz)
    rows = out[:3] if dtype == np.float64 else out[3:]
    f, d, d2 = _reference(act, x)
    _assert_close(rows[0], f, _tolerance(dtype, x, f, d, plan.shift, plan.scale),
                  f"{case} f {dtype}")
    _assert_close(rows[1], d, _tolerance(dtype, x, d, d2, scale=plan.scale), f"{case} df {dtype}")
    if plan.has_lambda:
        # unit = f / lam of the base activation, i.e. (f - shift) / (scale * lam)
        lam = plan.params[0]
        want = (f - plan.shift) / (plan.scale * lam)
        tol = _tolerance(dtype, x, want, d / (plan.scale * lam), plan.shift / (plan.scale * lam))
        _assert_close(rows[2], want, tol, f"{case} unit {dtype}")


def test_ftz_slack_is_needed_and_small(host_harness):
    """Under flush-to-zero, erf'(9.35) = 1.28e-38 comes out as 0 (issue 17's example).

    The plain tolerance (rtol * |f'| + tiny) rejects that; the FTZ slack accepts it, and is
    still far below any normal float32 result of size >= 1e-35.
    """
    x = np.array([9.35], dtype=np.float32).astype(np.float64)
    act = get_activation("erf")
    out = host_harness("mf::Erf", x, ftz=True)
    got, want = out[4, 0], float(act.df(x)[0])
    assert got == 0.0 and 1.2e-38 < want < 1.3e-38
    plain = rtol_for(np.float32) * want + np.finfo(np.float32).tiny
    assert abs(got - want) > plain
    assert abs(got - want) <= _tolerance(np.float32, x, np.array([want]), np.zeros(1))[0]
    assert _ftz_slack(np.float32, 1e4) < 2e-33 and _ftz_slack(np.float64, 9.35) == 0


def test_host_kahan_step_compensates(host_harness):
    # 2^22 terms of the constant 0.1f summed in float: a plain running sum stalls once the
    # spacing of the sum outgrows 0.1 (relative error ~1e-1 here); Kahan's bound is
    # 2 eps sum|x| + O(n eps^2) sum|x| (Higham 2002, eq. 4.8), here ~2.4e-7 relative. A
    # uniform(0, 1) input would not separate them as clearly (its plain sum errs by ~1e-5).
    x = np.full(2**22, np.float32(0.1), dtype=np.float64)
    out = host_harness("kahan", x)
    exact = float(np.sum(x))  # 2^22 * float32(0.1), exact in float64
    kahan, naive = out[0, 0], out[0, 1]
    eps = float(np.finfo(np.float32).eps)
    assert abs(kahan - exact) <= 2 * eps * exact
    assert abs(naive - exact) > 1e4 * 2 * eps * exact


def test_kernel_plan_builtins_and_affine_versions():
    plan = kernel_plan("relu")
    assert (plan.kind, plan.family, plan.op, plan.scale, plan.shift) == \
        ("builtin", "relu", "mf::Relu", 1.0, 0.0)
    plan = kernel_plan(get_activation("sselu", **SSELU))
    assert plan.op == "mf::SSelu" and plan.params == (1.0360, 1.7, 0.8) and plan.has_lambda
    plan = kernel_plan(get_activation("lrelu", slope=0.2))
    assert plan.params == (0.2, 0.0, 0.0) and not plan.has_lambda
    assert kernel_plan(get_activation("dselu", **DSELU)).op == "mf::Selu"
    # GPN and normalized versions are affine wrappers of the built-in kernels
    for name in ("nrelu", "nswish"):
        act = get_activation(name)
        plan = kernel_plan(act)
        assert plan.kind == "builtin" and plan.family == name[1:]
        assert plan.scale == act.params["scale"] and plan.shift == act.params["shift"]
    act = get_activation("relu").gpn().gpn()  # nested: scale2 * (scale * relu + shift) + shift2
    plan = kernel_plan(act)
    p = act.params
    assert plan.op == "mf::Relu"
    assert plan.scale == pytest.approx(p["scale2"] * p["scale"], rel=1e-15)
    assert plan.shift == pytest.approx(p["scale2"] * p["shift"] + p["shift2"], rel=1e-15, abs=1e-15)
    aff = get_activation("lselu", **LSELU).affine(2.0, 0.5)
    plan = kernel_plan(aff)
    assert (plan.op, plan.scale, plan.shift, plan.has_lambda) == ("mf::LSelu", 2.0, 0.5, True)


def test_kernel_plan_recognizes_builtin_shapes_and_falls_back_to_codegen():
    # a user expression with the structure of a built-in gets the hand-written kernel
    act = Activation.from_expression("a*tanh(x) + b", params={"a": 2.0, "b": -1.0})
    plan = kernel_plan(act)
    assert (plan.kind, plan.op, plan.scale, plan.shift) == ("builtin", "mf::Tanh", 2.0, -1.0)
    act = Activation.from_expression("x*tanh(x)")
    plan = kernel_plan(act)
    assert plan.kind == "codegen" and plan.op is None and not plan.has_lambda
    assert "mfu_op" in plan.source.source
    assert kernel_plan(act).source is plan.source  # generated once per template
    act = Activation.from_expression("Piecewise((x, x > 0), (a*x, True))", params={"a": 0.3})
    plan = kernel_plan(act)  # lrelu's shape but another parameter name: codegen
    assert plan.kind == "codegen" and plan.params == (0.3,)


def test_kernel_plan_rejects_activation_without_template():
    act = Activation.from_callables(np.tanh, lambda x: 1 - np.tanh(x) ** 2, name="mytanh")
    with pytest.raises(ValueError, match="no SymPy template"):
        kernel_plan(act)
    with pytest.raises(ValueError, match="act"):
        kernel_plan(3.0)


def test_kernel_plan_is_cached_per_template_and_parameters(monkeypatch):
    calls = []
    match = plans._match_builtin

    def counting(template, params):
        calls.append(template)
        return match(template, params)

    monkeypatch.setattr(plans, "_match_builtin", counting)
    plans._cached_plan.cache_clear()
    for build in (lambda: get_activation("lselu", lam=1.0371, alpha=1.55, beta=0.2),
                  lambda: Activation.from_expression("x*tanh(a*x)", params={"a": 0.7})):
        first = kernel_plan(build())
        n = len(calls)
        assert n >= 1
        assert kernel_plan(build()) is first  # an equal activation: the same plan, not re-derived
        assert len(calls) == n
    # other parameter values give another plan (same generated module for codegen)
    other = kernel_plan(Activation.from_expression("x*tanh(a*x)", params={"a": 0.9}))
    assert other.params == (0.9,) and other.source is first.source and len(calls) > n
    # parameter order is the kernel-argument order, so it is part of the key
    text = "x*tanh(a*x) + b"
    ab = kernel_plan(Activation.from_expression(text, params={"a": 0.7, "b": 0.1}))
    ba = kernel_plan(Activation.from_expression(text, params={"b": 0.1, "a": 0.7}))
    assert ab.kind == ba.kind == "codegen"
    assert (ab.params, ab.source.param_names) == ((0.7, 0.1), ("a", "b"))
    assert (ba.params, ba.source.param_names) == ((0.1, 0.7), ("b", "a"))
    # an activation without a template still raises on every call
    act = Activation.from_callables(np.tanh, lambda x: 1 - np.tanh(x) ** 2, name="mytanh")
    for _ in range(2):
        with pytest.raises(ValueError, match="no SymPy template"):
            kernel_plan(act)


def test_builtin_modules_have_fixed_entry_names():
    assert kernels.builtin_source() is kernels.builtin_source()
    src = kernels.builtin_module_source("mf::SSelu")
    assert src is kernels.builtin_module_source("mf::SSelu")  # one text per Op: one cache entry
    assert src.startswith(kernels.builtin_source())
    assert src.endswith("MF_ENTRY_POINTS(SSelu)\nMF_LAMBDA_ENTRY_POINTS(SSelu)\n")
    assert "LAMBDA" not in kernels.builtin_module_source("mf::Tanh").split("#endif")[-1]
    assert kernels.builtin_entry_name("backward_lambda", "mf::SSelu", "float32") == \
        "mf_backward_lambda_SSelu_f32"
    with pytest.raises(ValueError, match="op must be one of"):
        kernels.builtin_module_source("mf::Nope")


def test_modules_are_built_without_name_expressions(monkeypatch):
    """RawModule gets the code alone (CuPy 13 skips its disk cache with name_expressions).

    A stand-in for CuPy records what the kernel lookup asks of it; no GPU is involved.
    """
    calls = []

    class FakeModule:
        def __init__(self, **kwargs):
            calls.append(("RawModule", kwargs))

        def get_function(self, name):
            calls.append(("get_function", name))
            return name

    class FakeDevice:
        def __init__(self, device_id):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    fake = type("FakeCupy", (), {"RawModule": FakeModule,
                                 "cuda": type("cuda", (), {"Device": FakeDevice})})
    monkeypatch.setattr(kernels, "_cupy", lambda: fake)
    monkeypatch.setattr(kernels, "_modules", {})
    monkeypatch.setattr(kernels, "_functions", {})
    plan = kernel_plan(get_activation("sselu", **SSELU))
    assert kernels._function(7, plan, "backward_lambda", np.float32) == \
        "mf_backward_lambda_SSelu_f32"
    assert kernels._function(7, plan, "forward", np.float64) == "mf_forward_SSelu_f64"
    gen = kernel_plan(Activation.from_expression("x*tanh(x)"))
    assert kernels._function(7, gen, "backward", np.float32) == "mfu_backward_f32"
    modules = [kw for what, kw in calls if what == "RawModule"]
    # one module per Op (both dtypes, all kinds) and one per generated template
    assert modules == [{"code": kernels.builtin_module_source("mf::SSelu")},
                       {"code": gen.source.source}]


def test_blocks_upper_bound_is_a_valueerror():
    assert kernels._reduction_grid(10, 0, kernels.MAX_BLOCKS) == 2**31 - 1
    with pytest.raises(ValueError, match=r"blocks must be an integer in \[1, 2147483647\]"):
        kernels._reduction_grid(10, 0, 2**31)
    with pytest.raises(ValueError, match="blocks"):
        kernels._reduction_grid(10, 0, 0)


def test_import_does_not_import_cupy():
    code = "import sys, meanfield.gpu; assert 'cupy' not in sys.modules, 'cupy imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_without_cupy_kernels_raise_importerror():
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("CuPy is installed")
    with pytest.raises(ImportError, match="CuPy"):
        kernels.activation_forward("relu", np.zeros(3))
    assert kernels.is_available() is False


# ------------------------------------------------------------------------------------------------
# on a GPU


def _cupy_or_skip():
    """CuPy, or a skip naming what is missing (no CuPy, no NVRTC, no driver or device).

    Only :class:`BackendUnavailableError` (raised by the same check as the backend's) skips:
    any other CUDA error is a failure, not a skip.
    """
    from meanfield._cupy_import import BackendUnavailableError, _import_cupy

    try:
        return _import_cupy(libraries=("nvrtc",))
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cp():
    return _cupy_or_skip()


POISON = 12345.0  # written into outputs before a kernel runs: must be gone afterwards


def _poisoned(cp, shape, dtype):
    out = cp.empty(shape, dtype=dtype)
    out.fill(POISON)
    return out


@pytest.mark.gpu
@pytest.mark.parametrize(("case", "act"), BUILTIN_CASES, ids=[c for c, _ in BUILTIN_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_builtin_kernels_match_numpy(cp, case, act, dtype):
    x_h = _inputs(dtype)
    f, d, d2 = _reference(act, x_h)
    g_h = np.random.default_rng(2).normal(size=x_h.size).astype(dtype)
    x = cp.asarray(x_h)
    shift = kernel_plan(act).shift
    y = kernels.activation_forward(act, x, out=_poisoned(cp, x.shape, dtype))
    _assert_close(cp.asnumpy(y), f, _tolerance(dtype, x_h, f, d, shift), f"{case} forward")
    y = kernels.activation_derivative(act, x, out=_poisoned(cp, x.shape, dtype))
    _assert_close(cp.asnumpy(y), d, _tolerance(dtype, x_h, d, d2), f"{case} derivative")
    y, dy = kernels.activation_forward_derivative(act, x, out=_poisoned(cp, x.shape, dtype),
                                                  dout=_poisoned(cp, x.shape, dtype))
    _assert_close(cp.asnumpy(y), f, _tolerance(dtype, x_h, f, d, shift), f"{case} fused f")
    _assert_close(cp.asnumpy(dy), d, _tolerance(dtype, x_h, d, d2), f"{case} fused df")
    gx = kernels.activation_backward(act, x, cp.asarray(g_h), out=_poisoned(cp, x.shape, dtype))
    g64 = g_h.astype(np.float64)
    with np.errstate(invalid="ignore"):
        want = g64 * d
    tol = np.abs(g64) * _tolerance(dtype, x_h, d, d2) + np.finfo(dtype).tiny
    _assert_close(cp.asnumpy(gx), want, tol + rtol_for(dtype) * np.abs(want), f"{case} backward")


@pytest.mark.gpu
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 1023, 4097, 3_000_001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_sizes_tails_and_alignment(cp, n, dtype):
    act = get_activation("sselu", **SSELU)
    rng = np.random.default_rng(n)
    base = cp.asarray(rng.normal(0, 2, n + 1).astype(dtype))
    for x in (base[:n], base[1:]):  # 16-byte aligned, and misaligned by one element
        x_h = cp.asnumpy(x)
        f, d, _ = _reference(act, x_h)
        y = kernels.activation_forward(act, x)
        assert y.shape == x.shape and y.dtype == x.dtype
        _assert_close(cp.asnumpy(y), f, _tolerance(dtype, x_h, f, d), f"forward n={n}")
        buf = _poisoned(cp, (n + 1,), dtype)
        out = buf[1:]  # misaligned output
        kernels.activation_derivative(act, x, out=out)
        assert float(buf[0]) == POISON  # nothing written outside out
        assert not bool(cp.any(out == POISON))


@pytest.mark.gpu
def test_gpu_in_place_and_multidimensional(cp):
    act = get_activation("lselu", **LSELU)
    x_h = np.random.default_rng(3).normal(size=(7, 5, 33)).astype(np.float32)
    f, d, _ = _reference(act, x_h)
    x = cp.asarray(x_h)
    y = kernels.activation_forward(act, x, out=x)
    assert y is x
    _assert_close(cp.asnumpy(x).ravel(), f.ravel(), _tolerance(np.float32, x_h, f, d).ravel(),
                  "in place")
    g = cp.ones_like(x)
    x = cp.asarray(x_h)
    gx = kernels.activation_backward(act, x, g, out=g)
    assert gx is g
    # Fortran order (a transposed product, as in the simulator) runs over the same memory
    xt = cp.asarray(x_h).T
    assert xt.flags.f_contiguous and not xt.flags.c_contiguous
    yt = kernels.activation_forward(act, xt)
    assert yt.flags.f_contiguous
    _assert_close(cp.asnumpy(yt).T.ravel(), f.ravel(),
                  _tolerance(np.float32, x_h, f, d).ravel(), "Fortran order")


@pytest.mark.gpu
@pytest.mark.parametrize(("case", "act"), LAMBDA_CASES, ids=[c for c, _ in LAMBDA_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 1000, 1_000_003])
def test_gpu_backward_lambda_matches_float64(cp, case, act, dtype, n):
    plan = kernel_plan(act)
    rng = np.random.default_rng(n)
    x_h = rng.normal(0, 2, n).astype(dtype)
    g_h = rng.normal(0, 1, n).astype(dtype)
    f, d, d2 = _reference(act, x_h)
    x, g = cp.asarray(x_h), cp.asarray(g_h)
    gx, glam = kernels.activation_backward_lambda(act, x, g, out=_poisoned(cp, x.shape, dtype))
    assert glam.dtype == np.float64 and glam.shape == ()
    g64 = g_h.astype(np.float64)
    tol = np.abs(g64) * _tolerance(dtype, x_h, d, d2) + rtol_for(dtype) * np.abs(g64 * d)
    _assert_close(cp.asnumpy(gx), g64 * d, tol, f"{case} grad_x")
    terms = g64 * (f - plan.shift) / plan.params[0]  # g * s * f_base / lam
    want = float(np.sum(terms))
    # each term carries the dtype's rounding; Kahan keeps the summation error at that level
    bound = rtol_for(dtype) * float(np.sum(np.abs(terms) + np.abs(g64 * x_h * d)))
    assert abs(float(glam) - want) <= bound + 1e-300


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_backward_lambda_single_block_is_compensated(cp, dtype):
    # One block of 256 threads over 2^22 copies of 0.1: each thread sums 16384 equal terms.
    # A plain running sum of those errs by 1.5e-4 (float) / 2.4e-13 (double) relative, over
    # the bound rtol_for(dtype) (2e-6 / 1e-14), as the control below shows; the Kahan partial
    # sums stay within it. (uniform(0, 1) terms would not catch a plain sum in float.)
    act = get_activation("sselu", lam=1.0, alpha=1.0, beta=1.0)
    n, threads = 2**22, kernels.BLOCK_SIZE
    x_h = np.full(n, 0.1, dtype=dtype)
    exact = n * float(x_h[0])  # exact in float64
    per_thread = n // threads
    plain = threads * float(np.cumsum(np.full(per_thread, x_h[0], dtype=dtype))[-1])
    assert abs(plain - exact) > rtol_for(dtype) * exact  # the test can fail
    x = cp.asarray(x_h)
    _, glam = kernels.activation_backward_lambda(act, x, cp.ones_like(x), blocks=1)
    assert abs(float(glam) - exact) <= rtol_for(dtype) * exact


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("text", "params"), [
    ("x*tanh(x)", {}),
    ("Piecewise((x, x > 0), (a*x, True))", {"a": 0.3}),
    ("x*erf(x/s)", {"s": 1.5}),
    ("Max(x, 0)**2 + b*sin(x)", {"b": 0.25}),
])
def test_gpu_codegen_kernels_match_numpy(cp, dtype, text, params):
    act = Activation.from_expression(text, params=params)
    assert kernel_plan(act).kind == "codegen"
    x_h = np.concatenate([np.random.default_rng(5).uniform(-6, 6, 5001), [0.0, 1.0, -1.0]])
    x_h = x_h.astype(dtype)
    f, d, d2 = _reference(act, x_h)
    x = cp.asarray(x_h)
    y = kernels.activation_forward(act, x, out=_poisoned(cp, x.shape, dtype))
    _assert_close(cp.asnumpy(y), f, 4 * _tolerance(dtype, x_h, f, d), f"{text} forward")
    y = kernels.activation_derivative(act, x, out=_poisoned(cp, x.shape, dtype))
    _assert_close(cp.asnumpy(y), d, 4 * _tolerance(dtype, x_h, d, d2), f"{text} derivative")
    y, dy = kernels.activation_forward_derivative(act, x)
    _assert_close(cp.asnumpy(y), f, 4 * _tolerance(dtype, x_h, f, d), f"{text} fused f")
    _assert_close(cp.asnumpy(dy), d, 4 * _tolerance(dtype, x_h, d, d2), f"{text} fused df")
    g = cp.full(x.shape, 2.0, dtype=dtype)
    gx = kernels.activation_backward(act, x, g)
    _assert_close(cp.asnumpy(gx), 2 * d, 8 * _tolerance(dtype, x_h, d, d2), f"{text} backward")


@pytest.mark.gpu
def test_gpu_input_validation(cp):
    x = cp.zeros(8, dtype=cp.float32)
    with pytest.raises(ValueError, match="x must have dtype float32 or float64"):
        kernels.activation_forward("relu", cp.zeros(8, dtype=cp.int32))
    with pytest.raises(ValueError, match="x must be contiguous"):
        kernels.activation_forward("relu", cp.zeros(16, dtype=cp.float32)[::2])
    xf = cp.zeros((4, 6), dtype=cp.float32, order="F")
    with pytest.raises(ValueError, match="out must have x's memory layout"):
        kernels.activation_forward("relu", xf, out=cp.zeros((4, 6), dtype=cp.float32))
    with pytest.raises(ValueError, match="x must be a cupy.ndarray"):
        kernels.activation_forward("relu", np.zeros(8, dtype=np.float32))
    with pytest.raises(ValueError, match="out must have"):
        kernels.activation_forward("relu", x, out=cp.zeros(8, dtype=cp.float64))
    with pytest.raises(ValueError, match="grad_y must have"):
        kernels.activation_backward("relu", x, cp.zeros(7, dtype=cp.float32))
    buf = cp.zeros(9, dtype=cp.float32)
    with pytest.raises(ValueError, match="partially overlaps"):
        kernels.activation_forward("relu", buf[:8], out=buf[1:])
    with pytest.raises(ValueError, match="out and dout overlap"):
        kernels.activation_forward_derivative("relu", x, out=buf[:8], dout=buf[1:])
    with pytest.raises(ValueError, match="SELU family"):
        kernels.activation_backward_lambda("tanh", x, x)
    with pytest.raises(ValueError, match="blocks"):
        kernels.activation_backward_lambda(get_activation("sselu", **SSELU), x, x, blocks=0)
    act = Activation.from_callables(np.tanh, lambda t: 1 - np.tanh(t) ** 2)
    with pytest.raises(ValueError, match="no SymPy template"):
        kernels.activation_forward(act, x)
    assert kernels.is_available()


@pytest.mark.gpu
def test_gpu_empty_input(cp):
    act = get_activation("sselu", **SSELU)
    x = cp.zeros((0, 3), dtype=cp.float32)
    assert kernels.activation_forward(act, x).shape == (0, 3)
    gx, glam = kernels.activation_backward_lambda(act, x, x)
    assert gx.shape == (0, 3) and float(glam) == 0.0



@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_misaligned_backward_fused_and_lambda(cp, dtype):
    # every pointer one element past a 16-byte boundary: the scalar path runs all of it
    act = get_activation("lselu", **LSELU)
    n = 10_007
    rng = np.random.default_rng(6)
    xb = cp.asarray(rng.normal(0, 2, n + 1).astype(dtype))
    gb = cp.asarray(rng.normal(0, 1, n + 1).astype(dtype))
    x, g = xb[1:], gb[1:]
    assert x.data.ptr % 16 and g.data.ptr % 16
    x_h, g64 = cp.asnumpy(x), cp.asnumpy(g).astype(np.float64)
    f, d, d2 = _reference(act, x_h)
    tol_d = np.abs(g64) * _tolerance(dtype, x_h, d, d2) + rtol_for(dtype) * np.abs(g64 * d)
    buf = _poisoned(cp, (n + 1,), dtype)
    gx = kernels.activation_backward(act, x, g, out=buf[1:])
    assert float(buf[0]) == POISON
    _assert_close(cp.asnumpy(gx), g64 * d, tol_d, "misaligned backward")
    ybuf, dbuf = _poisoned(cp, (n + 1,), dtype), _poisoned(cp, (n + 1,), dtype)
    y, dy = kernels.activation_forward_derivative(act, x, out=ybuf[1:], dout=dbuf[1:])
    _assert_close(cp.asnumpy(y), f, _tolerance(dtype, x_h, f, d), "misaligned fused f")
    _assert_close(cp.asnumpy(dy), d, _tolerance(dtype, x_h, d, d2), "misaligned fused df")
    assert float(ybuf[0]) == POISON and float(dbuf[0]) == POISON
    gx, glam = kernels.activation_backward_lambda(act, x, g, out=_poisoned(cp, (n,), dtype))
    _assert_close(cp.asnumpy(gx), g64 * d, tol_d, "misaligned backward_lambda")
    terms = g64 * f / LSELU["lam"]
    bound = rtol_for(dtype) * float(np.sum(np.abs(terms) + np.abs(g64 * x_h * d)))
    assert abs(float(glam) - float(np.sum(terms))) <= bound


@pytest.mark.gpu
def test_gpu_lambda_out_is_reused_and_zeroed(cp):
    act = get_activation("sselu", **SSELU)
    x = cp.asarray(np.random.default_rng(7).normal(size=4099).astype(np.float32))
    g = cp.ones_like(x)
    acc = cp.full((), 1e30, dtype=cp.float64)  # garbage from before: must be zeroed
    _, first = kernels.activation_backward_lambda(act, x, g, lambda_out=acc)
    assert first is acc
    value = float(acc)
    _, again = kernels.activation_backward_lambda(act, x, g, lambda_out=acc)
    assert again is acc and float(acc) == pytest.approx(value, rel=1e-12)
    _, fresh = kernels.activation_backward_lambda(act, x, g)
    assert float(fresh) == pytest.approx(value, rel=1e-12)
    with pytest.raises(ValueError, match="lambda_out must be a 0-d float64"):
        kernels.activation_backward_lambda(act, x, g, lambda_out=cp.zeros(1))
    with pytest.raises(ValueError, match="blocks must be an integer in"):
        kernels.activation_backward_lambda(act, x, g, blocks=2**31)


GENERATED_AGREEMENT = [
    ("x*Heaviside(x)", Activation.from_expression("x*Heaviside(x)")),
    ("Heaviside(x - 1) + x", Activation.from_expression("Heaviside(x - 1) + x")),
    ("erfc(x)", Activation.from_expression("erfc(x)")),
    ("sign(x)*x**2", Activation("sign", template=sp.sign(X) * X**2)),
    ("Abs(x)", Activation.from_expression("Abs(x)")),
    ("Piecewise without default",
     Activation.from_expression("Piecewise((x, x > 1), (2*x, x < -1))")),
    ("x**(1/3)", Activation.from_expression("x**(1/3)")),
]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("case", "act"), GENERATED_AGREEMENT,
                         ids=[c for c, _ in GENERATED_AGREEMENT])
def test_gpu_generated_kernels_agree_with_numpy_including_nan(cp, dtype, case, act):
    assert kernel_plan(act).kind == "codegen"
    special = [np.nan, -np.inf, -8.0, -1.0, -0.0, 0.0, 1.0, 8.0, np.inf]
    x_h = np.concatenate([np.random.default_rng(8).uniform(-4, 4, 4001), special]).astype(dtype)
    with np.errstate(all="ignore"):
        f, d = act.f(x_h.astype(np.float64)), act.df(x_h.astype(np.float64))
    x = cp.asarray(x_h)
    y, dy = kernels.activation_forward_derivative(act, x)
    # a handful of operations each: 4 * rtol on the value's own size, plus tiny and FTZ
    for got, want, what in ((y, f, "f"), (dy, d, "df")):
        tol = 4 * rtol_for(dtype) * np.nan_to_num(np.abs(want), posinf=0.0) \
            + np.finfo(dtype).tiny + _ftz_slack(dtype, x_h)
        _assert_close(cp.asnumpy(got), want, tol, f"{case} {what}")
    _assert_close(cp.asnumpy(kernels.activation_forward(act, x)), cp.asnumpy(y),
                  np.zeros(x_h.size), f"{case} forward == fused")


@pytest.mark.gpu
@pytest.mark.slow
def test_gpu_tensor_above_2_31_elements(cp):
    # 2^31 + 5 float32 elements (8.6 GB per array): 64-bit indices in every loop
    n = 2**31 + 5
    act = get_activation("relu")
    x = cp.empty(n, dtype=cp.float32)
    x[: n // 2] = -1.0
    x[n // 2:] = 2.0
    y = kernels.activation_forward(act, x, out=x)  # in place: one 8.6 GB array
    assert float(y[0]) == 0.0 and float(y[n // 2 - 1]) == 0.0
    assert float(y[n // 2]) == 2.0 and float(y[-1]) == 2.0 and float(y[2**31 + 1]) == 2.0
    assert int(cp.count_nonzero(y)) == n - n // 2
    del x, y
    xs = cp.full(n, 0.5, dtype=cp.float32)
    _, glam = kernels.activation_backward_lambda(get_activation("sselu", **SSELU), xs,
                                                 cp.ones_like(xs), out=xs)
    # sum of n copies of 0.5 * (scale 1) = n / 2, exactly representable; Kahan per thread
    assert abs(float(glam) - n / 2) <= rtol_for(np.float32) * n / 2


# ------------------------------------------------------------------------------------------------
# Philox: host-compiled known answers (no GPU), device draws


def _philox_py(counter, key):
    """Philox4x32-10 in plain Python (Salmon et al. 2011), independent of random.cu."""
    c, (k0, k1) = list(counter), key
    mask = 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & mask, p1 & mask, ((p0 >> 32) ^ c[3] ^ k1) & mask,
             p0 & mask]
        k0, k1 = (k0 + 0x9E3779B9) & mask, (k1 + 0xBB67AE85) & mask
    return c


def _normals_py(n, key, stream, first=0):
    """Box-Muller on _philox_py's words: the stream's values 2 first .. 2 first + n - 1."""
    out = []
    j = first
    while len(out) < n:
        w = _philox_py([j & 0xFFFFFFFF, j >> 32, stream & 0xFFFFFFFF, stream >> 32], key)
        u1 = (((w[0] >> 5) << 26 | (w[1] >> 6)) + 0.5) / 2**53
        u2 = (((w[2] >> 5) << 26 | (w[3] >> 6)) + 0.5) / 2**53
        r = math.sqrt(-2.0 * math.log(u1))
        out += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
        j += 1
    return np.array(out[:n])


_PHILOX_KAT = [  # Random123's kat_vectors: counter, key -> output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

_PHILOX_HOST = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
    // usage: philox c0 c1 c2 c3 k0 k1   |   philox normal N FIRST S_LO S_HI K0 K1
    if (argv[1][0] == 'n') {
        long n = atol(argv[2]);
        unsigned long long first = strtoull(argv[3], 0, 10);
        unsigned s_lo = strtoul(argv[4], 0, 10), s_hi = strtoul(argv[5], 0, 10);
        unsigned k0 = strtoul(argv[6], 0, 10), k1 = strtoul(argv[7], 0, 10);
        for (long j = 0; 2 * j < n; ++j) {
            double a, b;
            mf_normal_pair(first + j, s_lo, s_hi, k0, k1, a, b);
            printf("%.17g\n%.17g\n", a, b);
        }
        return 0;
    }
    mf_philox_block c = {{(unsigned)strtoul(argv[1], 0, 16), (unsigned)strtoul(argv[2], 0, 16),
                          (unsigned)strtoul(argv[3], 0, 16), (unsigned)strtoul(argv[4], 0, 16)}};
    mf_philox_block r = mf_philox4x32_10(c, (unsigned)strtoul(argv[5], 0, 16),
                                         (unsigned)strtoul(argv[6], 0, 16));
    printf("%08x %08x %08x %08x\n", r.v[0], r.v[1], r.v[2], r.v[3]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def philox_host(tmp_path_factory):
    gxx = shutil.which("g++") or shutil.which("c++")
    if not gxx:
        pytest.skip("no host C++ compiler")
    from meanfield.gpu.random import random_source

    d = tmp_path_factory.mktemp("philox")
    (d / "philox.cpp").write_text(random_source() + _PHILOX_HOST)
    proc = subprocess.run([gxx, "-O2", "-std=c++17", str(d / "philox.cpp"), "-o",
                           str(d / "philox"), "-lm"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    def run(*args):
        out = subprocess.run([str(d / "philox"), *map(str, args)], capture_output=True,
                             text=True, timeout=60, check=True)
        return out.stdout.split()

    return run


def test_philox_matches_known_answers_and_python(philox_host):
    for counter, key, want in _PHILOX_KAT:
        got = philox_host(*[f"{v:x}" for v in (*counter, *key)])
        assert [int(w, 16) for w in got] == list(want)
        assert _philox_py(counter, key) == list(want)  # the Python reference too


def test_philox_normals_match_python_and_are_gaussian(philox_host):
    from scipy import stats

    key, stream = (0x12345678, 0x9ABCDEF0), 2**40 + 3
    n, first = 20_001, 7
    got = np.array(philox_host("normal", n, first, stream & 0xFFFFFFFF, stream >> 32, *key),
                   dtype=np.float64)[:n]
    # libm's sin/cos/log vs math's: the same correctly-rounded-ish values to ~1e-15
    np.testing.assert_allclose(got, _normals_py(n, key, stream, first), rtol=1e-13, atol=1e-15)
    # N(0, 1): KS p-value, and mean/variance within 5 standard errors
    assert stats.kstest(got, "norm").pvalue > 1e-4
    assert abs(got.mean()) < 5 / math.sqrt(n) and abs(got.var() - 1) < 5 * math.sqrt(2 / n)
    # neighbouring streams and keys are different sequences
    other = _normals_py(64, key, stream + 1, first)
    assert not np.allclose(got[:64], other)


@pytest.mark.gpu
def test_gpu_philox_draws_match_host_and_continue(cp):
    from meanfield.backends import get_backend
    from meanfield.gpu.random import philox_normal

    key, stream = (0x12345678, 0x9ABCDEF0), 5
    z = cp.asnumpy(philox_normal(10_001, key, stream, first=3))
    np.testing.assert_allclose(z, _normals_py(10_001, key, stream, first=3), rtol=1e-13,
                               atol=1e-15)
    be = get_backend("cupy")
    rng = be.rng(11, 4)
    a = be.to_numpy(be.standard_normal(rng, (3, 5)))
    b = be.to_numpy(be.standard_normal(rng, (7,)))
    whole = be.to_numpy(be.standard_normal(be.rng(11, 4), (24,)))
    # positions continue across draws (an odd count skips the rest of its last block)
    np.testing.assert_array_equal(a.ravel(), whole[:15])
    np.testing.assert_array_equal(b, whole[16:23])
    assert not np.allclose(be.to_numpy(be.standard_normal(be.rng(11, 5), (15,))), whole[:15])
    f32 = be.to_numpy(be.standard_normal(be.rng(11, 4), (15,), "float32"))
    np.testing.assert_array_equal(f32, whole[:15].astype(np.float32))
