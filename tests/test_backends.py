"""Tests of meanfield.backends: backend selection, random draws, Haar orthogonal matrices."""

from __future__ import annotations

import math
import subprocess
import sys
import types

import numpy as np
import pytest
from scipy import stats

from meanfield.activations import get_activation
from meanfield.backends import (
    BACKENDS,
    BackendUnavailableError,
    HaarFactors,
    NumpyBackend,
    available_backends,
    get_backend,
)

try:  # pragma: no cover - depends on the machine
    import cupy  # noqa: F401

    HAVE_GPU = "cupy" in available_backends()
except ImportError:
    HAVE_GPU = False


@pytest.fixture
def be():
    return get_backend("numpy")


def test_names_and_errors():
    # every advertised name is accepted: it gives a backend or says why it cannot run here
    for name in BACKENDS:
        try:
            assert get_backend(name).name in ("numpy", "cupy")
        except BackendUnavailableError as exc:
            assert name == "cupy" and "backend 'cupy'" in str(exc)
    assert isinstance(get_backend("numpy"), NumpyBackend)
    assert get_backend("NumPy") is get_backend("numpy")
    be = get_backend("numpy")
    assert get_backend(be) is be
    with pytest.raises(ValueError, match="backend must be one of"):
        get_backend("torch")
    with pytest.raises(ValueError, match="backend must be one of"):
        get_backend(3)
    auto = get_backend("auto")
    assert auto.name == ("cupy" if HAVE_GPU else "numpy")
    assert "numpy" in available_backends()


@pytest.mark.skipif(HAVE_GPU, reason="CuPy with a GPU is available here")
def test_cupy_unavailable_is_a_clear_valueerror():
    with pytest.raises(BackendUnavailableError, match="backend 'cupy'") as info:
        get_backend("cupy")
    assert issubclass(BackendUnavailableError, ValueError)
    # the reason names what is missing here: CuPy itself, or a library, or the device
    assert any(word in str(info.value) for word in ("needs CuPy", "CUDA libraries missing",
                                                    "no usable CUDA device"))


def _fake_cupy(monkeypatch, failing=(), device_error=None, count=1, runtime_version=12080):
    """A stand-in CuPy whose CUDA libraries in ``failing`` do not load."""
    def lib(name):
        mod = types.ModuleType(f"cupy_backends.cuda.libs.{name}")

        def get_version():
            if name in failing:
                raise OSError(f"lib{name}.so.12: cannot open shared object file")
            return 12080

        mod.getVersion = get_version
        return mod

    for name in ("nvrtc", "cublas", "cusolver"):
        monkeypatch.setitem(sys.modules, f"cupy_backends.cuda.libs.{name}", lib(name))

    def device_count():
        if device_error:
            raise RuntimeError(device_error)
        return count

    runtime = types.SimpleNamespace(getDeviceCount=device_count,
                                    runtimeGetVersion=lambda: runtime_version)
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=runtime)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return fake


def test_unavailability_reason_names_missing_libraries_and_wheels(monkeypatch):
    from meanfield._cupy_import import _import_cupy

    _fake_cupy(monkeypatch, failing=("nvrtc", "cusolver"),
               device_error="cudaErrorInsufficientDriver")
    with pytest.raises(BackendUnavailableError) as info:
        _import_cupy()
    msg = str(info.value)
    assert "NVRTC" in msg and "pip install nvidia-cuda-nvrtc-cu12" in msg
    assert "cuSOLVER" in msg and "pip install nvidia-cusolver-cu12" in msg
    assert "cuBLAS" not in msg  # it loads
    assert "cupy-cuda12x[ctk]" in msg and "cudaErrorInsufficientDriver" in msg
    assert msg.endswith("use backend='numpy'")
    # CUDA 13 wheels have no -cu13 suffix; the kernels alone need NVRTC only
    _fake_cupy(monkeypatch, failing=("nvrtc",), runtime_version=13000)
    with pytest.raises(BackendUnavailableError, match=r"pip install nvidia-cuda-nvrtc\)"):
        _import_cupy()
    _fake_cupy(monkeypatch, failing=("cublas",))
    assert _import_cupy(libraries=("nvrtc",)) is sys.modules["cupy"]
    _fake_cupy(monkeypatch, count=0)
    with pytest.raises(BackendUnavailableError, match="no CUDA device found"):
        _import_cupy()


