"""Atomic writes (meanfield._files): umask modes, symlinks, SIGKILL mid-save, early path checks."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from meanfield import cli
from meanfield._files import (
    _HOST_TAG,
    atomic_path,
    check_writable,
    check_writable_dir,
    write_text_atomic,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o640  # the mode of a new file under this umask
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _temps(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_new_file_gets_the_umask_mode(tmp_path, umask_027):
    write_text_atomic(tmp_path / "a.txt", "x")
    assert _mode(tmp_path / "a.txt") == umask_027  # was 0o600 with mkstemp


def test_replaced_file_keeps_its_mode(tmp_path, umask_027):
    path = tmp_path / "a.txt"
    path.write_text("old")
    os.chmod(path, 0o604)
    write_text_atomic(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o604


def test_saving_over_a_symlink_writes_through_to_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "data.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert _temps(tmp_path) == [] and _temps(tmp_path / "real") == []


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        open(tmp, "w").write("partial")
        raise RuntimeError("disk full")
    assert path.read_text() == "old" and _temps(tmp_path) == []


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from meanfield._files import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"partial" * 1000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
""")


def test_sigkill_mid_save_keeps_old_file_and_next_save_removes_the_temp(tmp_path):
    path = tmp_path / "trace.npz"
    path.write_bytes(b"old contents")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)],
                            stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)  # reaped: its process id no longer exists
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"old contents"  # the old file is intact
    assert len(_temps(tmp_path)) == 1  # what the killed save left behind
    write_text_atomic(tmp_path / "other.txt", "next save to the same folder")
    assert _temps(tmp_path) == []
    assert path.read_bytes() == b"old contents"


def test_temp_of_a_live_writer_is_left_alone(tmp_path):
    # a save in progress in another (live) process: the cleaner must not remove its file
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".x.npz.mf{_HOST_TAG}-{proc.pid}-0123abcd.tmp"
        live.write_bytes(b"in progress")
        other_host = tmp_path / ".y.npz.mf00000000-999999999-0123abcd.tmp"
        other_host.write_bytes(b"another machine's")
        unrelated = tmp_path / ".z.npz.tmp"
        unrelated.write_bytes(b"not ours")
        write_text_atomic(tmp_path / "a.txt", "x")
        assert live.exists() and unrelated.exists()
        assert other_host.exists() or _HOST_TAG == "00000000"
    finally:
        proc.kill()
        proc.wait()


def test_check_writable(tmp_path):
    assert check_writable(tmp_path / "x.npz", "--out") == str(tmp_path / "x.npz")
    with pytest.raises(ValueError, match=r"--out .*folder .* does not exist"):
        check_writable(tmp_path / "nodir" / "x.npz", "--out")
    with pytest.raises(ValueError, match="--plot .* is a directory"):
        check_writable(tmp_path, "--plot")
    with pytest.raises(ValueError, match="needs a file name"):
        check_writable(" ", "--csv")


def test_check_writable_dir(tmp_path):
    assert check_writable_dir(tmp_path / "a" / "b", "--out") == str(tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="--out .* is a file, not a folder"):
        check_writable_dir(tmp_path / "file", "--out")
    with pytest.raises(ValueError, match="is inside the file"):
        check_writable_dir(tmp_path / "file" / "sub", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        with pytest.raises(ValueError, match="not writable"):
            check_writable(ro / "x.npz", "--out")
        with pytest.raises(ValueError, match="not writable"):
            check_writable_dir(ro / "figures", "--out")
    finally:
        os.chmod(ro, 0o755)


# -- files written by the commands have the umask's mode ----------------------------------------


def test_simulate_and_solve_files_have_the_umask_mode(tmp_path, umask_027, capsys):
    out, plot, csv = tmp_path / "t.npz", tmp_path / "t.png", tmp_path / "t.csv"
    assert cli.main(["simulate", "relu", "--depth", "2", "--width", "4", "--batch", "2",
                     "--seeds", "1", "--backend", "numpy", "--out", str(out), "--plot", str(plot)]) == 0
    assert cli.main(["solve", "selu", "--var", "1", "--csv", str(csv)]) == 0
    capsys.readouterr()
    assert {p.name: _mode(p) for p in (out, plot, csv)} == dict.fromkeys(
        ("t.npz", "t.png", "t.csv"), umask_027)


def test_report_figures_have_the_umask_mode(tmp_path, umask_027):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from meanfield.report._core import Claim, _savefig, run_report

    def section(ctx):
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        return [Claim("test", "a figure", "1", True, figure=_savefig(fig, ctx, "fig"))]

    run_report(tmp_path / "figures", progress=False, sections=[section])
    written = sorted((tmp_path / "figures").iterdir())
    assert [p.name for p in written] == ["README.md", "fig.png", "fig.svg"]
    assert all(_mode(p) == umask_027 for p in written)
