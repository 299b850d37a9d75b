"""``meanfield report`` writes every figure it lists and a README with no figure missing."""

from __future__ import annotations

import json
import re

import pytest

from meanfield.cli import main


@pytest.mark.slow  # every section: ~75 s of CPU
def test_report_writes_figures_and_readme(tmp_path, capsys):
    code = main(["report", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out  # exit 1 would mean some claim does not hold
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert figures, readme
    for name in figures:
        assert (tmp_path / name).stat().st_size > 1000
        assert (tmp_path / name.replace(".png", ".svg")).exists()
    assert "| yes |" in readme and "**no**" not in readme


def test_svg_output_is_byte_reproducible(tmp_path):
    """Regenerating an unchanged figure rewrites identical bytes: no date stamp, salted SVG ids."""
    import types

    import matplotlib.pyplot as plt

    from meanfield.report import _core as report

    ctx = types.SimpleNamespace(out=tmp_path)
    written = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.plot([0.0, 1.0], [1.0, 0.0], label="1/q")
        ax.legend()
        report._savefig(fig, ctx, "figure")
        written.append({ext: (tmp_path / f"figure.{ext}").read_bytes() for ext in ("png", "svg")})
    assert written[0] == written[1]
    assert b"<dc:date>" not in written[0]["svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "figure.svg"]  # no temp files left


def _tiny_section(ctx):
    from meanfield.report._core import Claim, _savefig, new_figure

    fig, ax = new_figure(figsize=(3, 2))
    ax.plot([0.0, 1.0], [0.0, 1.0])
    return [Claim("test", "a line", "slope = 1.0, intercept = 0", True, _savefig(fig, ctx, "tiny"),
                  values={"slope": 1.0, "intercept": 0.0})]


def test_report_leaves_pyplot_alone(tmp_path):
    """run_report draws on its own canvases: the session's backend and figure list are untouched
    (an inline notebook backend keeps working)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from meanfield.report import run_report

    before = matplotlib.get_backend()
    plt.switch_backend("svg")  # any backend other than Agg shows a switch
    try:
        open_figures = plt.get_fignums()
        claims = run_report(tmp_path, progress=False, sections=[_tiny_section])
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == open_figures
    finally:
        plt.switch_backend(before)
    assert [c.holds for c in claims] == [True] and (tmp_path / "tiny.png").stat().st_size > 1000
    assert "![a line](tiny.png)" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_report_progress_names_each_section(tmp_path, capsys):
    from meanfield.report import run_report

    run_report(tmp_path, progress=True, sections=[_tiny_section, _tiny_section])
    err = capsys.readouterr().err
    assert "meanfield report" in err and "2/2" in err and "_tiny_section" in err


def test_report_json_gives_numbers(tmp_path, capsys, monkeypatch):
    import meanfield.report as report

    monkeypatch.setattr(report, "SECTIONS", [_tiny_section])
    code = main(["report", "--out", str(tmp_path), "--no-progress", "--json"])
    claims = json.loads(capsys.readouterr().out)
    assert code == 0 and claims[0]["measured"] == {"slope": 1.0, "intercept": 0.0}
    assert claims[0]["measured_text"] == "slope = 1.0, intercept = 0" and claims[0]["holds"] is True
