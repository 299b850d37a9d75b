"""meanfield.sweep on a real dask.distributed LocalCluster (2 worker processes on loopback).

Every numerical check is exact: a sweep task runs the same ``simulate`` call with the same
seed in another process, so its records must equal the serial call bit for bit (compared as
bytes, which also distinguishes -0.0 and NaN payloads). One cluster serves the module (its
start costs seconds); every sweep has a timeout, and the fixture checks that no worker
process outlives the module.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
xr = pytest.importorskip("xarray")
zarr = pytest.importorskip("zarr")
psutil = pytest.importorskip("psutil")

import meanfield as mf  # noqa: E402
from meanfield.sweeps import SweepError, load_sweep  # noqa: E402
from meanfield.sweeps._tasks import record_names  # noqa: E402
from meanfield.trace import RECORDS  # noqa: E402

#: seconds any one sweep in these tests may take before it fails instead of hanging
SWEEP_TIMEOUT_S = 120
TINY = {"depth": 4, "batch": 3, "backend": "numpy"}


def _children():
    """Live child processes, less multiprocessing's resource tracker (it lives as long as we do)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def _wait_no_children(before, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in _children() if p.pid not in before]
        if not left:
            return []
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def client():
    before = {p.pid for p in _children()}
    from meanfield.sweeps._run import start_local_cluster

    cluster = start_local_cluster(2, dashboard_address=None)  # the cluster sweep() starts itself
    dask_client = distributed.Client(cluster, timeout=60)
    dask_client.run(__import__, "meanfield.sweeps._tasks")  # warm both workers up
    yield dask_client
    dask_client.close(timeout=30)
    cluster.close(timeout=30)
    assert _wait_no_children(before) == [], "worker processes outlived the cluster"


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def _assert_case_equals_simulate(ds, act, sel, **kwargs):
    """Every seed of case ``sel`` equals simulate(act, seed=net_seed, **kwargs) bit for bit.

    Every record the trace holds (``c`` only with input_correlation; NaN in the sweep otherwise)
    and, for the case, every record's theory.
    """
    case = ds.sel(sel)
    depth = kwargs["depth"]
    for s in case.seed.values:
        seed = int(case.net_seed.sel(seed=s))
        trace = mf.simulate(act, seed=seed, n_seeds=1, **kwargs)
        for k in record_names():
            got = case[k].sel(seed=s).values[:depth]
            if getattr(trace, k, None) is None:
                assert np.isnan(got).all(), (sel, k)
            else:
                assert _bits(got) == _bits(trace.record(k)[0]), (sel, int(s), k)
    theory = trace.theory()
    for k in record_names():
        if getattr(theory, k, None) is None:
            continue
        got = case[f"theory_{k}"].values[:depth]
        if k == "c":
            # the c-map recursion's covariances come from the direct rule or from a cached Chebyshev
            # proxy, depending on what the process computed before (the workers start fresh, this
            # process has run other tests): both agree to ~1e-15, not bit for bit
            np.testing.assert_allclose(got, getattr(theory, k), rtol=1e-14, atol=0, err_msg=str(sel))
        else:
            assert _bits(got) == _bits(getattr(theory, k)), (sel, k)


def test_results_equal_serial_simulate_bit_for_bit(client):
    # activations whose theory is quick to derive (SELU's closed forms cost seconds per process)
    expression = {"expression": "tanh(x) + x/4", "label": "tanh+x/4"}
    grid = {"activation": ["tanh", "tanh-gpn", expression], "width": [8, 13],
            "weights": ["gaussian", "orthogonal"]}
    ds = mf.sweep(grid, n_seeds=2, seed=7, client=client, progress=False, timeout=SWEEP_TIMEOUT_S,
                  **TINY)
    assert ds.q.dims == ("activation", "width", "weights", "seed", "layer")
    assert ds.sizes == {"activation": 3, "width": 2, "weights": 2, "seed": 2, "layer": 4}
    assert bool(ds.done.all())
    assert ds.attrs["tasks_computed"] == 24 and ds.attrs["tasks_reused"] == 0
    # shared seeds: net s of every case has seed 7 + s
    assert (ds.net_seed.values == 7 + np.arange(2)).all()
    direct = {"tanh": mf.get_activation("tanh"), "tanh-gpn": mf.get_activation("tanh").gpn(),
              "tanh+x/4": mf.Activation.from_expression("tanh(x) + x/4")}
    for label, act in direct.items():
        for width in (8, 13):
            for weights in ("gaussian", "orthogonal"):
                _assert_case_equals_simulate(ds, act, {"activation": label, "width": width,
                                                       "weights": weights},
                                             width=width, weights=weights, **TINY)
    for k in ("meanfield_version", "numpy_version", "dask_version", "grid", "sweep_config"):
        assert k in ds.attrs


