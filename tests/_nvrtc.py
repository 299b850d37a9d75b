"""Shared by the tests that compile CUDA through CuPy's NVRTC (no GPU needed)."""

from __future__ import annotations

import re

import pytest


def nvrtc_or_skip():
    """meanfield.gpu._compile, or skip the test when CuPy's NVRTC cannot compile here."""
    from meanfield.gpu import _compile

    reason = _compile.nvrtc_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return _compile


def ptx_entries(ptx):
    """Map each .entry (kernel name) of a PTX text to its body."""
    parts = re.split(r"(?m)^\.(?:visible|weak) \.entry ", ptx)[1:]
    return {p.split("(")[0]: p for p in parts}
