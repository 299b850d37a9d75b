"""The report's machinery: claims, the context every section gets, figure saving and the run.

Each *section* is a function ``section(ctx) -> list[Claim]`` that may write figures into
``ctx.out`` and returns the claims it checked with the measured numbers. The report writes
every figure as PNG and SVG and a ``README.md`` that shows each figure beside its claim and
whether the numbers bear it out. Sections are listed in :data:`meanfield.report.SECTIONS`, in order.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

from meanfield._files import atomic_path, write_text_atomic

__all__ = ["Claim", "ReportContext", "new_figure", "run_report"]


@dataclasses.dataclass
class Claim:
    """One checked statement: where it comes from, what was measured, and whether it holds.

    ``measured`` is the measurement as text (for figures/README.md); ``values`` the same
    numbers by name (for ``meanfield report --json``). Without ``values`` the numbers are read
    off ``measured`` (``name = number`` pairs, else the bare numbers in order).
    """

    source: str
    statement: str
    measured: str
    holds: bool
    figure: str | None = None
    values: dict | None = None

    def to_dict(self):
        """JSON-friendly: ``measured`` as ``{name: number}``, the text as ``measured_text``."""
        values = self.values if self.values is not None else _numbers_in(self.measured)
        return {"source": self.source, "statement": self.statement, "holds": bool(self.holds),
                "measured": {str(k): _number(v) for k, v in values.items()},
                "measured_text": self.measured, "figure": self.figure}


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NAMED_NUMBER = re.compile(rf"([A-Za-z_][\w'()|/^ .-]*?)\s*=\s*({_NUMBER})")


def _numbers_in(text):
    """``{"a": 1.41, "b": 0.0}`` from ``"a = 1.41, b = 0.0e+00"``; bare numbers as value_1, ..."""
    named = {m.group(1).strip(): float(m.group(2)) for m in _NAMED_NUMBER.finditer(text)}
    if named:
        return named
    return {f"value_{i + 1}": float(v) for i, v in enumerate(re.findall(_NUMBER, text))}


def _number(value):
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    value = float(value)
    return value if math.isfinite(value) else None


@dataclasses.dataclass
class ReportContext:
    out: Path
    full: bool = False
    _lu: dict | None = None


def _backend(ctx):
    """The simulator backend: the GPU (when usable) for --full runs, NumPy for the default sizes."""
    return "auto" if ctx.full else "numpy"


#: SVG ids are hashed from this salt and the date stamp is left out, so that regenerating a
#: figure whose numbers did not change rewrites identical bytes (no spurious diffs in figures/).
_SVG_HASH_SALT = "meanfield"


def new_figure(nrows=1, ncols=1, **kwargs):
    """``(fig, axes)`` like ``plt.subplots`` but outside pyplot, drawn on an Agg canvas.

    The report never touches pyplot's global backend or figure list, so running it inside a
    notebook leaves the user's inline plots alone. ``kwargs`` go to :class:`~matplotlib.figure.Figure`
    (``figsize``, ``layout``) except ``sharex``, ``sharey``, ``squeeze`` (to ``Figure.subplots``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sub = {k: kwargs.pop(k) for k in ("sharex", "sharey", "squeeze") if k in kwargs}
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **sub)


def _savefig(fig, ctx, stem):
    """Write ``stem``.png and ``stem``.svg atomically; return the PNG's file name."""
    import matplotlib

    for ext in ("png", "svg"):
        with atomic_path(ctx.out / f"{stem}.{ext}") as tmp, \
                matplotlib.rc_context({"svg.hashsalt": _SVG_HASH_SALT}):
            fig.savefig(tmp, format=ext, dpi=130, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else None)
    if fig.canvas.manager is not None:  # a pyplot figure (e.g. from another topic module)
        import matplotlib.pyplot as plt

        plt.close(fig)
    return f"{stem}.png"


def _progress(items, enabled):
    """The sections, wrapped in a tqdm bar on stderr that names the running section."""
    if not enabled:
        return items
    from tqdm import tqdm  # a text bar everywhere (tqdm.auto wants ipywidgets in notebooks)

    return tqdm(items, desc="meanfield report", unit="section", dynamic_ncols=True)


def run_report(out="figures", *, full=False, progress=True, sections=None):
    """Run every section (default :data:`meanfield.report.SECTIONS`) into ``out`` and write
    ``out/README.md``; return the claims.

    ``progress`` shows a tqdm bar (on stderr; a widget in notebooks) naming each section as it
    runs. Figures are drawn on their own Agg canvases: matplotlib's global backend is left as it
    was (inline plots in a notebook keep working).
    """
    if sections is None:
        from meanfield.report import SECTIONS as sections
    ctx = ReportContext(Path(out), full=full)
    ctx.out.mkdir(parents=True, exist_ok=True)
    claims = []
    bar = _progress(sections, progress)
    for section in bar:
        if progress:
            bar.set_postfix_str(section.__name__)
        claims.extend(section(ctx))
    lines = ["# meanfield report", "",
             "Generated by `meanfield report`. Each row is a claim from the papers, what meanfield "
             "measured, and whether the numbers bear it out.", "",
             "| source | claim | measured | holds |", "|---|---|---|---|"]
    def cell(text):
        return str(text).replace("|", "\\|")

    for c in claims:
        lines.append(f"| {cell(c.source)} | {cell(c.statement)} | {cell(c.measured)} | "
                     f"{'yes' if c.holds else '**no**'} |")
    for c in claims:
        if c.figure:
            lines += ["", f"## {c.statement}", "", f"![{c.statement}]({c.figure})", "",
                      f"*{c.source}* — measured: {c.measured} — holds: {'yes' if c.holds else 'no'}"]
    write_text_atomic(ctx.out / "README.md", "\n".join(lines) + "\n")
    return claims
