"""Atomic file writes and early checks of output paths.

:func:`atomic_path` writes to a temporary file beside the target and moves it into place
with ``os.replace``: a reader never sees a partial file and a failed write leaves none.
The written file has the mode a plain ``open(path, "w")`` would give it (``0o666`` less the
umask, or the mode of the file it replaces), saving over a symbolic link writes through to the
link's target, and temporary files left by a process that died mid-write (``SIGKILL``, power
loss) are removed by the next write to the same folder. :func:`check_writable` and
:func:`check_writable_dir` let the command line refuse an unusable output path before any
computation.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import stat
import zlib

__all__ = ["atomic_path", "check_writable", "check_writable_dir", "remove_stale_temp_files",
           "write_text_atomic"]

#: Mode of a newly created file before the umask (what ``open(path, "w")`` uses).
_NEW_FILE_MODE = 0o666
#: This host, as 8 hex digits in temporary names: a stale temp file is removed only by the host
#: that wrote it (on a shared network folder a process id means nothing elsewhere).
_HOST_TAG = format(zlib.crc32(socket.gethostname().encode("utf-8", "replace")), "08x")
#: ``.<name>.mf<host>-<pid>-<random>.tmp``: our temporary files, and only ours.
_TEMP_PATTERN = re.compile(r"^\..+\.mf(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp$")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The file at ``path`` ends with mode ``0o666 & ~umask``, or the mode of the file it replaces.
    If ``path`` is a symbolic link, its target is replaced and the link kept.

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("done")
    >>> open(target).read()
    'done'
    """
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    remove_stale_temp_files(directory)
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        old_mode = None
    tmp = _create_temp(directory, os.path.basename(target))
    try:
        yield tmp
        if old_mode is not None:
            os.chmod(tmp, old_mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def remove_stale_temp_files(directory):
    """Delete this host's temporary files in ``directory`` whose writing process has died.

    Only names of :func:`atomic_path`'s own pattern are considered, and a file is removed only
    if no process with the recorded id exists: a save in progress in another process is never
    disturbed. Errors (permissions, a race with another cleaner) are ignored.
    """
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = _TEMP_PATTERN.match(entry.name)
            if match and match["host"] == _HOST_TAG and not _process_alive(int(match["pid"])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def check_writable(path, argument):
    """Check, before any work, that a file can be written at ``path``; return it as a str.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    argument : str
        The argument's name for the message (e.g. ``"--out"``).

    Raises
    ------
    ValueError
        ``path`` is empty or a directory, its folder does not exist or is not writable.

    Examples
    --------
    >>> check_writable("no/such/folder/x.npz", "--out")
    Traceback (most recent call last):
    ...
    ValueError: --out 'no/such/folder/x.npz': folder 'no/such/folder' does not exist
    """
    path = os.fspath(path)
    if not path.strip():
        raise ValueError(f"{argument} needs a file name; got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{argument} {path!r} is a directory; give a file name")
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(target)
    if folder and not os.path.isdir(folder):
        raise ValueError(f"{argument} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder or ".", os.W_OK | os.X_OK):
        raise ValueError(f"{argument} {path!r}: folder {folder or '.'!r} is not writable")
    return path


def check_writable_dir(path, argument):
    """Check, before any work, that ``path`` is (or can be created as) a writable folder.

    Missing parent folders are allowed (they will be created), as long as the nearest existing
    one is a writable folder.

    Raises
    ------
    ValueError
        ``path`` is an existing file, or the folder cannot be created or written.
    """
    path = os.fspath(path)
    if not path.strip():
        raise ValueError(f"{argument} needs a folder name; got {path!r}")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        what = "is a file" if probe == os.path.abspath(path) else f"is inside the file {probe!r}"
        raise ValueError(f"{argument} {path!r} {what}, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{argument} {path!r}: folder {probe!r} is not writable")
    return path


def _create_temp(directory, name):
    """Create an empty temporary file of our pattern (mode ``0o666 & ~umask``); return its path."""
    for _ in range(100):
        # the name is cut to 100 characters so that the temporary name stays under NAME_MAX
        tmp = os.path.join(directory,
                           f".{name[:100]}.mf{_HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _NEW_FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name in {directory!r}")  # pragma: no cover


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # exists under another user (or not a valid pid: leave the file alone)
    return True
