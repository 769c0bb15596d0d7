"""User-facing error type: one line naming the file, the field and the reason.

Every error a user can cause (bad input file, unknown name, unsupported SBML construct,
malformed protocol) is raised as :class:`ExotwinError`; the CLI prints it on one line and
exits with status 2. Anything else is a bug and keeps its traceback. :func:`require_file`
is the one check that an input file exists, is a file and is not empty.
"""

from __future__ import annotations

import os
from pathlib import Path


class ExotwinError(Exception):
    """An error caused by user input.

    Parameters
    ----------
    reason
        What is wrong, in plain words.
    file
        The file (or model name) the problem was found in, if any.
    field
        The element, field or id inside that file, if any.
    """

    exit_code = 2

    def __init__(self, reason: str, *, file: str | None = None, field: str | None = None):
        self.reason = " ".join(str(reason).split())
        self.file = None if file is None else str(file)
        self.field = None if field is None else str(field)
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        return ": ".join([*parts, self.reason])


def require_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a Path if it is an existing, non-empty file; else an ExotwinError.

    Parameters
    ----------
    path
        The input file.
    what
        What the file should be, for the message (``"checkpoint"``, ...).
    """
    path = Path(path)
    if path.is_dir():
        raise ExotwinError("is a directory, not a file", file=str(path))
    if not path.is_file():
        raise ExotwinError(f"{what} not found", file=str(path))
    if path.stat().st_size == 0:
        raise ExotwinError(f"empty {what}", file=str(path))
    return path
