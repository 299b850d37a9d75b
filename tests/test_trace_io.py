"""Trace files as untrusted input: broken files raise TraceFileError naming the file, fast.

Also: new per-layer records round-trip without changes to the file format code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield
from meanfield import TraceFileError, load_trace, simulate
from meanfield.trace_io import FORMAT_VERSION


@pytest.fixture(scope="module")
def trace():
    return simulate("selu", depth=3, width=8, batch=2, n_seeds=2, seed=5, backend="numpy",
                    histogram_layers=[1, 3], bins=4)


@pytest.fixture(scope="module")
def npz_bytes(trace, tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "t.npz"
    trace.save(path)
    load_trace(path)  # warm the imports, so the fuzz examples' 2 s deadline times the work alone
    return path.read_bytes()


def _members(data):
    """The arrays of an npz given as bytes."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _write_npz(path, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _with_metadata(data, change):
    arrays = _members(data)
    meta = json.loads(str(arrays["metadata"]))
    change(meta)
    arrays["metadata"] = np.array(json.dumps(meta))
    return arrays


def test_load_trace_is_reexported():
    assert meanfield.load_trace is meanfield.trace.load_trace is meanfield.trace_io.load_trace
    assert issubclass(TraceFileError, ValueError)


def test_new_records_round_trip_without_format_changes(trace, tmp_path, monkeypatch):
    import meanfield.trace as trace_module

    monkeypatch.setattr(trace_module, "RECORDS", (*trace_module.RECORDS, "extra"))
    records = {k: getattr(trace, k) for k in trace_module.RECORDS if k != "extra"}
    records["extra"] = np.arange(trace.q.size, dtype=float).reshape(trace.q.shape)
    tr = meanfield.Trace(records, seeds=trace.seeds, activation=trace.activation,
                         params=trace.params, backend=trace.backend, dtype=trace.dtype,
                         histograms=trace.histograms, provenance=trace.provenance)
    for suffix in (".npz", ".nc"):
        back = load_trace(tr.save(tmp_path / f"t{suffix}"))
        np.testing.assert_array_equal(back.extra, records["extra"])
        np.testing.assert_array_equal(back.q, trace.q)


def _delete(key):
    return lambda meta: meta.pop(key)


def _set(path, value):
    def change(meta):
        obj = meta
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return change


# (case id, builder(valid npz bytes, path) -> None, expected words in the message)
def _bytes_case(transform):
    def build(data, path):
        path.write_bytes(transform(data))
    return build


def _arrays_case(transform):
    def build(data, path):
        _write_npz(path, transform(_members(data)))
    return build


def _meta_case(change):
    def build(data, path):
        _write_npz(path, _with_metadata(data, change))
    return build


def _drop(key):
    def transform(arrays):
        arrays.pop(key)
        return arrays
    return transform


def _replace(key, value):
    def transform(arrays):
        arrays[key] = value
        return arrays
    return transform