def test_cupy_synchronize_waits_for_the_current_stream():
    from meanfield.backends import CupyBackend

    synced = []
    current = types.SimpleNamespace(synchronize=lambda: synced.append("current"))
    null = types.SimpleNamespace(synchronize=lambda: synced.append("null"))
    be = object.__new__(CupyBackend)  # no CuPy needed: xp is a stand-in
    be.xp = types.SimpleNamespace(cuda=types.SimpleNamespace(
        get_current_stream=lambda: current, Stream=types.SimpleNamespace(null=null)))
    be.synchronize()
    assert synced == ["current"]


def test_cupy_is_imported_lazily():
    code = ("import sys; import meanfield.backends as b; b.get_backend('numpy'); "
            "import meanfield.simulation; print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_streams_are_reproducible_and_independent(be):
    a = be.standard_normal(be.rng(5, 3), (4, 3))
    b = be.standard_normal(be.rng(5, 3), (4, 3))
    c = be.standard_normal(be.rng(5, 4), (4, 3))
    d = be.standard_normal(be.rng(6, 3), (4, 3))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, d)
    # stream 0 is Generator(PCG64(seed)) itself
    ref = np.random.Generator(np.random.PCG64(5)).standard_normal((4, 3))
    assert np.array_equal(be.standard_normal(be.rng(5, 0), (4, 3)), ref)
    # float32 draws are the float64 draws rounded
    f32 = be.standard_normal(be.rng(5, 3), (4, 3), "float32")
    assert f32.dtype == np.float32 and np.array_equal(f32, a.astype(np.float32))
    for bad in (-1, 1.5, "1", True, 2**63):
        with pytest.raises(ValueError, match="seed"):
            be.rng(bad)


def test_gaussian_entries(be):
    n, var, mean = 400, 2.0, 0.3
    w = be.gaussian(be.rng(0, 1), n, var=var, mean=mean)
    assert w.shape == (n, n) and w.dtype == np.float64
    # n^2 = 160000 entries: the sample mean has s.e. sqrt(var/n)/n = 1.8e-4, the sample
    # variance var/n has relative s.e. sqrt(2/n^2) = 3.5e-3; allow 5 s.e.
    assert abs(w.mean() - mean) < 5 * math.sqrt(var / n) / n
    assert abs(w.var() * n / var - 1) < 5 * math.sqrt(2) / n
    w32 = be.gaussian(be.rng(0, 1), n, var=var, mean=mean, dtype="float32")
    assert w32.dtype == np.float32 and np.allclose(w32, w, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="var"):
        be.gaussian(be.rng(0), 3, var=0.0)
    with pytest.raises(ValueError, match=r"var must be > 0 .*\(valid range: \(0, inf\)\)"):
        be.gaussian(be.rng(0), 3, var=float("inf"))
    with pytest.raises(ValueError, match="n must be an integer"):
        be.gaussian(be.rng(0), 0)
    with pytest.raises(ValueError, match="dtype"):
        be.gaussian(be.rng(0), 3, dtype="float16")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_orthogonal_is_orthogonal_and_matches_implicit_products(be, n, dtype):
    f = be.haar_factors(be.rng(3, 1), n, dtype=dtype)
    assert isinstance(f, HaarFactors) and f.n == n
    q = be.factors_to_dense(f)
    tol = 50 * np.finfo(dtype).eps * max(n, 1)
    assert q.dtype == np.dtype(dtype)
    assert np.abs(q.T @ q - np.eye(n)).max() < tol
    assert np.abs(q @ q.T - np.eye(n)).max() < tol
    x = np.random.default_rng(0).standard_normal((n, 5)).astype(dtype)
    assert np.abs(be.apply_orthogonal(f, x) - q @ x).max() < tol * 10
    assert np.abs(be.apply_orthogonal(f, x, transpose=True) - q.T @ x).max() < tol * 10
    x_before = x.copy()
    be.apply_orthogonal(f, x, transpose=True)
    assert np.array_equal(x, x_before)  # inputs are not overwritten
    assert np.abs(be.apply_orthogonal(f, x[:, 0]) - q @ x[:, 0]).max() < tol * 10
    # the dense draw from the same stream is the same matrix
    assert np.array_equal(be.orthogonal(be.rng(3, 1), n, dtype=dtype), q)
    with pytest.raises(ValueError, match="rows"):
        be.apply_orthogonal(f, np.ones((n + 1, 2), dtype=dtype))


