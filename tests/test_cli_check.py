"""``meanfield check``: verdict, exit status, tolerances from the parameters' precision, --from/--expr."""

from __future__ import annotations

import json

import mpmath
import pytest

import meanfield as mf
from meanfield.cli import main

#: Chen et al., Table 5: sSELU at eps = 0.03 as printed (six decimals; lam = 1 is the active bound)
TABLE5_SSELU = {"lam": 1.0, "alpha": 2.618672, "beta": 0.560804}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _second_moment_mp(lam, alpha, beta):
    """E[f(z)^2] of sSELU in 30-digit mpmath, independent of meanfield's engines."""
    mpmath.mp.dps = 30
    lam, alpha, beta = (mpmath.mpf(repr(v)) for v in (lam, alpha, beta))
    density = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
    neg = mpmath.quad(lambda z: (lam * alpha * (mpmath.exp(beta * z) - 1)) ** 2 * density(z), [-mpmath.inf, 0])
    return float(lam**2 / 2 + neg)


def test_table5_parameters_pass_definition2_within_their_rounding(capsys):
    # E f^2 at the printed parameters is 1 + 3.9e-7 (reference: mpmath, 30 digits): rounding the
    # parameters to 6 decimals moves E f^2 by up to sum |dEf^2/dp| * 5e-7 ~ 7.9e-7, so it must pass.
    excess = _second_moment_mp(**TABLE5_SSELU) - 1
    assert 3.5e-7 < excess < 4.3e-7
    code, out, _ = run(capsys, "check", "sselu", *(f"--param={k}={v}" for k, v in TABLE5_SSELU.items()), "--json")
    data = json.loads(out)
    assert code == 0 and data["passed"] is True and data["failed"] == []
    d2 = next(c for c in data["checks"] if c["name"] == "definition2")
    assert d2["measured"]["E_f2_minus_1"] == pytest.approx(excess, rel=1e-6)  # engines: <= 1e-10 absolute
    assert excess < d2["measured"]["tolerance"] < 2e-6
    # q* solves E f(sqrt(q) z)^2 = q; with E f^2 - 1 = e and slope s = dE f^2/dq at 1, q* - 1 ~ e / (1 - s)
    assert abs(d2["measured"]["q_star"] - 1) < 1e-5 and d2["measured"]["q_star"] != 1


def test_a_tight_rtol_makes_the_same_parameters_fail(capsys):
    code, out, _ = run(capsys, "check", "sselu", *(f"--param={k}={v}" for k, v in TABLE5_SSELU.items()),
                       "--rtol", "1e-10")
    assert code == 1
    assert "FAILED" in out.splitlines()[-1] and "definition2" in out.splitlines()[-1]


def test_failures_exit_1_with_a_summary_and_passed_false(capsys):
    code, out, _ = run(capsys, "check", "relu")
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("FAILED:") and "of 10 checks passed" in last
    code, out, _ = run(capsys, "check", "relu", "--json")
    data = json.loads(out)
    assert code == 1 and data["passed"] is False and "definition2" in data["failed"]
    checks = {c["name"]: c for c in data["checks"]}
    assert not checks["definition2"]["passed"] and checks["definition2"]["counterexample"]["q"] < 1
    assert data["passed"] == all(c["passed"] for c in data["checks"])


def test_a_solution_flows_from_solve_into_check(capsys, tmp_path):
    code, out, _ = run(capsys, "solve", "sselu", "--eps", "0.03", "--json")
    assert code == 0
    path = tmp_path / "s.json"
    path.write_text(out)
    code, out, _ = run(capsys, "check", "--from", path)
    assert code == 0 and out.strip().splitlines()[-1] == "PASSED: 10 of 10 checks passed"
    code, out, _ = run(capsys, "maps", "--from", path, "--json")
    sol = mf.solve("sselu", eps=0.03)
    assert json.loads(out)["rows"][0]["phi"] == pytest.approx(1.03, abs=1e-10)
    assert json.loads(out)["activation"]["params"] == sol.params


def test_expr_activations_everywhere(capsys):
    code, out, _ = run(capsys, "maps", "--expr", "Piecewise((x, x > 0), (a*x, True))", "--param", "a=0.2",
                       "--json")
    # leaky ReLU with slope a: phi(q) = (1 + a^2)/2 for every q (exact)
    assert code == 0 and json.loads(out)["rows"][0]["phi"] == pytest.approx(0.52, rel=1e-12)
    code, out, _ = run(capsys, "gpn", "--expr", "2*x + 1", "--json")
    # f = 2x + 1: a = E[f'^2]^(-1/2) = 1/2, b = -a E f + sqrt(1 - a^2 Var f) = -1/2 (exact)
    data = json.loads(out)
    assert code == 0 and data["a"] == pytest.approx(0.5, rel=1e-12) and data["b"] == pytest.approx(-0.5, rel=1e-12)


def test_check_gpn_names_the_activation_once(capsys):
    code, out, _ = run(capsys, "check", "tanh", "--gpn")
    assert "gpn-gpn" not in out and "tanh-gpn" in out


@pytest.mark.parametrize("argv, message", [
    (["check"], "give exactly one of ACT, --expr SYMPY, --from FILE"),
    (["check", "tanh", "--expr", "x"], "got ACT and --expr"),
    (["check", "--from", "/nonexistent/s.json"], "--from /nonexistent/s.json"),
    (["check", "tanh", "--rtol", "-1"], "--rtol must be >= 0"),
    (["maps", "--expr", "__import__('os')"], "expression"),
])
def test_bad_activation_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("meanfield: error:") and message in err


def test_from_a_sweep_asks_for_one_solution(capsys, tmp_path):
    code, out, _ = run(capsys, "solve", "dselu", "--eps", "0.01", "0.02", "--json")
    path = tmp_path / "sweep.json"
    path.write_text(out)
    code, out, err = run(capsys, "check", "--from", path)
    assert code == 2 and "holds 2 solutions" in err


def test_a_solution_flows_into_simulate(capsys, tmp_path):
    code, out, _ = run(capsys, "solve", "sselu", "--eps", "0.03", "--json")
    path = tmp_path / "s.json"
    path.write_text(out)
    code, out, _ = run(capsys, "simulate", "--from", path, "--depth", "3", "--width", "16", "--seeds", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["activation"]["params"] == mf.solve("sselu", eps=0.03).params
