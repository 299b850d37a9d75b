"""What the subcommands print: one JSON schema per command, tables that line up, --q accumulating,
``simulate --out`` still printing its table, and usage errors with one prefix."""

from __future__ import annotations

import json

import mpmath
import pytest

from meanfield.cli import main
from meanfield.report._core import Claim


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_repeated_q_options_accumulate(capsys):
    code, out, _ = run(capsys, "maps", "relu", "--q", "0.5", "--q", "2", "3", "--json")
    rows = json.loads(out)["rows"]
    assert code == 0 and [r["q"] for r in rows] == [0.5, 2.0, 3.0]
    # ReLU: E f(sqrt(q) z)^2 = q/2 exactly
    assert [r["second_moment"] for r in rows] == pytest.approx([0.25, 1.0, 1.5], rel=1e-13)


def test_maps_prints_gamma1_and_the_gpn_constants(capsys):
    code, out, _ = run(capsys, "maps", "tanh", "--json")
    data = json.loads(out)
    # reference: a = E[tanh'(z)^2]^(-1/2) by 30-digit mpmath quadrature
    mpmath.mp.dps = 30
    e_df2 = mpmath.quad(lambda z: mpmath.sech(z) ** 4 * mpmath.npdf(z), [-mpmath.inf, mpmath.inf])
    assert data["gpn_constants"]["a"] == pytest.approx(float(e_df2 ** -0.5), rel=1e-10)
    assert isinstance(data["gpn_constants"]["b"], float) and isinstance(data["gamma1"], float)
    code, text, _ = run(capsys, "maps", "tanh")
    assert f"{data['gamma1']:.12g}" in text and f"{data['gpn_constants']['a']:.12g}" in text


def test_activation_table_columns_line_up(capsys):
    code, out, _ = run(capsys, "activations")
    lines = out.splitlines()
    # the description column starts at the same offset on every row (SELU's long defaults included)
    starts = {line.index(desc) for line, desc in zip(lines, (r["description"] for r in _rows(capsys)),
                                                       strict=True)}
    assert code == 0 and len(starts) == 1


def _rows(capsys):
    main(["activations", "--json"])
    return json.loads(capsys.readouterr().out)


def test_solve_json_has_one_schema(capsys):
    shapes = []
    for eps in (["0.03"], ["0.01", "0.02"]):
        code, out, _ = run(capsys, "solve", "dselu", "--eps", *eps, "--json")
        data = json.loads(out)
        assert code == 0 and len(data["solutions"]) == len(eps) == len(data["rows"])
        shapes.append(sorted(data))
    assert shapes[0] == shapes[1] == ["columns", "rows", "solutions"]


def test_simulate_with_out_prints_the_table(capsys, tmp_path):
    code, out, _ = run(capsys, "simulate", "relu", "--depth", "3", "--width", "16", "--seeds", "2",
                       "--out", tmp_path / "run.npz")
    assert code == 0 and (tmp_path / "run.npz").exists()
    lines = out.splitlines()
    assert lines[1].split()[0] == "layer" and len(lines) == 2 + 3 + 1 and lines[-1].startswith("wrote")


def test_parse_errors_carry_one_prefix(capsys):
    code, _, err = run(capsys, "maps", "relu", "--q", "x")
    assert code == 2 and err.startswith("meanfield: error: maps: argument --q")
    assert err.count("meanfield") == 1


def test_claims_serialize_measured_numbers():
    claim = Claim("src", "a claim", "a = 1.414214, b = 0.0e+00", True)
    assert claim.to_dict()["measured"] == {"a": 1.414214, "b": 0.0}
    claim = Claim("src", "x", "0.0716", True, values={"eps": 0.0715795})
    data = claim.to_dict()
    assert data["measured"] == {"eps": 0.0715795} and data["measured_text"] == "0.0716"
