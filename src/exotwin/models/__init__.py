"""The built-in model library: Antimony sources, discovery and export to SBML L3V2.

Built-in models live in ``exotwin/models/antimony/*.ant``. A file is a top-level model when
its leading comment block contains::

    // name: NAME
    // description: ONE LINE

Files without ``// name:`` are modules that top-level models ``import``. Models are
converted with the ``antimony`` library (imports resolved relative to the file), flattened,
and emitted as SBML Level 3 Version 2.
"""

from __future__ import annotations

import atexit
import functools
import importlib.resources
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from exotwin.atomic import atomic_write_text
from exotwin.errors import ExotwinError, require_file

__all__ = [
    "ModelInfo",
    "antimony_file_to_sbml",
    "antimony_source",
    "check_consistency",
    "export",
    "list_models",
    "to_sbml",
]

SBML_LEVEL = 3
SBML_VERSION = 2

_HEADER = re.compile(r"^\s*//\s*(name|description)\s*:\s*(.*?)\s*$")
# libantimony keeps its loaded modules in process-wide state.
_ANTIMONY_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelInfo:
    """A top-level built-in model.

    Parameters
    ----------
    name
        The model name used on the command line and in the API.
    description
        One line saying what the model is.
    path
        The Antimony source file.
    """

    name: str
    description: str
    path: Path


def _read_header(path: Path) -> dict[str, str]:
    """Return the ``// name:`` and ``// description:`` entries of the leading comments."""
    header: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("//"):
                break
            match = _HEADER.match(stripped)
            if match and match.group(1) not in header:
                header[match.group(1)] = match.group(2)
    return header


