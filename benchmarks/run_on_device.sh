#!/usr/bin/env bash
# Everything meanfield measures on a GPU, in one run (for a session lent a device; see
# docs/gpu.rst and benchmarks/gpu_notes.md). Writes raw output, `nvidia-smi -L` and versions
# to $OUT (the device tool's output folder; default benchmarks/results) and copies it to
# benchmarks/results/:
#   gpu_env.txt             date, nvidia-smi -L and clocks, Python and package versions
#   gpu_startup.txt         first kernel call of a fresh process: cold (compiles) and warm
#                           (CuPy's disk cache), one module per Op, extern "C" names
#   gpu_pytest.txt          pytest -m gpu on tests/test_gpu_kernels.py and tests/test_backends.py
#   bench_gpu_kernels.txt   benchmarks/bench_gpu_kernels.py (per call and back to back)
#   bench_gpu_simulate.txt  benchmarks/bench_gpu_simulate.py (L = 200, n = 500, batch 1024)
# Each step has its own time limit and a failing step does not stop the next; the exit status
# is the number of failed steps. Budget: about 6-8 minutes on an H200 (16 CPU cores).
#
#   bash benchmarks/run_on_device.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RES=benchmarks/results
OUT=${OUT:-$RES}
mkdir -p "$OUT" "$RES"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
failed=0
step() {  # step NAME LIMIT_S COMMAND...: run with a time limit, output to $OUT/NAME.txt
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    { echo "# \$ $*"; timeout "$limit" "$@" 2>&1; } | tee "$OUT/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

{
    date -u
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw \
        --format=csv
    $PY - <<'PYEOF'
import platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("numpy", "scipy", "sympy", "cupy", "torch", "pytest"):
    try:
        mod = __import__(name)
        print(name, mod.__version__)
    except Exception as exc:
        print(name, "not importable:", exc)
try:
    import cupy
    from cupy.cuda import compiler
    print("CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver",
          cupy.cuda.runtime.driverGetVersion(), "NVRTC", compiler._get_nvrtc_version())
except Exception as exc:
    print("cupy CUDA versions not readable:", exc)
import meanfield
print("meanfield", meanfield.__version__, meanfield.__file__)
PYEOF
} 2>&1 | tee "$OUT/gpu_env.txt"

# cold vs warm start: a fresh process's first sSELU call, with an empty kernel cache (compiles
# the module) and again with the cache it left (loads it from disk)
CUPY_CACHE_DIR=$(mktemp -d)
export CUPY_CACHE_DIR
cat > "$OUT/startup_probe.py" <<'PYEOF'
import time
t0 = time.perf_counter()
import cupy
from meanfield import get_activation
from meanfield.gpu import kernels
x = cupy.ones(1 << 20, dtype=cupy.float32)
cupy.cuda.get_current_stream().synchronize()
t1 = time.perf_counter()
act = get_activation("sselu", lam=1.036, alpha=1.7, beta=0.8)
kernels.activation_forward(act, x)
cupy.cuda.get_current_stream().synchronize()
t2 = time.perf_counter()
kernels.activation_forward(act, x)
cupy.cuda.get_current_stream().synchronize()
t3 = time.perf_counter()
print(f"import+alloc {t1 - t0:.3f} s, first sselu call {t2 - t1:.3f} s, second {1e3 * (t3 - t2):.3f} ms")
PYEOF
step gpu_startup 240 bash -c "echo cold; $PY $OUT/startup_probe.py; echo warm; $PY $OUT/startup_probe.py; echo warm again; $PY $OUT/startup_probe.py"
rm -f "$OUT/startup_probe.py"

step gpu_pytest 420 $PY -m pytest -q -m gpu -p no:cacheprovider -rs --durations=15 \
    tests/test_gpu_kernels.py tests/test_backends.py
step bench_gpu_kernels 300 $PY benchmarks/bench_gpu_kernels.py --out "$OUT/bench_gpu_kernels.raw.txt"
step bench_gpu_simulate 420 $PY benchmarks/bench_gpu_simulate.py --out "$OUT/bench_gpu_simulate.raw.txt"

if [ "$(cd "$OUT" && pwd)" != "$(cd "$RES" && pwd)" ]; then
    cp "$OUT"/*.txt "$RES"/
fi
echo "failed steps: $failed"
exit "$failed"
