"""The engine interface and the one function every worker runs, on plain data only."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from exotwin.errors import ExotwinError

MODEL_PREFIX = "model."  # an override ``model.<id>`` sets a model parameter for every well


def task(key: str, protocol: Any, seed: int, overrides: dict | None = None,
         out: str | None = None, source: str = "") -> dict:  # fmt: skip
    """A task specification: plain, picklable data naming one scenario.

    Parameters
    ----------
    key
        Unique name of the task (results carry it back).
    protocol
        A validated protocol (dumped to a dict here) or its dict.
    seed
        The random seed.
    overrides
        ``{dotted field or model.<parameter>: value}`` applied before validation.
    out
        Directory for files the run writes itself (FCS files); ``None``: none.
    source
        The protocol's file or id, for error messages.
    """
    spec = protocol if isinstance(protocol, dict) else protocol.model_dump(by_alias=True)
    return {"key": key, "protocol": spec, "seed": int(seed), "overrides": dict(overrides or {}),
            "out": out, "source": source}  # fmt: skip


def _set(data: Any, path: list[str], value: Any, name: str, source: str) -> None:
    """Set ``data[path]`` (dicts by key, lists by index), keeping a quantity's unit."""
    node = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        try:
            key: Any = int(part) if isinstance(node, list) else part
            if last:
                old = node[key] if isinstance(node, list) or key in node else None
                if isinstance(old, str) and not isinstance(value, str):
                    unit = old.split(maxsplit=1)[1] if len(old.split()) > 1 else ""
                    value = f"{float(value)!r} {unit}".strip()  # full precision, no merged points
                node[key] = value
                return
            node = node[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ExotwinError(f"no such protocol field ({'.'.join(path[: i + 1])})",
                               file=source or None, field=name) from None  # fmt: skip


def apply_overrides(spec: dict, overrides: dict, source: str = "") -> Any:
    """The validated protocol of ``spec`` with ``overrides`` applied.

    ``model.<id>`` sets entry ``<id>`` of the protocol's ``parameters`` (a model parameter
    of every well); any other name is a dotted path of protocol fields
    (``groups.1.treatments.0.efficiency``, ``replicates``). A number replacing a quantity
    with a unit (``"20 ug/mL"``) keeps the unit.
    """
    from pydantic import ValidationError

    from exotwin.protocols import protocol_model
    from exotwin.protocols.schema import _field_path
    from exotwin.userfiles import validation_reason

    data = copy.deepcopy(spec)
    for name, value in overrides.items():
        if name.startswith(MODEL_PREFIX):
            if "parameters" not in protocol_model(data.get("kind", "culture")).model_fields:
                raise ExotwinError("this protocol kind takes no model parameters",
                                   file=source or None, field=name)  # fmt: skip
            params = dict(data.get("parameters") or {})
            params[name.removeprefix(MODEL_PREFIX)] = value
            data["parameters"] = params
        else:
            _set(data, name.split("."), value, name, source)
    model = protocol_model(data.get("kind", "culture"))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = _field_path(exc.errors()[0]["loc"]) or None
        raise ExotwinError(validation_reason(model, exc.errors()), file=source or None,
                           field=where) from None  # fmt: skip


def frame_data(frame: pd.DataFrame) -> dict:
    """A DataFrame as plain data: columns as lists and their dtypes."""
    return {"columns": {c: frame[c].tolist() for c in frame.columns},
            "dtypes": {c: str(frame[c].dtype) for c in frame.columns}}  # fmt: skip


def result_frame(data: dict) -> pd.DataFrame:
    """The DataFrame of :func:`frame_data`'s output, with its dtypes."""
    return pd.DataFrame(data["columns"]).astype(data["dtypes"])


def run_task(spec: dict) -> dict:
    """Run one task specification; the result is plain data.

    Returns
    -------
    dict
        ``key``, ``seed``, ``overrides``, ``readouts`` (:func:`frame_data` of the tidy
        readouts), ``comparisons`` (dicts) and ``files`` (paths written, as text).
    """
    from exotwin.protocols import run_protocol

    protocol = apply_overrides(spec["protocol"], spec["overrides"], spec["source"])
    out = None if spec["out"] is None else Path(spec["out"])
    res = run_protocol(protocol, seed=spec["seed"], out=out, source=spec["source"])
    return {"key": spec["key"], "seed": spec["seed"], "overrides": spec["overrides"],
            "readouts": frame_data(res.readouts), "comparisons": res.comparisons,
            "files": [str(f) for f in res.files]}  # fmt: skip


class Engine(ABC):
    """Runs task specifications and yields their results as they complete.

    Use as a context manager, or call :meth:`close` when done.
    """

    name = "engine"

    @abstractmethod
    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        """Submit ``tasks`` (from :func:`task`) and yield each result once, in any order."""

    def close(self) -> None:
        """Release workers and clusters the engine started (nothing by default)."""
        return None

    def abort(self) -> None:
        """Stop at once, abandoning running tasks (on an error or an interrupt)."""
        self.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