BROKEN = [
    ("empty", _bytes_case(lambda d: b""), "cannot read"),
    ("truncated", _bytes_case(lambda d: d[: len(d) // 2]), "cannot read"),
    ("garbage", _bytes_case(lambda d: b"\x00garbage" * 50), "cannot read"),
    ("single npy", _bytes_case(lambda d: _npy_bytes()), "single array"),
    ("no metadata", _arrays_case(_drop("metadata")), "no 'metadata'"),
    ("missing record", _arrays_case(_drop("grad_h_sq")), r"records \['grad_h_sq'\] are missing"),
    ("bad JSON", _arrays_case(_replace("metadata", np.array("{not json"))), "not valid JSON"),
    ("deep JSON", _arrays_case(_replace("metadata", np.array("[" * 100000 + "]" * 100000))),
     "not valid JSON|JSON object"),
    ("metadata not a string", _arrays_case(_replace("metadata", np.zeros(3))), "JSON string"),
    ("metadata a list", _arrays_case(_replace("metadata", np.array("[1, 2]"))), "JSON object"),
    ("record of strings", _arrays_case(_replace("q", np.array([["a"]]))), "real numeric"),
    ("record shape", _arrays_case(_replace("q", np.zeros((2, 5)))), "shape"),
    ("not a trace", _meta_case(_set(["format"], "other")), "not a meanfield trace"),
    ("newer format", _meta_case(_set(["format_version"], FORMAT_VERSION + 1)),
     "newer than this meanfield reads"),
    ("format_version missing", _meta_case(_delete("format_version")), "format_version"),
    ("null activation name", _meta_case(_set(["activation", "name"], None)), "activation name"),
    ("activation missing", _meta_case(_delete("activation")), "'activation'"),
    ("activation param string", _meta_case(_set(["activation", "params", "lam"], "1")),
     "finite numbers"),
    ("missing width", _meta_case(lambda m: m["params"].pop("width")), r"params\['width'\]"),
    ("width a float", _meta_case(_set(["params", "width"], 8.5)), r"params\['width'\]"),
    ("params missing", _meta_case(_delete("params")), "'params'"),
    ("seeds missing", _meta_case(_delete("seeds")), "seeds"),
    ("too few seeds", _meta_case(_set(["seeds"], [1])), "1 seeds for records with 2 rows"),
    ("backend null", _meta_case(_set(["backend"], None)), "backend"),
    ("records not a list", _meta_case(_set(["records"], "q")), "'records'"),
    ("records name seeds", _meta_case(_set(["records"], ["seeds"])), "'records'"),
    ("histograms incomplete", _arrays_case(_drop("hist_x_edges")), "histograms"),
]


def _npy_bytes():
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    return buf.getvalue()


@pytest.mark.parametrize("build, words", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_npz_raises_trace_file_error_naming_file_and_problem(npz_bytes, tmp_path, build,
                                                                   words):
    path = tmp_path / "broken.npz"
    build(npz_bytes, path)
    with pytest.raises(TraceFileError, match=words) as info:
        load_trace(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"CDF\x01" + b"\x00" * 20, b"garbage" * 30])
def test_broken_nc_raises_trace_file_error(tmp_path, content):
    pytest.importorskip("xarray")
    path = tmp_path / "broken.nc"
    path.write_bytes(content)
    with pytest.raises(TraceFileError, match="broken.nc"):
        load_trace(path)


def test_nc_without_metadata(trace, tmp_path):
    pytest.importorskip("xarray")
    ds = trace.to_xarray()
    del ds.attrs["metadata"]
    ds.to_netcdf(tmp_path / "t.nc")
    with pytest.raises(TraceFileError, match="no 'metadata'"):
        load_trace(tmp_path / "t.nc")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_trace(tmp_path / "absent.npz")


def test_hostile_expression_in_metadata_loads_without_the_activation(npz_bytes, tmp_path):
    # issue 15: this 1 kB file made load_trace hang (> 30 s) building 9**9**9
    def change(meta):
        meta["activation"] = {"name": "mine", "params": {}, "expression": "x*9**9**9"}

    path = tmp_path / "hostile.npz"
    _write_npz(path, _with_metadata(npz_bytes, change))
    back = load_trace(path)
    assert back.activation is None and back.activation_info["expression"] == "x*9**9**9"
    with pytest.raises(ValueError, match="could not be rebuilt"):
        back.theory()


# -- fuzz: mutated valid files only ever raise ValueError subclasses, fast -------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.sampled_from(["x*9**9**9", "(x+1)**200", "relu", "selu-gpn"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=3),
    max_leaves=8)

_META_PATHS = [["format"], ["format_version"], ["records"], ["seeds"], ["backend"], ["dtype"],
               ["activation"], ["activation", "name"], ["activation", "params"],
               ["activation", "expression"], ["params"], ["params", "width"],
               ["params", "batch"], ["params", "weights"], ["params", "input_var"], ["provenance"]]


@settings(deadline=2000)  # acceptance of issue 15: each example < 2 s
@given(key=st.sampled_from(_META_PATHS), value=_JSON_VALUES)
def test_fuzz_metadata_fields(npz_bytes, key, value):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.npz")
        _write_npz(path, _with_metadata(npz_bytes, _set(key, value)))
        try:
            load_trace(path)
        except ValueError:
            pass


@settings(deadline=2000)
@given(data=st.data())
def test_fuzz_bytes(npz_bytes, data):
    raw = bytearray(npz_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.npz")
        with open(path, "wb") as fh:
            fh.write(bytes(raw[:cut] if data.draw(st.booleans()) else raw))
        try:
            load_trace(path)
        except ValueError:
            pass


@settings(deadline=2000)
@given(data=st.data())
def test_fuzz_members(npz_bytes, data):
    """Uncompressed members mutated in place: the zip stays readable, the contents do not."""
    arrays = _members(npz_bytes)
    name = data.draw(st.sampled_from(sorted(arrays)))
    buf = io.BytesIO()
    np.save(buf, arrays[name])
    raw = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.npz")
        with zipfile.ZipFile(path, "w") as zf:
            for k, v in arrays.items():
                member = io.BytesIO()
                np.save(member, v)
                zf.writestr(f"{k}.npy", bytes(raw) if k == name else member.getvalue())
        try:
            load_trace(path)
        except ValueError:
            pass