@functools.lru_cache(maxsize=1)
def _builtin_root() -> Path:
    """Return a file-system directory holding the built-in ``.ant`` files.

    Antimony resolves ``import "file.ant"`` on disk, so a package installed in a zip is
    extracted once per process to a temporary directory removed at exit.
    """
    root = importlib.resources.files("exotwin.models").joinpath("antimony")
    if isinstance(root, Path):
        return root
    tmp = Path(tempfile.mkdtemp(prefix="exotwin-models-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.endswith(".ant"):
                (tmp / entry.name).write_bytes(entry.read_bytes())
    return tmp


def list_models(directory: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """List the top-level models, sorted by name.

    Parameters
    ----------
    directory
        Directory of ``.ant`` files to scan; the built-in library when omitted.

    Returns
    -------
    list of ModelInfo
        One entry per file whose header names it as a top-level model.

    Raises
    ------
    ExotwinError
        If two files declare the same name, or a file names itself without a description.
    """
    return _scan(_builtin_root() if directory is None else Path(directory))


def _scan(root: Path) -> list[ModelInfo]:
    found: dict[str, ModelInfo] = {}
    if not root.is_dir():
        return []
    for path in sorted(root.glob("*.ant")):
        header = _read_header(path)
        name = header.get("name")
        if not name:
            continue
        description = header.get("description", "")
        if not description:
            raise ExotwinError("'// name:' without '// description:'", file=str(path))
        if name in found:
            raise ExotwinError(
                f"model name also declared in {found[name].path.name}", file=str(path), field=name
            )
        found[name] = ModelInfo(name=name, description=description, path=path)
    return [found[name] for name in sorted(found)]


def _lookup(name: str) -> ModelInfo:
    models = list_models()
    for info in models:
        if info.name == name:
            return info
    known = ", ".join(m.name for m in models) or "(none)"
    raise ExotwinError(f"unknown model; built-in models are: {known}", field=name)


def antimony_source(name: str) -> str:
    """Return the Antimony text of a built-in model.

    Parameters
    ----------
    name
        A name from :func:`list_models`.

    Returns
    -------
    str
        The content of the model's ``.ant`` file (imported modules are not inlined).

    Raises
    ------
    ExotwinError
        If ``name`` is not a built-in model.
    """
    return _lookup(name).path.read_text(encoding="utf-8")


def antimony_file_to_sbml(path: str | os.PathLike[str], module: str | None = None) -> str:
    """Convert an Antimony file (with its imports) to flat SBML Level 3 Version 2.

    Parameters
    ----------
    path
        The ``.ant`` file; ``import "other.ant"`` is resolved relative to its directory.
    module
        The module to export. Defaults to the module named by the file's ``// name:``
        header if such a module exists, else antimony's main module (the last one defined).

    Returns
    -------
    str
        SBML L3V2 text with submodels flattened.

    Raises
    ------
    ExotwinError
        If the file is missing, antimony rejects it, or the module does not exist.
    """
    import antimony

    path = require_file(path)
    explicit = module is not None
    if module is None:
        module = _read_header(path).get("name")
    with _ANTIMONY_LOCK:
        antimony.clearPreviousLoads()
        try:
            if antimony.loadAntimonyFile(str(path.resolve())) < 0:
                raise ExotwinError(
                    f"antimony: {antimony.getLastError() or 'could not load'}", file=str(path)
                )
            if module not in set(antimony.getModuleNames()):
                if explicit:
                    raise ExotwinError("no such module in the file", file=str(path), field=module)
                module = antimony.getMainModuleName()
            text = antimony.getSBMLString(module)
            if not text:
                raise ExotwinError(
                    f"antimony: {antimony.getLastError() or 'no SBML produced'}",
                    file=str(path),
                    field=module,
                )
        finally:
            antimony.clearPreviousLoads()
    return _as_l3v2(text, source=str(path))


def _as_l3v2(text: str, source: str) -> str:
    """Return ``text`` unchanged if it is L3V2, else convert it with libsbml."""
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    if doc.getLevel() == SBML_LEVEL and doc.getVersion() == SBML_VERSION:
        return text
    if not doc.setLevelAndVersion(SBML_LEVEL, SBML_VERSION):
        errors = _messages(doc, libsbml.LIBSBML_SEV_ERROR)
        raise ExotwinError(
            "cannot convert to SBML L3V2: " + ("; ".join(errors) or "unknown reason"),
            file=source,
        )
    return libsbml.writeSBMLToString(doc)


@functools.lru_cache(maxsize=128)
def _builtin_sbml(name: str) -> str:
    info = _lookup(name)
    return antimony_file_to_sbml(info.path)


def to_sbml(name: str) -> str:
    """Return a built-in model as flat SBML Level 3 Version 2 text.

    Results are cached for the lifetime of the process.

    Parameters
    ----------
    name
        A name from :func:`list_models`.

    Returns
    -------
    str
        The SBML document.

    Raises
    ------
    ExotwinError
        If the name is unknown or the model does not convert.
    """
    return _builtin_sbml(name)


def _messages(doc, min_severity: int) -> list[str]:
    out = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() < min_severity:
            continue
        message = " ".join(err.getMessage().split())
        out.append(f"line {err.getLine()}: [{err.getErrorId()}] {message}")
    return out


def check_consistency(sbml_text: str) -> list[str]:
    """Validate SBML with libsbml and return its error-severity messages.

    Parameters
    ----------
    sbml_text
        An SBML document.

    Returns
    -------
    list of str
        One line per error or fatal message (parse errors included); warnings are left out.
        Empty when the document is consistent.
    """
    import libsbml

    doc = libsbml.readSBMLFromString(sbml_text)
    if doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL) == 0 and doc.getModel() is not None:
        doc.checkConsistency()
    return _messages(doc, libsbml.LIBSBML_SEV_ERROR)


def export(name: str, path: str | os.PathLike[str]) -> Path:
    """Write a built-in model as SBML L3V2 to ``path`` atomically.

    Parameters
    ----------
    name
        A name from :func:`list_models`.
    path
        Destination file; parent directories are created.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ExotwinError
        If the name is unknown, the model does not convert, or the file cannot be written.
    """
    return atomic_write_text(path, to_sbml(name))
