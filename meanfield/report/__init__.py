"""``meanfield report``: regenerate the figures and the summary that check the papers' claims.

Each *section* is a function ``section(ctx) -> list[Claim]`` that may write figures into
``ctx.out`` and returns the claims it checked with the measured numbers. The report writes
every figure as PNG and SVG and a ``README.md`` that shows each figure beside its claim and
whether the numbers bear it out. One module per topic holds its sections and lists them in its
own ``SECTIONS``; :data:`SECTIONS` below is their concatenation, in report order.
"""

from __future__ import annotations

from meanfield.report import correlations, design, papers
from meanfield.report._core import Claim, ReportContext, run_report

__all__ = ["Claim", "ReportContext", "SECTIONS", "run_report"]

#: every report section, in order: one topic module after another
SECTIONS = [*papers.SECTIONS, *correlations.SECTIONS, *design.SECTIONS]
