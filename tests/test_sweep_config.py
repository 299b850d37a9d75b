"""Sweep configurations are checked before any task starts (no Dask cluster is started here).

Every bad configuration must fail with the offending key in the message: as a ValueError from
``meanfield.sweep`` and as exit status 2 with one line on stderr from ``meanfield sweep``. The
client given is an address where no scheduler listens, so a check that ran after connecting
would fail with a connection error instead of the expected message.
"""

from __future__ import annotations

import numpy as np
import pytest

import meanfield as mf
from meanfield.cli import main
from meanfield.sweeps import read_config, sweep_keys
from meanfield.sweeps._specs import build_activation, resolve_activation

NOWHERE = "tcp://127.0.0.1:9"  # discard port: nothing listens
BASE = {"depth": 3, "width": 4, "n_seeds": 1, "client": NOWHERE, "progress": False}


@pytest.mark.parametrize(("grid", "extra", "key"), [
    ({"widht": [4, 8]}, {}, "widht"),
    ({"seed": [1, 2]}, {}, "seed"),
    ({"act": ["tanh"]}, {}, "act"),
    ({"histogram_layers": [[1]]}, {}, "histogram_layers"),
    ({"weight_var": []}, {}, "weight_var"),
    ({"weight_var": [1.0, 1.0]}, {}, "weight_var"),
    ({"weight_var": 1.0}, {}, "weight_var"),
    ({"weights": ["gaussian", 2]}, {}, "weights"),
    ({"weight_var": [float("nan")]}, {}, "weight_var"),
    ({"depth": [3, 0]}, {}, "depth"),
    ({"activation": ["tanh", "nonsense"]}, {}, "nonsense"),
    ({"activation": [{"name": "lrelu", "params": {"slopee": 0.1}}]}, {}, "slopee"),
    ({"activation": [{"name": "tanh", "colour": "red"}]}, {}, "colour"),
    ({"activation": ["tanh", {"name": "tanh"}]}, {}, "label"),
    ({"activation": ["sselu"], "eps": [0.03, 5.0]}, {}, "eps"),
    ({"activation": ["tanh"], "eps": [0.03]}, {}, "eps"),
    ({"activation": ["dselu"], "eps": [-0.1]}, {}, "eps"),
    ({"width": [4]}, {}, "given both"),
    ({"activation": [{"expression": "__import__('os').system('true')"}]}, {}, "activation"),
    ({"activation": [{"expression": "x", "label": ""}]}, {}, "label"),
    ({"activation": [None]}, {}, "activation"),
    ({"weights": ["gaussian\x00"], "width": [[4]]}, {}, "width"),
])
def test_bad_grid_fails_before_any_task_naming_the_key(grid, extra, key):
    kwargs = {**BASE, **extra}
    if "activation" not in grid:
        kwargs["activation"] = "tanh"
    with pytest.raises(ValueError, match=key):
        mf.sweep(grid, **kwargs)


def test_missing_required_settings_and_bad_options():
    with pytest.raises(ValueError, match="activation is required"):
        mf.sweep({"width": [4]}, depth=3, client=NOWHERE)
    with pytest.raises(ValueError, match="depth is required"):
        mf.sweep({"width": [4]}, activation="tanh", client=NOWHERE)
    with pytest.raises(ValueError, match="n_seeds"):
        mf.sweep({"width": [4]}, activation="tanh", depth=3, n_seeds=0, client=NOWHERE)
    with pytest.raises(ValueError, match="n_workers applies to the local cluster"):
        mf.sweep({"width": [4]}, activation="tanh", depth=3, client=NOWHERE, n_workers=2)
    with pytest.raises(ValueError, match=r"out must end with \.zarr or \.nc"):
        mf.sweep({"width": [4]}, activation="tanh", depth=3, client=NOWHERE, out="result.csv")
    with pytest.raises(ValueError, match="cannot travel"):
        custom = mf.Activation.from_callables(np.tanh, lambda x: 1 - np.tanh(x) ** 2)
        mf.sweep({"width": [4]}, activation=custom, depth=3, client=NOWHERE)


def test_sweep_keys_follow_simulate_signature():
    import inspect

    keys = set(sweep_keys())
    params = set(inspect.signature(mf.simulate).parameters)
    assert {"activation", "eps", "width", "depth", "weights", "weight_var", "dtype", "backend"} <= keys
    assert keys - {"activation", "eps"} <= params  # nothing invented
    assert not keys & {"seed", "seeds", "n_seeds", "act", "progress"}


