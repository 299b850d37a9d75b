"""``meanfield report`` writes every figure it lists and a README with no figure missing."""

from __future__ import annotations

import re

from meanfield.cli import main


def test_report_writes_figures_and_readme(tmp_path, capsys):
    code = main(["report", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out  # exit 1 would mean some claim does not hold
    readme = (tmp_path / "README.md").read_text()
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
