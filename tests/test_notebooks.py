"""Execute the example notebooks (``notebooks/*.ipynb``) at CI sizes.

Each notebook runs top to bottom in a fresh Jupyter kernel with ``MEANFIELD_NOTEBOOK_SMALL=1``
(the notebooks shrink depths, widths, seeds and grids when it is set), from a temporary copy so
that the committed outputs are never touched. Any cell that raises fails the test. Needs the
``test`` extra's ``nbclient``, ``nbformat`` and ``ipykernel``; skipped with the reason when they
are missing. Regenerate the notebooks with ``python notebooks/_build_notebooks.py --execute``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))

#: seconds any one cell may take at CI sizes before the test fails
CELL_TIMEOUT = 120


def _require_jupyter():
    for module in ("nbformat", "nbclient", "ipykernel"):
        pytest.importorskip(module, reason=f"executing the notebooks needs {module} (pip install '.[test]')")


def test_all_four_notebooks_are_present():
    assert NOTEBOOKS == ["01_phi_versus_q.ipynb", "02_solve_parameters.ipynb",
                         "03_property_checks.ipynb", "04_signal_propagation.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_with_outputs(name):
    """The committed notebooks show their results without being run (no errors among them)."""
    nbformat = pytest.importorskip("nbformat", reason="reading notebooks needs nbformat")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    assert code[0].get("outputs"), f"{name} was committed unexecuted"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name} was committed with an error output: {errors[0].get('ename')}"


@pytest.mark.slow  # a Jupyter kernel per notebook: 20-90 s each at CI sizes
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_at_small_size(name, tmp_path, monkeypatch):
    _require_jupyter()
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    shutil.copy(NOTEBOOK_DIR / name, tmp_path / name)
    nb = nbformat.read(tmp_path / name, as_version=4)
    monkeypatch.setenv("MEANFIELD_NOTEBOOK_SMALL", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # CI sets Agg; the kernel's inline backend renders figures
    # the kernel imports this checkout's meanfield, installed or not
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except NoSuchKernel as exc:  # pragma: no cover - ipykernel importable but no kernelspec
        pytest.skip(f"no python3 Jupyter kernel: {exc}")
    except CellExecutionError as exc:
        pytest.fail(f"{name} failed at small size:\n{exc}", pytrace=False)
    first = next(c for c in nb.cells if c.cell_type == "code")
    text = "".join(o.get("text", "") for o in first.outputs if o.get("output_type") == "stream")
    assert "small (CI)" in text, f"{name} did not pick up MEANFIELD_NOTEBOOK_SMALL=1: {text!r}"
    # every figure the kernel rendered is a PNG at the notebooks' resolution (rcParams in SETUP)
    dpis = _figure_dpis(nb)
    assert dpis and min(dpis) >= MIN_FIGURE_DPI, f"{name}: figure resolutions {dpis}"


#: the notebooks render figures at 120 dpi (80, matplotlib's inline default, is too coarse to read)
MIN_FIGURE_DPI = 110


def _figure_dpis(nb):
    """Resolution of every PNG output of ``nb``, read from the PNG's pHYs chunk (pixels per metre)."""
    import base64
    import struct

    dpis = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if not data:
                continue
            png = base64.b64decode(data)
            at = png.find(b"pHYs")
            assert at > 0, "a PNG output without resolution metadata"
            per_metre_x, _, unit = struct.unpack(">IIB", png[at + 4:at + 13])
            assert unit == 1  # metres
            dpis.append(round(per_metre_x * 0.0254))
    return dpis


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_figures_are_rendered_at_a_readable_resolution(name):
    nbformat = pytest.importorskip("nbformat", reason="reading notebooks needs nbformat")
    dpis = _figure_dpis(nbformat.read(NOTEBOOK_DIR / name, as_version=4))
    assert dpis, f"{name} has no figure"
    assert min(dpis) >= MIN_FIGURE_DPI, f"{name}: figure resolutions {dpis}"

