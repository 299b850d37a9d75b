"""Every subcommand over a table of bad arguments: exit status 2, exactly one stderr line, no traceback.

Rows whose fix belongs to another part of issue 15 are ``xfail(strict=True)`` with the owner in
the reason: they turn into failures (XPASS) when the fix lands, so the marker gets removed.
The CLI runs in-process through :func:`meanfield.cli.main` (fast); a few rows also run as a real
``python -m meanfield`` subprocess. Output paths are checked before any computation: the tests
replace the computation with a function that fails if called.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from meanfield.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _row(*argv, match=None, forbid=None, marks=(), id=None):
    return pytest.param(list(argv), match, forbid, marks=list(marks), id=id or " ".join(argv)[:60])


# argv ({tmp} is a fresh folder), a regex the message must match, a regex it must not match
BAD_ARGUMENTS = [
    # top level
    _row(match="a COMMAND is required", id="(no command)"),
    _row("--bogus", match="unrecognized"),
    _row("nosuchcommand", match="invalid choice"),
    # activations
    _row("activations", "--bogus", match="unrecognized"),
    _row("activations", "extra", match="unrecognized"),
    # maps
    _row("maps", match="exactly one of ACT"),
    _row("maps", "nosuch", match="unknown activation"),
    _row("maps", "tanh", "--expr", "x", match="exactly one of ACT"),
    _row("maps", "tanh", "--q", "-1", match="--q"),
    _row("maps", "tanh", "--q", "nan", match="--q"),
    _row("maps", "tanh", "--q", "abc", match="--q"),
    _row("maps", "tanh", "--method", "bogus", match="--method"),
    _row("maps", "lrelu", "--param", "slope", match="KEY=VALUE"),
    _row("maps", "lrelu", "--param", "slope=abc", match="slope"),
    _row("maps", "lrelu", "--param", "bogus=1", match="bogus"),
    _row("maps", "lrelu", "--param", "slope=inf", match="slope"),
    _row("maps", "--expr", "9**9**9", match="MAX_NUMBER_DIGITS"),
    _row("maps", "--expr", "x*2**(2**30)", match="MAX_NUMBER_DIGITS"),
    _row("maps", "--expr", "x**(10**10)", match="MAX_EXPONENT"),
    _row("maps", "--expr", "(x+1)**200", match="MAX_EXPONENT"),
    _row("maps", "--expr=" + "-" * 1990 + "x", match="MAX_DEPTH", id="maps --expr ---...x"),
    _row("maps", "--expr", "+".join(["x"] * 999), match="MAX_DEPTH", id="maps --expr x+x+..."),
    _row("maps", "--expr", "__import__('os').system('true')", match="not allowed"),
    _row("maps", "--expr", "x", "--param", "x=1", match="reserved"),
    _row("maps", "--from", "{tmp}/absent.json", match="--from"),
    _row("maps", "--from", "{tmp}/bad.json", match="not a JSON file"),
    # gpn
    _row("gpn", "tanh", "--sign", "2", match="--sign"),
    _row("gpn", "nosuch", match="unknown activation"),
    _row("gpn", "--expr", "9**9**9", match="MAX_NUMBER_DIGITS"),
    # solve
    _row("solve", match="FAMILY"),
    _row("solve", "bogus", match="FAMILY"),
    _row("solve", "sselu", match="--eps"),
    _row("solve", "sselu", "--eps", "-1", match="eps"),
    _row("solve", "sselu", "--eps", "abc", match="--eps"),
    _row("solve", "selu", "--var", "-1", match="var"),
    _row("solve", "sselu", "--eps", "0.03", "--lam", "2", match="lam"),
    _row("solve", "sselu", "--table", "--csv", "{tmp}/nodir/t.csv", match="--csv .*does not exist"),
    _row("solve", "sselu", "--eps", "1e-12", match="eps", marks=[pytest.mark.slow]),  # scans ~20 s
    _row("solve", "sselu", "--eps", "0.03", "--lam-min", "1e-300", match="lam_min"),
    _row("solve", "selu", "--var", "1e300", match="var"),
    _row("solve", "selu", "--mean", "1e300", match="mean", forbid="Array must not contain"),
    # simulate
    _row("simulate", "relu", "--depth", "0", match="depth"),
    _row("simulate", "relu", "--width", "-1", match="width"),
    _row("simulate", "relu", "--seed", "-1", match="seed"),
    _row("simulate", "relu", "--weight-var", "0", match="weight_var"),
    _row("simulate", "relu", "--input-var", "-1", match="input_var"),
    _row("simulate", "relu", "--dtype", "float16", match="--dtype"),
    _row("simulate", "relu", "--out", "x.txt", match="--out"),
    _row("simulate", "relu", "--plot", "x.pdf", match="--plot"),
    _row("simulate", "relu", "--out", "{tmp}/nodir/x.npz", match="--out .*does not exist"),
    _row("simulate", "relu", "--plot", "{tmp}/nodir/x.png", match="--plot .*does not exist"),
    _row("simulate", "relu", "--out", "{tmp}", match="--out"),
    _row("simulate", "relu", "--width", "10000000", "--depth", "2", "--batch", "2", "--seeds", "1",
         "--backend", "numpy", match="GiB"),
    _row("simulate", "relu", "--seed", str(2**63 - 1), "--seeds", "2", "--depth", "2", "--width", "4",
         "--backend", "numpy", match="n_seeds", forbid="got 9223372036854775808"),
    _row("simulate", "relu", "--input-mean", "1e200", "--depth", "2", "--width", "4",
         "--backend", "numpy", match="input_mean"),
    # check
    _row("check", "nosuch", match="unknown activation"),
    _row("check", "sselu", "--rtol", "-1", match="--rtol"),
    _row("check", "--expr", "9**9**9", match="MAX_NUMBER_DIGITS"),
    # sweep
    _row("sweep", "{tmp}/missing.toml", match="cannot read config"),
    _row("sweep", "{tmp}/bad.toml", match="not valid TOML"),
    _row("sweep", "{tmp}/good.toml", "--workers", "0", match="--workers"),
    _row("sweep", "{tmp}/good.toml", "--out", "{tmp}/afile", match="out must end with"),
    _row("sweep", "{tmp}/good.toml", "--out", "{tmp}/nodir/r.nc", "--workers", "1", "--no-progress",
         match="--out .*does not exist"),
    _row("sweep", "{tmp}/good.toml", "--out", "{tmp}/afile/r.zarr", "--workers", "1", "--no-progress",
         match="--out .*inside the file"),
    # cmap
    _row("cmap", "nosuch", match="unknown activation"),
    _row("cmap", "tanh", "--c", "2", match="--c"),
    _row("cmap", "tanh", "--q", "-1", match="--q"),
    _row("cmap", "tanh", "--weight-var", "0", match="weight_var"),
    _row("cmap", "--expr", "9**9**9", match="MAX_NUMBER_DIGITS"),
    # phase
    _row("phase", "tanh", "--bias-var", "-1", match="bias_var"),
    _row("phase", "tanh", "--plot", "{tmp}/nodir/p.png", match="--plot .*does not exist"),
    # design
    _row("design", "tanh", "--dks", match="--depth"),
    _row("design", "nosuch", "--dks", "--depth", "10", match="unknown activation"),
    _row("design", "9**9**9", "--expr", "--dks", "--depth", "10", match="MAX_NUMBER_DIGITS"),
    _row("design", "tanh", "--dks", "--depth", "0", match="depth"),
    # report
    _row("report", "--bogus", match="unrecognized"),
    _row("report", "--out", "{tmp}/afile", match="--out .*is a file, not a folder"),
    _row("report", "--out", "{tmp}/afile/figures", match="--out .*inside the file"),
]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "bad.toml").write_text("[sweep\ndepth =")
    (tmp_path / "good.toml").write_text('[sweep]\ndepth = 2\nn_seeds = 1\nout = "r.zarr"\n'
                                        '[grid]\nactivation = ["tanh"]\nwidth = [4]\n')
    return tmp_path


def _argv(argv, folder):
    return [a.replace("{tmp}", str(folder)) for a in argv]


def _run_cli(argv, timeout=120):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "meanfield", *argv], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _assert_one_error_line(code, err, match, forbid):
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("meanfield: error: "), err
    if match:
        assert re.search(match, lines[0]), lines[0]
    if forbid:
        assert not re.search(forbid, lines[0]), lines[0]


@pytest.mark.parametrize("argv, match, forbid", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(argv, match, forbid, folder, capsys):
    code = main(_argv(argv, folder))
    _, err = capsys.readouterr()
    _assert_one_error_line(code, err, match, forbid)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
@pytest.mark.parametrize("argv", [["report", "--out", "{tmp}/ro/figures"],
                                  ["simulate", "relu", "--out", "{tmp}/ro/x.npz"]])
def test_read_only_folder_exit_2(argv, folder, capsys):
    (folder / "ro").mkdir()
    os.chmod(folder / "ro", 0o555)
    try:
        code = main(_argv(argv, folder))
    finally:
        os.chmod(folder / "ro", 0o755)
    _assert_one_error_line(code, capsys.readouterr()[1], "not writable", None)


# -- numerical trouble: a clear result or a one-line error, never multi-line warnings --------------

NO_WARNING_FLOOD = [
    _row("maps", "selu", "--q", "1e308"),
    _row("maps", "selu", "--param", "lam=1e200"),
    _row("simulate", "relu", "--weight-var", "1e6", "--depth", "100", "--width", "8", "--batch", "2",
         "--seeds", "1", "--backend", "numpy"),
]


@pytest.mark.parametrize("argv, match, forbid", NO_WARNING_FLOOD)
def test_overflow_gives_a_result_or_one_line(argv, match, forbid):
    # a real process: in-process, pytest would capture the warnings before they reach stderr
    proc = _run_cli(argv)
    assert proc.returncode in (0, 1, 2)
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 1, proc.stderr


# -- output paths are checked before the computation ---------------------------------------------


def _must_not_run(*args, **kwargs):
    raise AssertionError("the computation ran before the output path was checked")


@pytest.mark.parametrize("argv, target", [
    (["simulate", "relu", "--out", "{tmp}/nodir/x.npz"], "meanfield.simulation.simulate"),
    (["simulate", "relu", "--plot", "{tmp}/nodir/x.png"], "meanfield.simulation.simulate"),
    (["solve", "sselu", "--table", "--csv", "{tmp}/nodir/t.csv"], "meanfield.commands.solve._result"),
    (["report", "--out", "{tmp}/afile"], "meanfield.report.run_report"),
    (["sweep", "{tmp}/good.toml", "--out", "{tmp}/nodir/r.nc"], "meanfield.sweeps.sweep"),
])
def test_output_path_checked_before_computation(argv, target, folder, capsys, monkeypatch):
    monkeypatch.setattr(target, _must_not_run)
    code = main(_argv(argv, folder))
    _assert_one_error_line(code, capsys.readouterr()[1], None, None)


# -- a few rows as a real process ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["maps", "--expr", "9**9**9"],
    ["report", "--out", "{tmp}/afile"],
])
def test_bad_arguments_in_a_subprocess(argv, folder):
    proc = _run_cli(_argv(argv, folder))
    _assert_one_error_line(proc.returncode, proc.stderr, None, None)
    assert proc.stdout == ""


def test_ascii_terminal_gets_transliterated_output():
    """Under LC_ALL=C with UTF-8 mode off, Python's stdout is ASCII; the table's +- sign and the
    report's dashes must not become an encoding error (exit 2) but an ASCII spelling."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONPATH": str(root)}
    env.pop("PYTHONIOENCODING", None)
    code = "import sys; from meanfield.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "simulate", "selu", "--depth", "2", "--width", "8",
                           "--seeds", "2"], capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr.decode("ascii", "replace")
    assert b"+-" in proc.stdout and max(proc.stdout) < 128
