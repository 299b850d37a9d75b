"""Start-up time of the command line: ``meanfield --version`` against ``python -c "import numpy"``.

Target (issue 16): ``meanfield --version`` <= 3x ``python -c "import numpy"`` (before the lazy
imports it was ~4.5x: SymPy and SciPy loaded at start-up). Both are fresh interpreters, run
alternately so machine load hits both alike; the ratio of medians is printed with the spread.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_cli_startup.py [--repeats 15]``
(smoke: ``--repeats 2``); results go to ``benchmarks/results/bench_cli_startup.txt`` by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _timing import cpu_model

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0


def _wall(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cli = [sys.executable, "-m", "meanfield", "--version"]
    numpy_only = [sys.executable, "-c", "import numpy"]
    _wall(cli, env), _wall(numpy_only, env)  # warm the file cache
    cli_t, np_t = [], []
    for _ in range(args.repeats):
        cli_t.append(_wall(cli, env))
        np_t.append(_wall(numpy_only, env))
    import numpy

    ratio = statistics.median(cli_t) / statistics.median(np_t)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cpus; python {platform.python_version()}, "
          f"numpy {numpy.__version__}; {args.repeats} alternating runs each")
    for name, t in (("meanfield --version", cli_t), ('python -c "import numpy"', np_t)):
        print(f"{name:<26} median {statistics.median(t):.3f} s  min {min(t):.3f}  max {max(t):.3f}")
    print(f"ratio of medians {ratio:.2f} (target <= {TARGET_RATIO}): {'ok' if ratio <= TARGET_RATIO else 'MISSED'}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
