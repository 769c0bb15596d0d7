"""Atomic file writes: write to a temporary file in the target directory, then rename.

A reader never sees a half-written output: either the old file (or none) or the complete
new one; a directory of outputs is staged beside its destination (:func:`atomic_dir`).
Failures to write are user-facing (:class:`~exotwin.errors.ExotwinError`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
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


MANIFEST = ".exotwin-files.json"  # in an output directory: owner -> files its last run wrote


def _host() -> str:
    """The host name with only letters, digits and ``-`` (part of stage names)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())


def _stage_prefix(out: Path, role: str, pid: int | None = None) -> str:
    """Hidden name prefix of a stage of ``out``: ``.<name>.<role>.<host>.<pid>.``."""
    return f".{out.name}.{role}.{_host()}.{os.getpid() if pid is None else pid}."


def _remove_orphan_stages(out: Path) -> None:
    """Remove stages of ``out`` left by killed processes of this host (their pid is gone)."""
    import shutil

    pattern = re.compile(rf"\.{re.escape(out.name)}\.(stage|old)\.{re.escape(_host())}\.(\d+)\.")
    for entry in out.parent.iterdir():
        m = pattern.match(entry.name)
        if not m or not entry.is_dir() or int(m[2]) == os.getpid():
            continue
        try:
            os.kill(int(m[2]), 0)
        except ProcessLookupError:  # no such process: the stage is an orphan
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:  # alive but another user's: leave it
            pass


def _read_manifest(out: Path) -> dict[str, list[str]]:
    """Owner -> files of ``out``'s manifest; only plain paths inside ``out`` (else none)."""
    import json

    try:
        data = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}

    def inside(rel: object) -> bool:
        parts = Path(str(rel)).parts
        return isinstance(rel, str) and bool(parts) and ".." not in parts \
            and not Path(rel).is_absolute()

    return {str(k): [f for f in v if inside(f)] for k, v in data.items() if isinstance(v, list)}


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike[str], owner: str | None = None) -> Iterator[Path]:
    """Yield a staging directory whose files join ``out`` on success.

    Everything is written into a temporary directory beside ``out``. When the block exits
    without error, a new ``out`` is that directory renamed. Into an existing ``out`` the
    staged files move one by one, each replacing the file of the same path; every other
    file stays, except the files an earlier run of the same ``owner`` wrote and this run
    did not (a rerun with fewer replicates leaves no stale replicate). Owners and their
    files are recorded in ``out``/:data:`MANIFEST`. On any error or interruption the stage
    is removed and ``out`` is untouched. A process killed outright leaves only its hidden
    stage, which the next run into ``out`` on the same host removes once that process is
    gone.

    Parameters
    ----------
    out
        The destination directory; parents are created.
    owner
        What writes the files (a protocol id, ``replicate:<paper>``); ``None``: no earlier
        file is superseded.

    Yields
    ------
    Path
        The staging directory, to be filled by the caller.

    Raises
    ------
    ExotwinError
        ``out`` is a file, or it cannot be written (nothing is left behind).
    """
    import json
    import shutil

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExotwinError("output exists and is not a directory", file=str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphan_stages(out)
        stage = Path(tempfile.mkdtemp(prefix=_stage_prefix(out, "stage"), dir=out.parent))
    except OSError as exc:
        raise ExotwinError(f"cannot write: {exc.strerror or exc}", file=str(out)) from None
    try:
        yield stage
        written = sorted(f.relative_to(stage).as_posix() for f in stage.rglob("*")
                         if f.is_file() and f.name != MANIFEST)  # fmt: skip
        owners = _read_manifest(out)
        stale = set(owners.get(owner, [])) - set(written) if owner is not None else set()
        if owner is not None:
            owners[owner] = written
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=_stage_prefix(out, "old"), dir=out.parent))
            for rel in sorted(stale | set(written)):
                if (out / rel).is_file():
                    (old / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(out / rel, old / rel)
            for rel in written:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.rename(stage / rel, out / rel)
            owners = {k: [f for f in v if (out / f).is_file()] for k, v in owners.items()}
            shutil.rmtree(stage)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.chmod(stage, 0o777 & ~_UMASK)
            os.rename(stage, out)
        if owner is not None:
            atomic_write_text(out / MANIFEST, json.dumps(owners, indent=1, sort_keys=True))
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise ExotwinError(f"cannot write: {exc.strerror or exc}", file=str(out)) from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def atomic_write_files(out: str | os.PathLike[str], files: dict[str, bytes],
                       owner: str | None = None) -> Path:
    """Write several files into directory ``out`` so that none is seen half-written.

    The files are staged beside ``out`` (:func:`atomic_dir`); a new ``out`` is the stage
    renamed, an existing one gets each file replaced (its other files stay).

    Parameters
    ----------
    out
        The destination directory; parents are created.
    files
        File name (relative to ``out``, no subdirectories) -> content.
    owner
        What writes them: files an earlier call of the same owner wrote and this one does
        not are removed (:func:`atomic_dir`).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ExotwinError
        ``out`` is a file, or it cannot be written (nothing is left behind).
    """
    with atomic_dir(out, owner=owner) as stage:
        for rel, content in files.items():
            (stage / rel).write_bytes(content)
            os.chmod(stage / rel, _FILE_MODE)
    return Path(out)


def group_stem(index: int, label: str) -> str:
    """A file-name stem for a protocol group: ``g<index>_<label>`` with only safe characters.

    Labels are free text (``NC+cisplatin``, ``a/b``); the stem keeps letters, digits, ``.``,
    ``-`` and ``_`` (anything else becomes ``_``), so it cannot leave the output folder,
    and the index keeps two labels that differ only in other characters apart.
    """
    return f"g{index}_" + re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")
