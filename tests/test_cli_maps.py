"""Command line: activations, maps, gpn; usage errors exit 2 with one line on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from meanfield.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_activations_lists_every_builtin(capsys):
    code, out, _ = run(capsys, "activations", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["name"] for r in rows} >= {"relu", "sselu", "lselu", "nswish"}
    assert next(r for r in rows if r["name"] == "lrelu")["parameters"] == {"slope": 0.01}


def test_maps_json_matches_the_api(capsys):
    import meanfield as mf

    code, out, _ = run(capsys, "maps", "sselu", "--param", "lam=1.05", "--param", "alpha=1.6",
                       "--param", "beta=1.3", "--q", "0.5", "2", "--json")
    data = json.loads(out)
    act = mf.get_activation("sselu", lam=1.05, alpha=1.6, beta=1.3)
    assert code == 0 and [r["q"] for r in data["rows"]] == [0.5, 2.0]
    assert data["rows"][1]["phi"] == float(mf.phi(act, 2.0))
    assert data["gamma1"] == float(mf.gamma1(act))


def test_gpn_prints_both_equalities(capsys):
    code, out, _ = run(capsys, "gpn", "tanh", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["E[(a f + b)^2]"] == pytest.approx(1, rel=1e-12)
    assert data["E[(a f')^2]"] == pytest.approx(1, rel=1e-12)
    code, out, _ = run(capsys, "maps", "relu", "--gpn", "--q", "1")
    assert code == 0 and "relu-gpn" in out


@pytest.mark.parametrize("argv, message", [
    (["maps", "selu", "--q", "-1"], "--q must be finite and > 0"),
    (["maps", "nosuch"], "unknown activation"),
    (["maps", "selu", "--param", "lam"], "--param expects KEY=VALUE"),
    (["maps", "selu", "--param", "lam=x"], "value must be a number"),
    (["maps", "dselu"], "needs parameter"),
    (["gpn", "selu", "--sign", "3"], "invalid choice"),
    (["maps", "selu", "--method", "simpson"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "meanfield", "maps", "relu", "--q", "-3"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stdout == ""
