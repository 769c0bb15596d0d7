"""Cell lines as parameter sets: a registry mapping a line's name to model parameter overrides.

The table is ``lines.yaml`` next to this module: per line, the model its overrides are for,
a description, and per parameter a value, a unit and a provenance (reference or
``assumed: why``). A protocol's ``cell_line`` selects an entry; its overrides are the
starting parameters of every group's cells (knockdown/overexpression multipliers of the
same input multiply them).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from exotwin.errors import ExotwinError


@cache
def cell_lines() -> dict[str, dict]:
    """The registry: line name -> ``{model, description, parameters}`` (as in lines.yaml)."""
    text = (resources.files("exotwin.cells") / "lines.yaml").read_text()
    return yaml.safe_load(text)


def cell_line_parameters(name: str, model: str = "tumour_cell",
                         file: str | None = None) -> dict[str, float]:  # fmt: skip
    """Model parameter overrides of a cell line, ``{parameter id: value}``.

    Raises
    ------
    ExotwinError
        Unknown line, or a line whose overrides belong to another model (naming ``file``,
        field ``cell_line`` and the reason).
    """
    lines = cell_lines()
    if name not in lines:
        raise ExotwinError(f"unknown cell line {name!r}; known: {', '.join(lines)}",
                           file=file, field="cell_line")  # fmt: skip
    entry = lines[name]
    params = entry.get("parameters") or {}
    if params and entry.get("model") != model:
        raise ExotwinError(f"cell line {name!r} has parameters for model {entry.get('model')!r}, "
                           f"not {model!r}", file=file, field="cell_line")  # fmt: skip
    return {k: float(v["value"]) for k, v in params.items()}
