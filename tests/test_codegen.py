"""Tests of meanfield.gpu.codegen: CUDA C++ printed from SymPy activation templates.

Pure Python and a host compiler; no GPU. The generated Op struct compiles for the host with
g++ (``common.cu``'s ``mf_*`` overloads map to libm there), so the printed ``f`` and ``f'``
are checked numerically against ``act.f``/``act.df`` in double *and* in float; the full
generated modules compile through CuPy's own NVRTC path with CuPy's options (``-ftz=true``,
``-arch=sm_90``, its include paths; :mod:`meanfield.gpu._compile`) when CuPy and NVRTC are
installed (no GPU needed), and their float kernels never promote a float to double.

Tolerance of the numerical checks: ``rtol_for(dtype) * (M + |x g'(x)|) + tiny`` for a printed
function ``g`` (``f`` or ``f'``), where ``M`` is ``g`` evaluated with every sum replaced by the
sum of the absolute values of its terms (the scale of the rounding errors of a sum, which a
cancelling result does not show), ``|x g'(x)|`` bounds roundings inside arguments (they act
like a relative perturbation of ``x``) and ``tiny`` covers subnormal results.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

from meanfield import Activation, get_activation
from meanfield.expressions import X
from meanfield.gpu import codegen
from meanfield.gpu.codegen import cuda_expression, generate_kernel_source, generate_op_source
from meanfield.tolerances import rtol_for
from tests._nvrtc import nvrtc_or_skip, ptx_entries

a, b = sp.symbols("a b", real=True)


# ------------------------------------------------------------------------------------------------
# printed text


@pytest.mark.parametrize(("expr", "params", "want"), [
    (sp.Piecewise((X, X > 0), (a * X, True)), ["a"], "((x > T(0)) ? (x) : (p0*x))"),
    (sp.exp(-X**2 / 2), [], "mf_exp(-T(0.5)*(x*x))"),
    (sp.tanh(X), [], "mf_tanh(x)"),
    (sp.erf(X / sp.sqrt(2)), [], "mf_erf(T(0.7071067811865476)*x)"),
    (a * (sp.exp(X) - 1), ["a"], "p0*mf_expm1(x)"),
    (sp.log(1 + sp.exp(X)), [], "mf_log1p(mf_exp(x))"),
    (sp.Max(X, 0), [], "mf_max(T(0), x)"),
    (sp.Min(X, a, b), ["a", "b"], "mf_min(p0, mf_min(p1, x))"),
    (sp.sign(X), [], "mf_sign(x)"),
    (sp.Abs(X), [], "mf_fabs(x)"),
    (sp.sqrt(X), [], "mf_sqrt(x)"),
    (1 / sp.sqrt(X), [], "(T(1)/mf_sqrt(x))"),
    (X**-2, [], "(T(1)/(x*x))"),
    (X**sp.Rational(1, 3), [], "mf_real_cbrt(x)"),
    (X**b, ["b"], "mf_pow(x, p1)".replace("p1", "p0")),
    (sp.pi * X, [], "T(3.141592653589793)*x"),
    (sp.Heaviside(X), [], "((x < T(0)) ? (T(0)) : (((x == T(0)) ? (T(0.5)) : "
                          "(((x > T(0)) ? (T(1)) : (mf_nan<T>()))))))"),
    (X * sp.DiracDelta(X) + X, [], "x"),
    (sp.Piecewise((X, X > 1)), [], "((x > T(1)) ? (x) : (mf_nan<T>()))"),
])
def test_printed_expressions(expr, params, want):
    assert cuda_expression(expr, params) == want


def test_piecewise_becomes_nested_ternary():
    expr = sp.Piecewise((X, X > 1), (X**2, X > -1), (-X - 2, True))
    code = cuda_expression(expr)
    assert code == "((x > T(1)) ? (x) : (((x > -T(1)) ? ((x*x)) : (-x - T(2)))))"
    both = cuda_expression(sp.Piecewise((X, (X > 0) & (X < 1)), (0, True)))
    assert "&&" in both


def _literals_outside_T(code):
    stripped = re.sub(r"T\(-?[0-9.]+(e[-+]?\d+)?\)", "", code)
    return re.findall(r"(?<![\w.])\d+(\.\d*)?", stripped)


@pytest.mark.parametrize("name", ["gelu", "sigmoid", "softplus", "swish", "tanh", "erf", "elu",
                                  "sselu", "lselu"])
def test_every_number_is_a_T_literal(name):
    params = {"sselu": dict(lam=1.1, alpha=1.5, beta=0.5),
              "lselu": dict(lam=1.1, alpha=1.5, beta=0.5)}.get(name, {})
    act = get_activation(name, **params)
    src = generate_op_source(act.template, tuple(act.params))
    body = src[src.index("f(T x)"):]
    assert not _literals_outside_T(body), body
    assert not re.search(r"\b(exp|erf|tanh|log|sqrt|pow)f?\(", body)  # only mf_ overloads


def test_unsupported_input_raises_valueerror():
    with pytest.raises(ValueError, match="neither x nor"):
        cuda_expression(X + sp.Symbol("y", real=True))
    with pytest.raises(ValueError, match="expr"):
        cuda_expression(sp.besselj(0, X))
    with pytest.raises(ValueError, match="params"):
        cuda_expression(X, ["x"])
    with pytest.raises(ValueError, match="params"):
        cuda_expression(a * X, ["a", "a"])
    with pytest.raises(ValueError, match="non-real"):
        cuda_expression(sp.I * X)
    with pytest.raises(ValueError, match="template must depend on x"):
        generate_op_source(a, ["a"])
    with pytest.raises(ValueError, match="name"):
        generate_op_source(X, name="not an identifier")


def test_kernel_source_structure():
    act = Activation.from_expression("Piecewise((x, x > 0), (a*(exp(b*x) - 1), True))",
                                     params={"a": 1.5, "b": 0.7})
    src = generate_kernel_source(act.template, tuple(act.params))
    assert src.param_names == ("a", "b")
    assert src.source.startswith(codegen.read_cuda_source("common.cu"))
    assert ('extern "C" __global__ void __launch_bounds__(MF_BLOCK)\n'
            "mfu_forward_f32(const float* x, float* y, long long n, float p0, float p1)"
            in src.source)
    assert "mf_forward_loop(x, y, n, mfu_op<double>(p0, p1), double(1), double(0));" in src.source
    assert "p0*mf_expm1(p1*x)" in src.op_source  # a*(exp(b x) - 1) -> expm1
    assert src.entry_name("backward", "float64") == "mfu_backward_f64"
    assert len(src.entry_names) == 8
    assert all(f"{name}(" in src.source for name in src.entry_names.values())
    with pytest.raises(ValueError, match="kind"):
        src.entry_name("backward_lambda", "float32")
    again = generate_kernel_source(act.template, tuple(act.params))
    assert again.key == src.key and len(src.key) == 40
    other = generate_kernel_source(get_activation("tanh").template)
    assert other.key != src.key
    assert "mfu_forward_f64(const double* x, double* y, long long n)" in other.source
    assert "MF_FN mfu_op() {}" in other.op_source


# ------------------------------------------------------------------------------------------------
# numbers: the printed code compiled for the host, against act.f / act.df

USER_CASES = [
    ("x*tanh(x)", {}),
    ("Piecewise((x, x > 0), (a*(exp(x) - 1), True))", {"a": 1.7}),
    ("x*erf(x/s)", {"s": 1.5}),
    ("Max(x, 0)**2 + b*sin(x)", {"b": 0.25}),
    ("log(1 + exp(x))", {}),
    ("sigmoid(x)*x", {}),
    ("sqrt(x**2 + c) - sqrt(c)", {"c": 1.0}),
    ("x**3/3 - atan(x)", {}),
    ("a*cosh(x/2) - a", {"a": 0.8}),
    ("exp(-x**2/2)*x", {}),
    ("Piecewise((x, x > 1), (x**2, x > -1), (-x - 2, True))", {}),
    ("Abs(x)**1.5 + x/(1 + Abs(x))", {}),
    ("x*Heaviside(x) + erfc(x)/2", {}),
]


def _user_cases():
    acts = [(t, Activation.from_expression(t, params=p)) for t, p in USER_CASES]
    acts.append(("affine x*tanh(x)", Activation.from_expression("x*tanh(x)").affine(1.3, 0.2)))
    acts.append(("sselu template", get_activation("sselu", lam=1.05, alpha=1.6, beta=0.7)))
    acts.append(("gelu template", get_activation("gelu")))
    return acts


CASES = _user_cases()


def _abs_terms(expr):
    """``expr`` with every sum replaced by the sum of its terms' absolute values."""
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(_abs_terms(p.expr), p.cond) for p in expr.args])
    if not isinstance(expr, sp.Expr) or not expr.args:
        return expr
    args = [_abs_terms(t) for t in expr.args]
    if isinstance(expr, sp.Add):
        return sp.Add(*[sp.Abs(t) for t in args])
    return expr.func(*args)


