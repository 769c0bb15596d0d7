"""Parameter sweeps: a protocol over a grid of overrides x seeds, resumable, on any engine.

Every point of the grid (one combination of the ``--vary`` axes and one seed) has a
stable id, a hash of the protocol, its overrides and its seed. Its readouts are written
atomically, by the client alone, as ``DIR/points/<id>.parquet`` (after its comparisons,
``DIR/comparisons/<id>.json``), so a killed run or a lost worker never leaves half a
file, a rerun skips every point whose file exists, and no point can be stored twice.
``DIR/sweep.json`` records the protocol, the axes and the points; ``DIR/results.parquet``
and ``DIR/comparisons.parquet`` combine the points (DuckDB reads either, or the glob
``DIR/points/*.parquet``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.engines import apply_overrides, check_engine, make_engine, result_frame, task
from exotwin.engines.base import MODEL_PREFIX
from exotwin.errors import ExotwinError

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``PARAM=LO:HI:N[:log]`` or ``PARAM=a,b,...``.

    ``LO:HI:N`` gives N evenly spaced values (integers if LO and HI are); with ``:log``
    they are spaced evenly in log10 (``0 < LO``), as doses and rate constants usually are.

    Raises
    ------
    ExotwinError
        If the text is not of either form.
    """
    name, sep, values = text.partition("=")
    name = name.strip()
    grid = re.fullmatch(rf"\s*({_NUMBER}):({_NUMBER}):(\d+)(:log)?\s*", values)
    if not sep or not name:
        raise ExotwinError(f"{text!r}: expected PARAM=LO:HI:N[:log]", field="--vary")
    if grid:
        lo, hi, n = _number(grid[1]), _number(grid[2]), int(grid[3])
        if n < 1:
            raise ExotwinError(f"{text!r}: N must be at least 1", field="--vary")
        if n == 1 and lo != hi:  # was: LO alone, HI dropped without a word
            raise ExotwinError(f"{text!r}: N = 1 gives LO alone; write {name}={grid[1]} "
                               "for one value, or N >= 2", field="--vary")  # fmt: skip
        if grid[4]:
            if lo <= 0 or hi <= 0:
                raise ExotwinError(f"{text!r}: a log axis needs LO and HI above 0",
                                   field="--vary")  # fmt: skip
            return name, [float(v) for v in np.geomspace(lo, hi, n)]
        points = np.linspace(lo, hi, n) if n > 1 else np.array([lo])
        if isinstance(lo, int) and isinstance(hi, int) and np.all(points == np.round(points)):
            return name, [int(round(v)) for v in points]
        return name, [float(v) for v in points]
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not items or not all(re.fullmatch(_NUMBER, v) for v in items):
        raise ExotwinError(f"{text!r}: expected PARAM=LO:HI:N[:log] or PARAM=a,b,...",
                           field="--vary")  # fmt: skip
    values = [_number(v) for v in items]
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:  # one point (one id) each: it would run twice and be counted twice
        raise ExotwinError(f"{text!r}: {', '.join(map(str, twice))} given twice",
                           field="--vary")  # fmt: skip
    return name, values


def parse_seeds(text: str) -> list[int]:
    """``A..B`` (inclusive) or ``A`` or ``A,B,C``."""
    span = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+)\s*", text)
    if span:
        a, b = int(span[1]), int(span[2])
        if b < a:
            raise ExotwinError(f"{text!r}: B must not be below A", field="--seeds")
        return list(range(a, b + 1))
    if re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        return sorted({int(v) for v in text.split(",")})
    raise ExotwinError(f"{text!r}: expected A..B", field="--seeds")


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def point_id(protocol_hash: str, overrides: dict, seed: int) -> str:
    """Stable id of one point: the protocol, its overrides and its seed, hashed."""
    return _digest({"protocol": protocol_hash, "overrides": overrides, "seed": seed})[:16]


def _model_parameters(model: str) -> set[str]:
    import libsbml

    from exotwin.models import to_sbml

    doc = libsbml.readSBMLFromString(to_sbml(model))
    return {p.getId() for p in doc.getModel().getListOfParameters()}


def plan(protocol: Any, axes: list[tuple[str, list[Any]]], seeds: list[int],
         source: str = "") -> list[dict]:  # fmt: skip
    """Every point of the grid, ``{"id", "seed", "overrides"}``, each override validated."""
    names = [n for n, _ in axes]
    if len(set(names)) != len(names):
        raise ExotwinError("each parameter may be varied once", field="--vary")
    spec = protocol.model_dump(by_alias=True)
    known = None
    for name in names:
        if name.startswith(MODEL_PREFIX):
            known = known if known is not None else _model_parameters(protocol.model)
            if name.removeprefix(MODEL_PREFIX) not in known:
                raise ExotwinError(f"no parameter {name.removeprefix(MODEL_PREFIX)!r} in "
                                   f"model {protocol.model!r}", field=name)  # fmt: skip
    digest = _digest(spec)
    points = []
    for combo in itertools.product(*[values for _, values in axes]):
        overrides = dict(zip(names, combo, strict=True))
        apply_overrides(spec, overrides, source)  # fails here, before anything is written
        for seed in seeds:
            points.append({"id": point_id(digest, overrides, seed), "seed": seed,
                           "overrides": overrides})  # fmt: skip
    return points


