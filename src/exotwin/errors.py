"""User-facing error type: one line naming the file, the field and the reason.

Every error a user can cause (bad input file, unknown name, unsupported SBML construct,
malformed protocol) is raised as :class:`ExotwinError`; the CLI prints it on one line and
exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
