"""``meanfield cmap`` and ``meanfield phase``: output, JSON, and one-line usage errors (exit 2)."""

from __future__ import annotations

import json
import math

import pytest

from meanfield.cli import main


def test_cmap_json_at_given_q(capsys):
    assert main(["cmap", "relu", "--c", "0", "1", "--q", "2", "--weight-var", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["rows"]
    # ReLU, sigma_w^2 = 2: c-map(0) = 1/pi (arc-cosine kernel), c-map(1) = 1, slope(1) = chi1 = 1
    assert rows[0]["c_map"] == pytest.approx(1 / math.pi, rel=1e-14)
    assert rows[1]["c_map"] == pytest.approx(1.0, rel=1e-15)
    assert rows[1]["chi_c"] == pytest.approx(1.0, rel=1e-14)


def test_cmap_text_at_fixed_point(capsys):
    assert main(["cmap", "tanh", "--c", "0.5", "--weight-var", "1.5", "--bias-var", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "q* =" in out and "chi1 =" in out and "c* =" in out


@pytest.mark.parametrize("argv, match", [
    (["cmap", "tanh", "--c", "1.5"], "--c must be in [-1, 1]"),
    (["cmap", "tanh", "--c", "nan"], "--c must be finite"),
    (["cmap", "tanh", "--weight-var", "-1"], "weight_var must be > 0"),
    (["cmap", "tanh", "--bias-var", "-0.5"], "bias_var must be >= 0"),
    (["cmap", "tanh", "--q", "0"], "--q must be > 0"),
    (["cmap", "relu", "--weight-var", "3", "--bias-var", "0.1"], "diverges"),
    (["phase", "tanh", "--bias-var", "-1"], "bias_var must be >= 0"),
    (["phase", "tanh", "--plot", "/nonexistent-dir/x.png"], "--plot"),
    (["phase", "tanh", "--grid", "0"], "--grid must be an integer >= 2"),  # without --plot too
    (["phase", "tanh", "--max-weight-var", "inf"], "--max-weight-var must be finite"),
])
def test_usage_errors_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err


def test_phase_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "phase.png"
    argv = ["phase", "relu", "--bias-var", "0", "--plot", str(plot), "--grid", "2", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["critical_weight_var"] == pytest.approx(2.0, rel=1e-12)
    assert plot.stat().st_size > 1000