def test_independent_seeds_are_per_case_and_reproducible(client):
    grid = {"activation": ["relu", "tanh"], "width": [6]}
    ds = mf.sweep(grid, n_seeds=3, seed=1, shared_seeds=False, client=client, progress=False,
                  timeout=SWEEP_TIMEOUT_S, **TINY)
    seeds = ds.net_seed.values.ravel()
    assert len(set(seeds.tolist())) == seeds.size  # every (case, seed) its own seed
    again = mf.sweep(grid, n_seeds=3, seed=1, shared_seeds=False, client=client, progress=False,
                     timeout=SWEEP_TIMEOUT_S, **TINY)
    assert (again.net_seed.values == ds.net_seed.values).all()
    _assert_case_equals_simulate(ds, mf.get_activation("tanh"), {"activation": "tanh", "width": 6},
                                 width=6, **TINY)


def test_eps_grid_uses_the_solver_activation(client):
    ds = mf.sweep({"activation": ["dselu"], "eps": [0.03, 0.06]}, width=8, n_seeds=1,
                  client=client, progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    assert ds.q.dims == ("activation", "eps", "seed", "layer")
    for eps in (0.03, 0.06):
        act = mf.solve("dselu", eps).activation
        _assert_case_equals_simulate(ds, act, {"activation": "dselu", "eps": eps}, width=8, **TINY)


@pytest.mark.slow  # LocalCluster round trips: 3-10 s; the bit-for-bit test stays in the default tier
def test_bias_var_and_input_correlation_grid_keys(client):
    """simulate()'s bias_var and input_correlation sweep like any argument; c is recorded."""
    grid = {"bias_var": [0.0, 0.25], "input_correlation": [0.3, 0.9]}
    ds = mf.sweep(grid, activation="tanh", width=10, n_seeds=2, client=client, progress=False,
                  timeout=SWEEP_TIMEOUT_S, **TINY)
    assert ds.c.dims == ("bias_var", "input_correlation", "seed", "layer")
    assert np.isfinite(ds.c.values).all()
    for bias_var in (0.0, 0.25):
        for rho in (0.3, 0.9):
            _assert_case_equals_simulate(ds, mf.get_activation("tanh"),
                                         {"bias_var": bias_var, "input_correlation": rho},
                                         width=10, bias_var=bias_var, input_correlation=rho, **TINY)


def test_depth_grid_pads_shallower_cases_with_nan(client):
    ds = mf.sweep({"depth": [2, 5]}, activation="tanh", width=6, n_seeds=1, client=client,
                  progress=False, timeout=SWEEP_TIMEOUT_S, batch=2, backend="numpy")
    assert ds.sizes["layer"] == 5
    assert np.isnan(ds.q.sel(depth=2).values[0, 2:]).all()
    assert np.isfinite(ds.q.sel(depth=5).values).all()


@pytest.mark.slow  # LocalCluster round trips: 3-10 s; the bit-for-bit test stays in the default tier
def test_failing_task_is_reported_with_its_case_and_others_kept(client, tmp_path):
    out = tmp_path / "fail.zarr"
    with pytest.raises(SweepError, match="weight_var") as info:
        mf.sweep({"weight_var": [1.0, -1.0], "width": [8]}, activation="tanh", n_seeds=2,
                 client=client, out=out, progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    err = info.value
    assert len(err.failures) == 2
    assert all(f["case"] == {"weight_var": -1.0, "width": 8} for f in err.failures)
    assert all("ValueError" in f["error"] and "weight_var" in f["error"] for f in err.failures)
    for ds in (err.dataset, load_sweep(out)):
        assert bool(ds.done.sel(weight_var=1.0).all()) and not bool(ds.done.sel(weight_var=-1.0).any())
        assert np.isnan(ds.q.sel(weight_var=-1.0).values).all()
        _assert_case_equals_simulate(ds, mf.get_activation("tanh"), {"weight_var": 1.0, "width": 8},
                                     weight_var=1.0, width=8, **TINY)


def test_failure_inside_a_group_of_tiny_tasks_is_its_own(client, monkeypatch):
    # tiny tasks travel several to a Dask task; one bad case in a group fails alone, with its case,
    # and its group's other tasks are kept and exact
    from meanfield.sweeps import _tasks

    groups, original = [], _tasks.group_tasks

    def recording(tasks, n_workers):
        groups.extend(original(tasks, n_workers))
        return groups

    monkeypatch.setattr(_tasks, "group_tasks", recording)
    grid = {"weight_var": [1.0, -1.0, 1.5], "width": [4, 5, 6]}
    with pytest.raises(SweepError) as info:
        mf.sweep(grid, activation="tanh", n_seeds=4, client=client, progress=False,
                 timeout=SWEEP_TIMEOUT_S, **TINY)
    mixed = [g for g in groups if len({t["kwargs"]["weight_var"] for t in g}) > 1]
    assert len(groups) < 36 and mixed, [len(g) for g in groups]  # grouped, bad and good together
    err = info.value
    assert len(err.failures) == 12 and all(f["case"]["weight_var"] == -1.0 for f in err.failures)
    assert all(f["error"].startswith("ValueError:") and "weight_var" in f["error"] for f in err.failures)
    ds = err.dataset
    assert int(ds.done.sum()) == 24 and not bool(ds.done.sel(weight_var=-1.0).any())
    for wv in (1.0, 1.5):
        for width in (4, 5, 6):
            _assert_case_equals_simulate(ds, mf.get_activation("tanh"), {"weight_var": wv, "width": width},
                                         weight_var=wv, width=width, **TINY)


def test_local_cluster_workers_run_without_the_statistical_profiler(client):
    # start_local_cluster's setting reaches every worker process (the nannies pass it on)
    import dask

    from meanfield.sweeps._run import LOCAL_CLUSTER_CONFIG

    assert LOCAL_CLUSTER_CONFIG == {"distributed.worker.profile.enabled": False}
    seen = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert len(seen) == 2 and not any(seen.values())
    assert dask.config.get("distributed.worker.profile.enabled")  # this process's config is untouched


def test_group_tasks_keeps_order_and_bounds():
    from meanfield.sweeps._tasks import GROUP_SECONDS, estimated_seconds, group_tasks

    sizes = [(200, 500, 16), (100, 192, 8), (30, 64, 8), (4, 5, 3), (1, 2, 1)]
    tasks = [{"kwargs": {"depth": d, "width": w, "batch": b}, "i": i}
             for i, (d, w, b) in enumerate(sizes * 7)]
    tasks.sort(key=estimated_seconds, reverse=True)
    for n_workers in (1, 2, 16):
        groups = group_tasks(tasks, n_workers)
        assert [t["i"] for g in groups for t in g] == [t["i"] for t in tasks]  # order, every task once
        cap = -(-len(tasks) // (4 * n_workers))
        for g in groups:
            assert len(g) <= cap
            assert len(g) == 1 or sum(estimated_seconds(t) for t in g) <= GROUP_SECONDS
    # realistic tasks (seconds each) are never grouped
    assert all(len(g) == 1 for g in group_tasks(tasks[:7], 1))


@pytest.mark.slow  # LocalCluster round trips: 3-10 s; the bit-for-bit test stays in the default tier
@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_interrupted_sweep_resumes_computing_only_missing_tasks(client, tmp_path, monkeypatch,
                                                                suffix):
    if suffix == ".nc":
        pytest.importorskip("netCDF4")
    from meanfield.sweeps import _run, _store

    out = tmp_path / f"resume{suffix}"
    grid = {"activation": ["tanh", "relu"], "width": [5, 7, 9]}
    kwargs = dict(n_seeds=2, client=client, out=out, progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    original_add = _store.Results.add
    calls = []

    def add_then_interrupt(self, task, result):  # Ctrl-C after the 5th result arrived
        original_add(self, task, result)
        calls.append(task)
        if len(calls) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(_store.Results, "add", add_then_interrupt)
    monkeypatch.setattr(_run, "CHECKPOINT_SECONDS", 1e9)  # only the final checkpoint writes
    with pytest.raises(KeyboardInterrupt):
        mf.sweep(grid, **kwargs)
    monkeypatch.setattr(_store.Results, "add", original_add)
    partial = load_sweep(out)
    assert int(partial.done.sum()) == 5  # the checkpoint on the way out kept them
    # mark the stored results: a rerun that recomputed them would overwrite the sentinel
    stored = [(t["case"], t["seed_index"]) for t in calls]
    sentinel = 12345.0
    _overwrite_q(out, partial, stored, sentinel)
    ds = mf.sweep(grid, **kwargs)
    assert ds.attrs["tasks_reused"] == 5 and ds.attrs["tasks_computed"] == 12 - 5
    assert bool(ds.done.all())
    labels, widths = ("tanh", "relu"), (5, 7, 9)
    for c in range(6):
        label, width = labels[c // 3], widths[c % 3]
        for s in range(2):
            case = ds.sel(activation=label, width=width, seed=s)
            if (c, s) in stored:
                assert (case.q.values == sentinel).all()  # reused, not recomputed
                continue
            trace = mf.simulate(label, seed=int(case.net_seed), n_seeds=1, width=width, **TINY)
            for k in RECORDS:
                assert _bits(case[k].values) == _bits(trace.record(k)[0]), (label, width, s, k)
    on_disk = load_sweep(out)
    assert bool(on_disk.done.all())
    np.testing.assert_array_equal(on_disk.q.values, ds.q.values)


def _overwrite_q(out, ds, stored, value):
    shape = ds.done.shape[:-1]
    if str(out).endswith(".zarr"):
        group = zarr.open_group(str(out), mode="r+")
        for c, s in stored:
            idx = np.unravel_index(c, shape)
            group["q"][(*idx, s)] = np.full(ds.sizes["layer"], value)
    else:
        q = ds.q.values.copy()
        for c, s in stored:
            q[(*np.unravel_index(c, shape), s)] = value
        ds = ds.assign(q=(ds.q.dims, q, ds.q.attrs))
        ds.to_netcdf(str(out) + ".tmp")
        os.replace(str(out) + ".tmp", out)


@pytest.mark.slow  # LocalCluster round trips: 3-10 s; the bit-for-bit test stays in the default tier
def test_timeout_stops_waiting_and_keeps_a_resumable_store(client, tmp_path):
    out = tmp_path / "slow.zarr"
    grid = {"activation": ["tanh"], "width": [64, 96]}
    kwargs = dict(depth=40, batch=8, backend="numpy", n_seeds=3, client=client, out=out,
                  progress=False)
    with pytest.raises(TimeoutError):
        mf.sweep(grid, timeout=1e-3, **kwargs)
    assert int(load_sweep(out).done.sum()) < 6
    ds = mf.sweep(grid, timeout=SWEEP_TIMEOUT_S, **kwargs)
    assert bool(ds.done.all())
    assert ds.attrs["tasks_computed"] + ds.attrs["tasks_reused"] == 6


def test_resume_refuses_a_different_sweep(client, tmp_path):
    out = tmp_path / "one.zarr"
    mf.sweep({"width": [4]}, activation="relu", n_seeds=1, client=client, out=out, progress=False,
             timeout=SWEEP_TIMEOUT_S, **TINY)
    with pytest.raises(ValueError, match=r"different sweep.*grid"):
        mf.sweep({"width": [4, 5]}, activation="relu", n_seeds=1, client=client, out=out,
                 progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    again = mf.sweep({"width": [4]}, activation="relu", n_seeds=1, client=client, out=out,
                     progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    assert again.attrs["tasks_computed"] == 0 and again.attrs["tasks_reused"] == 1


@pytest.mark.slow
def test_killed_worker_mid_sweep_still_completes_every_case(client):
    """os._exit in one worker while it runs a task: the scheduler reruns its tasks elsewhere."""
    grid = {"activation": ["tanh", "relu"], "width": [64, 80, 96], "weight_var": [1.0, 1.5]}
    kwargs = dict(depth=30, batch=8, backend="numpy")
    killed = {}

    def kill_one_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                if any("meanfield-sweep" in str(k) for k in keys):
                    killed["worker"], killed["keys"] = worker, list(keys)
                    client.run(os._exit, 1, workers=[worker], on_error="ignore")
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
    killer.start()
    ds = mf.sweep(grid, n_seeds=2, client=client, progress=False, timeout=SWEEP_TIMEOUT_S, **kwargs)
    killer.join(timeout=5)
    assert killed, "no worker was killed: the sweep finished before the killer saw a task"
    assert bool(ds.done.all()) and ds.attrs["tasks_computed"] == 24
    for label in ("tanh", "relu"):
        for width in (64, 80, 96):
            for wv in (1.0, 1.5):
                _assert_case_equals_simulate(ds, mf.get_activation(label),
                                             {"activation": label, "width": width, "weight_var": wv},
                                             width=width, weight_var=wv, **kwargs)
    # the process really died: the nanny restarts it at a new address
    assert killed["worker"] not in client.scheduler_info()["workers"]


def test_a_cluster_object_is_used_and_left_running(client):
    ds = mf.sweep({"width": [4]}, activation="relu", n_seeds=1, client=client.cluster,
                  progress=False, timeout=SWEEP_TIMEOUT_S, **TINY)
    assert bool(ds.done.all())
    assert client.cluster.status.name == "running"
    assert "NaN where a case does not record it" in ds.c.attrs["long_name"]
    assert np.isnan(ds.c.values).all()  # no input_correlation: c is not recorded


def test_scheduler_address_string_is_used(client, capsys):
    ds = mf.sweep({"width": [4]}, activation="relu", n_seeds=1, client=client.scheduler.address,
                  progress=True, timeout=SWEEP_TIMEOUT_S, **TINY)
    assert bool(ds.done.all())
    assert "Dask scheduler" in capsys.readouterr().err


@pytest.mark.slow
def test_default_local_cluster_starts_prints_and_shuts_down(capfd):
    before = {p.pid for p in _children()}
    ds = mf.sweep({"activation": ["tanh", "tanh-gpn"]}, width=6, n_seeds=2, n_workers=2,
                  progress=True, timeout=SWEEP_TIMEOUT_S, **TINY)
    assert bool(ds.done.all())
    err = capfd.readouterr().err
    assert "local Dask cluster, 2 worker processes x 1 thread; dashboard:" in err
    assert "meanfield sweep" in err  # the progress bar
    assert _wait_no_children(before) == [], "the local cluster's workers outlived the sweep"
    _assert_case_equals_simulate(ds, mf.get_activation("tanh").gpn(), {"activation": "tanh-gpn"},
                                 width=6, **TINY)


@pytest.mark.slow
def test_cli_runs_a_config_on_a_scheduler_and_resumes(client, tmp_path, capsys):
    from meanfield.cli import main

    config = tmp_path / "study.toml"
    config.write_text('[sweep]\ndepth = 4\nbatch = 3\nbackend = "numpy"\nn_seeds = 2\n'
                      'out = "study.nc"\n[grid]\nactivation = ["tanh", "tanh-gpn"]\n'
                      'width = [5, 7]\n', encoding="utf-8")
    out = tmp_path / "study.zarr"
    argv = ["sweep", str(config), "--scheduler", client.scheduler.address, "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    assert "8 tasks computed, 0 reused, 0 failed" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["tasks_computed"] == 0 and summary["tasks_reused"] == 8
    assert summary["dims"] == {"activation": 2, "width": 2, "seed": 2, "layer": 4}
    ds = load_sweep(out)
    _assert_case_equals_simulate(ds, mf.get_activation("tanh").gpn(),
                                 {"activation": "tanh-gpn", "width": 7}, width=7, **TINY)


def test_cli_reports_failed_tasks_with_exit_1(client, tmp_path, capsys):
    from meanfield.cli import main

    config = tmp_path / "bad.toml"
    config.write_text('[sweep]\ndepth = 2\nwidth = 4\nactivation = "relu"\nbackend = "numpy"\n'
                      '[grid]\nweight_var = [1.0, -2.0]\n', encoding="utf-8")
    status = main(["sweep", str(config), "--scheduler", client.scheduler.address,
                   "--out", str(tmp_path / "bad.zarr"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and "weight_var=-2.0" in err and "1 of 2 sweep tasks failed" in err


@pytest.mark.slow
def test_report_figure_from_a_stored_sweep(client, tmp_path):
    from meanfield.report import ReportContext
    from meanfield.report.sweep import gradient_ratio, lu_width_sweep

    out = tmp_path / "lu.zarr"
    ds = mf.sweep({"activation": ["tanh-gpn", "selu"], "width": [8, 32]}, depth=12, n_seeds=2,
                  batch=2, weights="orthogonal", backend="numpy", client=client, out=out,
                  progress=False, timeout=SWEEP_TIMEOUT_S)
    (tmp_path / "figs").mkdir()
    claims = lu_width_sweep(ReportContext(tmp_path / "figs"), result=str(out))
    assert (tmp_path / "figs" / "lu_width_sweep.png").exists()
    assert len(claims) == 1 and "tanh-gpn" in claims[0].measured
    # the ratio is max/min over layers of each net's |dE/dW_l|_F
    g = ds.grad_w_fro.sel(activation="selu", width=8, seed=1).values
    assert float(gradient_ratio(ds).sel(activation="selu", width=8, seed=1)) == g.max() / g.min()


CRASHING_SWEEP = """
import sys
import meanfield as mf
from meanfield.sweeps import _run
_run.CHECKPOINT_SECONDS = 0.0  # checkpoint after every batch of results
_run.GATHER_SECONDS = 0.0  # and gather every batch as it finishes
mf.sweep({"activation": ["tanh", "relu"], "width": [48, 64, 80]}, depth=30, batch=8,
         backend="numpy", n_seeds=4, client=sys.argv[1], out=sys.argv[2], progress=False)
"""


@pytest.mark.slow
def test_sweep_killed_with_sigkill_resumes_from_its_zarr_store(client, tmp_path):
    """A hard crash (SIGKILL of the client process) leaves a store whose done tasks are intact."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "crash.zarr"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_SWEEP, client.scheduler.address, str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = 0
    try:
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done = int(zarr.open_group(str(out), mode="r")["done"][...].sum())
            except Exception:  # noqa: BLE001 - the store is being created
                done = 0
            if done >= 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before it could be killed (machine too fast for this test)")
    stored = int(load_sweep(out).done.sum())
    assert 2 <= stored < 24
    ds = mf.sweep({"activation": ["tanh", "relu"], "width": [48, 64, 80]}, depth=30, batch=8,
                  backend="numpy", n_seeds=4, client=client, out=out, progress=False,
                  timeout=SWEEP_TIMEOUT_S)
    assert ds.attrs["tasks_reused"] == stored and ds.attrs["tasks_computed"] == 24 - stored
    for label in ("tanh", "relu"):
        for width in (48, 64, 80):
            _assert_case_equals_simulate(ds, mf.get_activation(label),
                                         {"activation": label, "width": width}, width=width,
                                         depth=30, batch=8, backend="numpy")
