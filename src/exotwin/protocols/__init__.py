"""Protocols: YAML experiment descriptions, validated, and the library shipped with exotwin.

:func:`load` reads a user's protocol file; :func:`library` lists the built-in protocols
(one per figure panel of the papers, under ``protocols/library/``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from exotwin.protocols.schema import Protocol, load

__all__ = ["Protocol", "library", "load"]


def library() -> dict[str, Path]:
    """Built-in protocol files by protocol id (file stem)."""
    root = Path(str(resources.files("exotwin.protocols") / "library"))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}