def _numeric(expr):
    expr = expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    fn = sp.lambdify(X, expr, modules=["numpy", "scipy"])

    def call(x):
        with np.errstate(all="ignore"):
            return np.broadcast_to(fn(x), np.shape(x)).astype(np.float64)

    return call


def _reference(act, x):
    """f, f', and tolerance scales M + |x g'| for g = f and g = f' (float64)."""
    e = act.expr
    d1 = sp.diff(e, X)
    d2 = sp.diff(d1, X)
    f, df, ddf = _numeric(e)(x), _numeric(d1)(x), _numeric(d2)(x)
    with np.errstate(all="ignore"):
        scale_f = np.abs(_numeric(_abs_terms(e))(x)) + np.abs(x * df)
        scale_df = np.abs(_numeric(_abs_terms(d1))(x)) + np.abs(x * ddf)
    return f, df, np.nan_to_num(scale_f), np.nan_to_num(scale_df)


_HOST_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>

template <typename T>
static void run(const double* x, long n, const double* p, double* out) {
    mfu_op<T> op{%(args)s};
    for (long i = 0; i < n; ++i) {
        out[i] = (double)op.f((T)x[i]);
        out[n + i] = (double)op.df((T)x[i]);
    }
}

int main(int argc, char** argv) {
    // usage: harness IN OUT N [params...]
    long n = atol(argv[3]);
    double p[64];
    for (int i = 4; i < argc; ++i) p[i - 4] = strtod(argv[i], NULL);
    double* x = (double*)malloc(sizeof(double) * n);
    double* out = (double*)malloc(sizeof(double) * 4 * n);
    FILE* fi = fopen(argv[1], "rb");
    if (fread(x, sizeof(double), n, fi) != (size_t)n) return 3;
    fclose(fi);
    run<double>(x, n, p, out);
    run<float>(x, n, p, out + 2 * n);
    FILE* fo = fopen(argv[2], "wb");
    fwrite(out, sizeof(double), 4 * n, fo);
    fclose(fo);
    return 0;
}
"""


def _host_eval(tmp_path, act, x):
    gxx = shutil.which("g++") or shutil.which("c++")
    if not gxx:
        pytest.skip("no host C++ compiler")
    names = tuple(act.params)
    op = generate_op_source(act.template, names)
    args = ", ".join(f"(T)p[{i}]" for i in range(len(names)))
    src = tmp_path / "harness.cpp"
    src.write_text(codegen.read_cuda_source("common.cu") + op + _HOST_MAIN % {"args": args})
    exe = tmp_path / "harness"
    proc = subprocess.run([gxx, "-O2", "-std=c++17", str(src), "-o", str(exe), "-lm"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + op
    x = np.ascontiguousarray(x, dtype=np.float64)
    x.tofile(tmp_path / "in.bin")
    proc = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin"),
                           str(x.size), *[repr(float(v)) for v in act.params.values()]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return np.fromfile(tmp_path / "out.bin", dtype=np.float64).reshape(4, x.size)


def _check(got, ref, scale, dtype, what):
    tol = rtol_for(dtype) * scale + np.finfo(dtype).tiny
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: NaN pattern differs"
    ok = np.isfinite(ref)
    err = np.abs(got[ok] - ref[ok])
    bad = err > tol[ok]
    i = np.flatnonzero(bad)[:1]
    assert not bad.any(), (f"{what}: {bad.sum()} off, e.g. got {got[ok][i]} want {ref[ok][i]} "
                           f"(tol {tol[ok][i]})")


@pytest.mark.parametrize(("case", "act"), CASES, ids=[c for c, _ in CASES])
def test_host_compiled_code_matches_numpy(tmp_path, case, act):
    rng = np.random.default_rng(0)
    special = [0.0, 1.0, -1.0, 1e-8, -1e-8, 0.5, -0.5, 6.0, -6.0]
    x64 = np.concatenate([rng.uniform(-6, 6, 3000), rng.normal(0, 1, 1000), special])
    x32 = x64.astype(np.float32).astype(np.float64)  # float inputs, exact in both dtypes
    for dtype, x in ((np.float64, x64), (np.float32, x32)):
        out = _host_eval(tmp_path, act, x)
        rows = out[:2] if dtype == np.float64 else out[2:]
        f, df, scale_f, scale_df = _reference(act, x)
        _check(rows[0], f, scale_f, dtype, f"{case} f {np.dtype(dtype).name}")
        _check(rows[1], df, scale_df, dtype, f"{case} df {np.dtype(dtype).name}")


def test_expm1_rewrite_beats_the_naive_form(tmp_path):
    # exp(x) - 1 near 0: the printed expm1 keeps full relative precision, which the naive
    # NumPy evaluation of the same expression does not.
    act = Activation.from_expression("Piecewise((x, x > 0), (exp(x) - 1, True))")
    x = -np.logspace(-12, -1, 50)
    out = _host_eval(tmp_path, act, x)
    np.testing.assert_allclose(out[0], np.expm1(x), rtol=2 * np.finfo(np.float64).eps)
    np.testing.assert_allclose(out[2], np.expm1(x.astype(np.float32)), rtol=rtol_for("float32"))


# ------------------------------------------------------------------------------------------------
# CPU and GPU agree on NaN, negative cube roots, steps and defaults (issue 17)

AGREEMENT_CASES = [
    ("x*Heaviside(x)", Activation.from_expression("x*Heaviside(x)")),
    ("Heaviside(x - 1) + x", Activation.from_expression("Heaviside(x - 1) + x")),
    ("erfc(x)", Activation.from_expression("erfc(x)")),
    ("sign(x)*x**2", Activation("sign", template=sp.sign(X) * X**2)),
    ("Abs(x)", Activation.from_expression("Abs(x)")),
    ("Piecewise((x, x > 1), (2*x, x < -1))",
     Activation.from_expression("Piecewise((x, x > 1), (2*x, x < -1))")),
    ("x**(1/3)", Activation.from_expression("x**(1/3)")),
]
AGREEMENT_INPUTS = np.array([np.nan, -np.inf, -8.0, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0,
                             8.0, 30.0, np.inf])


@pytest.mark.parametrize(("case", "act"), AGREEMENT_CASES, ids=[c for c, _ in AGREEMENT_CASES])
def test_host_compiled_code_agrees_with_act_including_nan(tmp_path, case, act):
    """The printed f and f' give act.f / act.df's values, NaN where they give NaN.

    Before issue 17 the printed Heaviside gave 1 for NaN and x**(1/3) printed as cbrt gave
    f(-8) = -2 where act.f gives NaN. Values agree to the dtype's rtol (a few operations).
    """
    out = _host_eval(tmp_path, act, AGREEMENT_INPUTS)
    with np.errstate(all="ignore"):
        f, df = act.f(AGREEMENT_INPUTS), act.df(AGREEMENT_INPUTS)
    for dtype, rows in ((np.float64, out[:2]), (np.float32, out[2:])):
        for got, want, what in ((rows[0], f, "f"), (rows[1], df, "df")):
            label = f"{case} {what} {np.dtype(dtype).name}"
            assert np.array_equal(np.isnan(got), np.isnan(want)), \
                f"{label}: NaN pattern {np.isnan(got)} != act's {np.isnan(want)}"
            ok = ~np.isnan(want)
            np.testing.assert_allclose(got[ok], want[ok], rtol=rtol_for(dtype), atol=0,
                                       err_msg=label)


def test_step_and_cube_root_of_nan_and_negative_inputs():
    # the CPU side (act.f) agrees with numpy.heaviside and numpy's power on these inputs
    x = np.array([np.nan, -1.0, 0.0, 1.0])
    step = Activation.from_expression("Heaviside(x)")
    np.testing.assert_array_equal(step.f(x), np.heaviside(x, 0.0))
    root = Activation.from_expression("x**(1/3)")
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(root.f(np.array([-8.0, np.nan])), [np.nan, np.nan])
    assert root.f(np.array([8.0]))[0] == pytest.approx(2.0, rel=1e-15)


# ------------------------------------------------------------------------------------------------
# CuPy's NVRTC path (no GPU needed; skipped without CuPy and NVRTC)


def _assert_generated_ptx(src, ptx, case):
    entries = ptx_entries(ptx)
    assert set(entries) == set(src.entry_names.values()), case
    # CUDA's own sinf/cosf/tanf keep a small local array for huge-argument reduction
    trig = re.search(r"\bmf_(sin|cos|tan)\(", src.op_source)
    for name, body in entries.items():
        assert ".maxntid 256, 1, 1" in body, f"{case}: {name} lacks __launch_bounds__"
        if not trig:
            assert ".local" not in body, f"{case}: {name} spills to local memory"
        # 16-byte packs; a derivative that is constant never reads x, so only stores there
        vec = "v4.f32" if name.endswith("_f32") else "v2.f64"
        assert f"st.global.{vec}" in body, name
        if "_derivative_f" not in name or "forward" in name:
            assert f"ld.global.{vec}" in body, name
        if name.endswith("_f32"):
            # the float kernels compute in float: nothing promotes a float to double (a stray
            # double literal would); CUDA's sinf may use f64 in its large-argument reduction
            if not trig:
                assert not re.search(r"\.f64\b", body), f"{case}: {name} uses double"
            assert "cvt.f64.f32" not in body, f"{case}: {name} promotes float to double"


_NVRTC_CASES = AGREEMENT_CASES[:1]  # the rest: slow, below


@pytest.mark.parametrize(("case", "act"), _NVRTC_CASES, ids=[c for c, _ in _NVRTC_CASES])
def test_generated_module_compiles_with_cupy_nvrtc(case, act):
    compile_ = nvrtc_or_skip()
    src = generate_kernel_source(act.template, tuple(act.params))
    _assert_generated_ptx(src, compile_.compile_ptx(src.source), case)


# the agreement cases and a few printing shapes (each module takes ~2-5 s to compile)
_SLOW_NVRTC_CASES = AGREEMENT_CASES[1:] + CASES[:4] + CASES[-3:-2]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "act"), _SLOW_NVRTC_CASES, ids=[c for c, _ in _SLOW_NVRTC_CASES])
def test_every_generated_module_compiles_with_cupy_nvrtc(case, act):
    compile_ = nvrtc_or_skip()
    src = generate_kernel_source(act.template, tuple(act.params))
    _assert_generated_ptx(src, compile_.compile_ptx(src.source), case)
