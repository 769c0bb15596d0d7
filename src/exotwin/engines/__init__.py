"""Compute engines: run protocol scenarios serially, in a process pool, or on Dask.

Every engine takes plain-data task specifications (:func:`task`: a protocol as a dict,
parameter overrides and a seed), runs them with :func:`run_task` and yields plain-data
results as they complete. Workers never receive compiled objects, and every random draw
of the model comes from streams keyed by the seed, so all engines give identical numbers.
"""

from __future__ import annotations

from exotwin.engines.base import Engine, apply_overrides, result_frame, run_task, task
from exotwin.errors import ExotwinError

__all__ = ["ENGINES", "Engine", "apply_overrides", "check_engine", "make_engine",
           "result_frame", "run_task", "task"]  # fmt: skip

ENGINES = ("serial", "processes", "dask")


def check_engine(name: str, scheduler: str | None = None, field: str = "--engine") -> None:
    """Raise :class:`ExotwinError` unless ``name`` (and ``scheduler``) can make an engine.

    ``field`` names the option or argument that gave ``name`` in the error.
    """
    if name not in ENGINES:
        raise ExotwinError(f"must be one of {', '.join(ENGINES)}, not {name!r}", field=field)
    if scheduler is not None and name != "dask":
        raise ExotwinError("--scheduler goes with --engine dask", field="--scheduler")


def make_engine(name: str, workers: int | None = None, scheduler: str | None = None) -> Engine:
    """An engine by name (``serial``, ``processes`` or ``dask``).

    Parameters
    ----------
    name
        The back-end.
    workers
        Worker processes (``processes`` and the embedded Dask cluster); default 2.
    scheduler
        ``tcp://HOST:PORT`` of a running Dask scheduler to join (``dask`` only); without
        it a local cluster is started and closed with the engine.
    """
    check_engine(name, scheduler)
    if name == "serial":
        from exotwin.engines.serial import SerialEngine

        return SerialEngine()
    if name == "processes":
        from exotwin.engines.processes import ProcessEngine

        return ProcessEngine(workers or 2)
    from exotwin.engines.dask import DaskEngine

    return DaskEngine(workers or 2, scheduler)