def _manifest(out: Path, protocol: Any, source: str, axes, points: list[dict]) -> dict:
    """The manifest to write: this run's points joined to those ``DIR`` holds already."""
    spec = protocol.model_dump(by_alias=True, mode="json")
    digest = _digest(protocol.model_dump(by_alias=True))
    path = out / "sweep.json"
    known: dict[str, dict] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExotwinError(f"not a readable sweep manifest ({exc})", file=str(path)) from None
        if old.get("protocol_hash") != digest:
            raise ExotwinError("holds a sweep of another protocol (use another --out)",
                               file=str(out))  # fmt: skip
        known = {p["id"]: p for p in old.get("points", [])}
    known.update({p["id"]: p for p in points})
    return {"protocol_hash": digest, "source": source, "protocol": spec,
            "axes": {n: v for n, v in axes}, "points": list(known.values())}  # fmt: skip


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``DIR/.sweep.lock`` (``flock``, also across NFS clients) for the block.

    Sweeps running into ``DIR`` at once (array jobs over seed ranges) thus merge their
    points into ``sweep.json`` and combine them one at a time; a file system without
    locks leaves the block unlocked.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / ".sweep.lock", "a")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise ExotwinError(f"cannot write: {exc.strerror or exc}", file=str(out)) from None
    with handle:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write_point(out: Path, point: dict, res: dict) -> None:
    """The point's comparisons, then its readouts (whose file marks the point done)."""
    comparisons = [{"point": point["id"], "seed": point["seed"], **point["overrides"], **c}
                   for c in res["comparisons"]]  # fmt: skip
    atomic_write_text(out / "comparisons" / f"{point['id']}.json",
                      json.dumps(comparisons, default=float))  # fmt: skip
    frame = result_frame(res["readouts"])
    head = {"point": point["id"], "seed": point["seed"], **point["overrides"]}
    for i, (name, value) in enumerate(head.items()):
        frame.insert(i, name, value)
    with atomic_path(out / "points" / f"{point['id']}.parquet") as tmp:
        frame.to_parquet(tmp, index=False)


def combine(out: Path) -> dict[str, Path]:
    """Write ``results.parquet`` and ``comparisons.parquet`` from every finished point."""
    import duckdb

    manifest = json.loads((out / "sweep.json").read_text())
    ids = [p["id"] for p in manifest["points"]
           if (out / "points" / f"{p['id']}.parquet").is_file()]  # fmt: skip
    paths = {}
    if ids:
        files = [str(out / "points" / f"{i}.parquet") for i in ids]
        with atomic_path(out / "results.parquet") as tmp:
            con = duckdb.connect()
            try:  # in the manifest's order of points, each point's rows in their order
                con.read_parquet(files).write_parquet(str(tmp))
            finally:
                con.close()
        paths["results"] = out / "results.parquet"
        rows = [r for i in ids if (out / "comparisons" / f"{i}.json").is_file()
                for r in json.loads((out / "comparisons" / f"{i}.json").read_text())]
        if rows:
            table = pd.DataFrame(rows)
            for col in table.columns:
                if table[col].map(lambda v: isinstance(v, list | dict)).any():
                    table[col] = table[col].map(json.dumps)
            with atomic_path(out / "comparisons.parquet") as tmp:
                table.to_parquet(tmp, index=False)
            paths["comparisons"] = out / "comparisons.parquet"
    return paths


def sweep(
    protocol: str | Path,
    vary: list[str],
    seeds: str,
    out: Path,
    engine: str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run a protocol over the grid of ``vary`` axes x ``seeds``, skipping finished points.

    Parameters
    ----------
    protocol
        A protocol file or built-in protocol id.
    vary
        ``PARAM=LO:HI:N`` axes: a dotted protocol field or ``model.<parameter id>``.
    seeds
        ``A..B``.
    out
        The sweep's directory.
    engine, scheduler, workers
        As for :func:`exotwin.engines.make_engine`.
    progress
        Called as ``progress(done, total)`` when the sweep starts and after every point.

    Returns
    -------
    dict
        ``points`` (all), ``skipped`` (finished before), ``computed`` and the paths written.
    """
    from exotwin.power import load_protocol

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExotwinError("is a file, not a directory", file=str(out))
    parsed = load_protocol(protocol)
    source = str(protocol)
    axes = [parse_vary(v) for v in vary]
    points = plan(parsed, axes, parse_seeds(seeds), source)
    check_engine(engine, scheduler)
    _manifest(out, parsed, source, axes, points)  # another protocol's DIR fails here
    todo = [p for p in points if not (out / "points" / f"{p['id']}.parquet").is_file()]
    by_id = {p["id"]: p for p in todo}
    done = len(points) - len(todo)
    # the engine starts (or its scheduler is reached) before anything is written
    with make_engine(engine if todo else "serial", workers=workers,
                     scheduler=scheduler if todo else None) as runner:  # fmt: skip
        with _locked(out):  # with the points another sweep into DIR wrote meanwhile
            manifest = _manifest(out, parsed, source, axes, points)
            atomic_write_text(out / "sweep.json", json.dumps(manifest, indent=1) + "\n")
        if progress:
            progress(done, len(points))
        if todo:
            tasks = [task(p["id"], parsed, p["seed"], p["overrides"], source=source)
                     for p in todo]  # fmt: skip
            for res in runner.run(tasks):
                _write_point(out, by_id[res["key"]], res)
                done += 1
                if progress:
                    progress(done, len(points))
    with _locked(out):
        paths = combine(out)
    return {"points": len(points), "skipped": len(points) - len(todo), "computed": len(todo),
            **paths}  # fmt: skip
