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