@pytest.mark.parametrize("spec", ["selu-gpn", {"name": "lrelu", "params": {"slope": 0.2}, "gpn": True},
                                  {"expression": "Piecewise((x, x > 0), (a*x, True))",
                                   "params": {"a": 0.3}, "gpn": True, "label": "mine"}])
def test_specs_rebuild_the_same_activation_bit_for_bit(spec):
    """A worker's activation (rebuilt from the JSON spec) equals the user's own construction."""
    direct = {"selu-gpn": lambda: mf.get_activation("selu").gpn(),
              "lrelu(slope=0.2)-gpn": lambda: mf.get_activation("lrelu", slope=0.2).gpn(),
              "mine": lambda: mf.Activation.from_expression(
                  "Piecewise((x, x > 0), (a*x, True))", params={"a": 0.3}).gpn()}
    label, resolved = resolve_activation(spec)
    rebuilt, expected = build_activation(resolved), direct[label]()
    x = np.linspace(-30, 30, 2001)
    assert rebuilt.f(x).tobytes() == expected.f(x).tobytes()
    assert rebuilt.df(x).tobytes() == expected.df(x).tobytes()
    # an Activation object travels too when it is a built-in or its GPN version
    if label == "selu-gpn":
        assert resolve_activation(expected)[1] == resolved


def _write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = """
[sweep]
depth = 3
n_seeds = 1
out = "r.zarr"
[grid]
activation = ["tanh", {name = "tanh", gpn = true}]
width = [4, 6]
"""


def test_example_config_plans_lu_width_study():
    """examples/lu_width.toml: tanh, SELU and their GPN versions, widths 50..500, L = 200."""
    import os

    from meanfield.sweeps._plan import make_plan

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kwargs = read_config(os.path.join(root, "examples", "lu_width.toml"))
    grid = kwargs.pop("grid")
    options = {k: kwargs.pop(k) for k in ("n_seeds", "seed", "out")}
    plan = make_plan(grid, kwargs, n_seeds=options["n_seeds"], seed=options["seed"],
                     shared_seeds=True)
    assert plan.dims == ("activation", "width")
    assert list(plan.coords["activation"]) == ["tanh", "tanh-gpn", "selu", "selu-gpn"]
    assert list(plan.coords["width"]) == [50, 100, 200, 500]
    assert plan.depth == 200 and kwargs["weights"] == "orthogonal"
    assert options["out"].endswith(os.path.join("examples", "lu_width.zarr"))


def test_read_config_gives_sweep_arguments(tmp_path):
    path = _write(tmp_path, GOOD)
    kwargs = read_config(path)
    assert kwargs["grid"]["width"] == [4, 6]
    assert kwargs["depth"] == 3 and kwargs["n_seeds"] == 1
    assert kwargs["out"] == str(tmp_path / "r.zarr")  # relative to the config's folder


@pytest.mark.parametrize(("text", "key"), [
    (GOOD.replace("n_seeds = 1", "n_seed = 1"), "n_seed"),
    (GOOD.replace("width = [4, 6]", "width = []"), "width"),
    (GOOD.replace("width = [4, 6]", "widht = [4, 6]"), "widht"),
    (GOOD.replace('activation = ["tanh", {name = "tanh", gpn = true}]',
                  'activation = ["sselu"]\neps = [0.03, 9.0]'), "eps"),
    (GOOD + "\n[extra]\nx = 1\n", "extra"),
    (GOOD.replace("[grid]", "[grid\n"), "TOML"),
    (GOOD.replace('activation = ["tanh", {name = "tanh", gpn = true}]', 'activation = ["tahn"]'), "tahn"),
])
def test_cli_bad_config_exits_2_with_one_line_naming_the_key(tmp_path, capsys, text, key):
    status = main(["sweep", _write(tmp_path, text), "--scheduler", NOWHERE])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("meanfield: error:") and key in err
    assert not (tmp_path / "r.zarr").exists()  # nothing written


def test_cli_usage_errors(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace('out = "r.zarr"\n', ""))
    assert main(["sweep", path, "--scheduler", NOWHERE]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["sweep", path, "--scheduler", NOWHERE, "--workers", "2", "--out", "x.zarr"]) == 2
    assert "--scheduler" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", "x.zarr"]) == 2
    assert "cannot read config" in capsys.readouterr().err
