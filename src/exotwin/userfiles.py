"""A user's input files: YAML read strictly, validation errors as one readable line.

Owns :func:`read_yaml` (a syntax error or a key given twice names its line) and
:func:`validation_reason` (a pydantic error as the reason of an ExotwinError line; a
misspelt field is named with its likely fix). Below protocols and tissue, which both use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel

from exotwin.errors import ExotwinError, require_file


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model(s) at the parent of ``loc`` (a pydantic error location)."""
    candidates = [model]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        inner = [m for c in candidates if item in c.model_fields
                 for m in _models_in(c.model_fields[item].annotation)]  # fmt: skip
        tagged = [c for c in candidates if item in get_args(
            getattr(c.model_fields.get("type"), "annotation", None))]  # fmt: skip
        candidates = inner or tagged
    return sorted({f for c in candidates for f in c.model_fields})


def validation_reason(model: type[BaseModel], errors: list[dict]) -> str:
    """The first error's message; a misspelt field name is named with its likely fix."""
    import difflib

    err = errors[0]
    msg = err["msg"].removeprefix("Value error, ")
    parent = err["loc"][:-1]
    if err["type"] == "union_tag_invalid" and isinstance(err.get("input"), dict):
        tag = err["input"].get("type")
        msg = f"unknown treatment type {tag!r}" if tag else msg
    elif err["type"] == "missing":
        extra = [e["loc"][-1] for e in errors
                 if e["type"] == "extra_forbidden" and e["loc"][:-1] == parent]  # fmt: skip
        msg = "required field is missing"
        if extra:
            msg += f" (the unknown field {extra[0]!r} is given instead?)"
    elif err["type"] == "extra_forbidden":
        known = _fields_at(model, err["loc"])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1, cutoff=0.75)
        msg = "unknown field" + (f"; did you mean {close[0]!r}?" if close else
                                 f"; known: {', '.join(known)}" if known else "")
    return msg


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in a mapping is an error."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # unhashable keys are the base loader's to refuse
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (the first would be ignored)",
                    key_node.start_mark)  # fmt: skip
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path, what: str = "protocol file") -> Any:
    """A user's YAML file (protocol, scenario); a syntax error or a repeated key names its line."""
    path = require_file(path, what)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ExotwinError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                           field=where) from None  # fmt: skip


__all__ = ["read_yaml", "validation_reason"]