def test_orthogonal_is_haar_distributed(be):
    """Haar O(3): Q_00 ~ U(-1, 1) (Archimedes), E tr Q = 0, E (tr Q)^2 = 1, det = +-1 equally.

    Plain QR (no sign correction) fails every one of these: its Q_00 = -|g_0|/|g| < 0.
    Tolerances: N = 3000 draws; 5 standard errors of each sample mean.
    """
    n_draws = 3000
    qs = np.stack([be.orthogonal(be.rng(i, 1), 3) for i in range(n_draws)])
    q00 = qs[:, 0, 0]
    assert stats.kstest(q00, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    tr = np.trace(qs, axis1=1, axis2=2)
    det = np.linalg.det(qs)
    se = 1 / math.sqrt(n_draws)
    assert abs(tr.mean()) < 5 * tr.std() * se
    assert abs((tr**2).mean() - 1) < 5 * (tr**2).std() * se
    assert np.allclose(np.abs(det), 1)
    assert abs(det.mean()) < 5 * se
    # every entry has mean 0 and variance 1/n
    assert np.all(np.abs(qs.mean(axis=0)) < 5 * math.sqrt(1 / 3) * se)
    assert np.all(np.abs((qs**2).mean(axis=0) - 1 / 3) < 5 * 0.3 * se)
    # control: the biased plain QR is caught by the same test
    plain = np.stack([np.linalg.qr(np.random.default_rng(i).standard_normal((3, 3)))[0]
                      for i in range(300)])
    assert stats.kstest(plain[:, 0, 0], stats.uniform(loc=-1, scale=2).cdf).pvalue < 1e-3


def test_activation_and_helpers(be):
    act = get_activation("selu")
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    assert np.allclose(be.activation_forward(act, x), act.f(x))
    assert np.allclose(be.activation_derivative(act, x), act.df(x))
    x32 = x.astype(np.float32)
    assert be.activation_forward(act, x32).dtype == np.float32
    assert be.activation_derivative(get_activation("linear"), x32).dtype == np.float32
    assert be.to_numpy(be.asarray([1.0, 2.0])).tolist() == [1.0, 2.0]
    counts, edges = be.histogram(np.arange(10.0), 5)
    assert counts.sum() == 10 and len(edges) == 6
    assert np.array_equal(be.matmul(np.eye(2), np.ones((2, 3))), np.ones((2, 3)))
    assert "numpy" in be.describe()
    be.synchronize()


@pytest.mark.parametrize("name", ["selu", "tanh", "relu", "linear"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_forward_derivative_equals_separate_calls(be, name, dtype):
    act = get_activation(name)
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(dtype)
    y, dy = be.activation_forward_derivative(act, x)
    y1, dy1 = be.activation_forward(act, x), be.activation_derivative(act, x)
    assert y.dtype == dy.dtype == x.dtype and y.shape == dy.shape == x.shape
    assert np.array_equal(y, y1) and np.array_equal(dy, dy1)  # bit for bit


def _fake_kernels():
    """A stand-in for meanfield.gpu.kernels that evaluates tanh with CuPy ufuncs."""
    import cupy as cp

    mod = types.ModuleType("meanfield.gpu.kernels")

    def activation_forward(act, x):
        assert act.name == "tanh"
        return cp.tanh(x)

    def activation_derivative(act, x):
        return 1 - cp.tanh(x) ** 2

    def activation_forward_derivative(act, x):
        return activation_forward(act, x), activation_derivative(act, x)

    mod.activation_forward = activation_forward
    mod.activation_derivative = activation_derivative
    mod.activation_forward_derivative = activation_forward_derivative
    return mod


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")
def test_cupy_backend(monkeypatch):  # pragma: no cover - needs a GPU
    import cupy as cp

    be = get_backend("cupy")
    q = be.orthogonal(be.rng(0, 1), 64)
    assert float(cp.abs(q.T @ q - cp.eye(64)).max()) < 1e-12
    a = be.to_numpy(be.standard_normal(be.rng(1, 2), (3, 3)))
    assert np.array_equal(a, be.to_numpy(be.standard_normal(be.rng(1, 2), (3, 3))))
    kernels = _fake_kernels()
    pkg = types.ModuleType("meanfield.gpu")
    pkg.kernels = kernels
    monkeypatch.setitem(sys.modules, "meanfield.gpu", pkg)
    monkeypatch.setitem(sys.modules, "meanfield.gpu.kernels", kernels)
    monkeypatch.setattr(be, "_kernels", None)
    x = cp.linspace(-2, 2, 10)
    assert np.allclose(be.to_numpy(be.activation_forward(get_activation("tanh"), x)),
                       np.tanh(np.linspace(-2, 2, 10)))
    y, dy = be.activation_forward_derivative(get_activation("tanh"), x)
    assert np.allclose(be.to_numpy(y), np.tanh(np.linspace(-2, 2, 10)))
    assert np.allclose(be.to_numpy(dy), 1 - np.tanh(np.linspace(-2, 2, 10)) ** 2)


def _stats(trace, name):
    per_seed = getattr(trace, name)  # (n_seeds, depth)
    return per_seed.mean(axis=0), per_seed.std(axis=0, ddof=1) / math.sqrt(per_seed.shape[0])


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_cupy_simulate_matches_numpy_within_monte_carlo_error(weights):  # pragma: no cover
    from meanfield.simulation import simulate

    # different random numbers (Philox vs PCG64), the same distribution: per-layer means over
    # 16 nets agree within 5 combined standard errors (plus 1e-12 for noiseless layers)
    act = get_activation("tanh")
    kw = dict(depth=8, width=256, batch=32, n_seeds=16, weights=weights, weight_var=1.5)
    gpu = simulate(act, backend="cupy", seed=0, **kw)
    cpu = simulate(act, backend="numpy", seed=1000, **kw)
    assert gpu.backend == "cupy" and cpu.backend == "numpy"
    for name in ("q", "x_sq", "grad_h_sq"):
        (m_g, se_g), (m_c, se_c) = _stats(gpu, name), _stats(cpu, name)
        assert np.all(np.abs(m_g - m_c) <= 5 * np.hypot(se_g, se_c) + 1e-12), name
    # the same seed twice gives the same trace bit for bit (Philox is counter-based)
    again = simulate(act, backend="cupy", seed=0, **kw)
    assert np.array_equal(again.q, gpu.q) and np.array_equal(again.grad_w_fro, gpu.grad_w_fro)


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cupy_layer_weights_orthogonal(dtype):  # pragma: no cover
    from meanfield.simulation import layer_weights

    n = 300
    w = layer_weights(3, 2, width=n, weights="orthogonal", dtype=dtype, backend="cupy")
    assert isinstance(w, np.ndarray) and w.shape == (n, n) and w.dtype == np.dtype(dtype)
    # QR in float64, rounded once to dtype: ||W W^T - I|| within a few n eps of dtype
    tol = 10 * n * np.finfo(dtype).eps
    assert np.abs(w @ w.T - np.eye(n)).max() < tol and np.abs(w.T @ w - np.eye(n)).max() < tol
    again = layer_weights(3, 2, width=n, weights="orthogonal", dtype=dtype, backend="cupy")
    assert np.array_equal(w, again)
    other = layer_weights(3, 3, width=n, weights="orthogonal", dtype=dtype, backend="cupy")
    assert not np.allclose(w, other)
