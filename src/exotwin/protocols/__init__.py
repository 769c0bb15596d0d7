"""Protocols: YAML experiment descriptions, validated, and the library shipped with exotwin.

:func:`load` reads a user's protocol file; :func:`library` lists the built-in protocols
(one per figure panel of the papers, under ``protocols/library/``). A protocol's ``kind``
(default ``culture``) selects its schema and runner from :data:`KINDS`, so experiments
that are not culture wells (a patient cohort, a xenograft) plug in the same way.
"""

from __future__ import annotations

import difflib
from importlib import import_module, resources
from pathlib import Path
from typing import Any

from exotwin.errors import ExotwinError
from exotwin.protocols.schema import Protocol, load

__all__ = ["KINDS", "Protocol", "find", "library", "load", "protocol_model", "run_protocol"]

# kind -> ("module:SchemaClass", "module:run function"); imported on first use
KINDS: dict[str, tuple[str, str]] = {
    "culture": ("exotwin.protocols.schema:Protocol", "exotwin.protocols.run:run"),
    "cohort": ("exotwin.cohort:CohortProtocol", "exotwin.cohort:run"),
    "cam": ("exotwin.protocols.cam:CamProtocol", "exotwin.protocols.cam:run"),
    "xenograft": ("exotwin.protocols.xenograft:XenograftProtocol",
                  "exotwin.protocols.xenograft:run"),
}


def _resolve(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(import_module(module), name)


def protocol_model(kind: str) -> type:
    """The pydantic schema of a protocol kind; ``KeyError`` with a readable reason."""
    if kind == "tissue":
        raise KeyError("a tissue scenario runs with `exotwin run SCENARIO --until T`, "
                       "not as a protocol")  # fmt: skip
    if kind not in KINDS:
        raise KeyError(f"unknown protocol kind {kind!r}; known: {', '.join(KINDS)}, tissue")
    return _resolve(KINDS[kind][0])


def run_protocol(protocol: Any, seed: int, out: Path | None = None, source: str = "") -> Any:
    """Run a validated protocol of any kind; returns its ``RunResult``."""
    return _resolve(KINDS[protocol.kind][1])(protocol, seed=seed, out=out, source=source)


def find(protocol: str | Path) -> Path:
    """The file of a built-in protocol id, or ``protocol`` itself as a path.

    A name that is neither an existing path nor a YAML file name is taken for a mistyped
    protocol id: an ExotwinError suggests the closest built-in id.
    """
    builtin = library()
    if str(protocol) in builtin:
        return builtin[str(protocol)]
    path = Path(protocol)
    if not path.exists() and path.suffix.lower() not in (".yaml", ".yml"):
        ids = {pid.lower(): pid for pid in builtin}
        close = difflib.get_close_matches(str(protocol).lower(), ids, n=1)
        hint = f"did you mean {ids[close[0]]!r}?" if close else "see `exotwin protocols list`"
        raise ExotwinError(f"neither a file nor a built-in protocol id; {hint}",
                           file=str(protocol))  # fmt: skip
    return path


def library() -> dict[str, Path]:
    """Built-in protocol files by protocol id (file stem)."""
    root = Path(str(resources.files("exotwin.protocols") / "library"))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}
