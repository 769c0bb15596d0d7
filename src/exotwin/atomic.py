"""Atomic file writes: write to a temporary file in the target directory, then rename.

A reader never sees a half-written output: either the old file (or none) or the complete
new one. Failures to write are user-facing (:class:`~exotwin.errors.ExotwinError`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from exotwin.errors import ExotwinError

# mkstemp creates files readable by the owner only; outputs get the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` when the block exits without error.

    Parent directories are created. On error the temporary file is removed and ``path`` is
    left untouched.

    Parameters
    ----------
    path
        The final destination.

    Yields
    ------
    Path
        A path in the same directory as ``path``, to be written by the caller.

    Raises
    ------
    ExotwinError
        If the directory cannot be created or the file cannot be written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise ExotwinError(f"cannot write: {exc.strerror or exc}", file=str(target)) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExotwinError(f"cannot write: {exc.strerror or exc}", file=str(target)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path
        The destination file.
    text
        The content.
    encoding
        Text encoding.

    Returns
    -------
    Path
        The path written.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)
