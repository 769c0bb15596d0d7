"""The process-pool engine: spawned worker processes on this machine.

Workers are spawned, not forked (forking a process whose numba threads are running
crashes), and each keeps numba to one thread so that workers do not oversubscribe cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from exotwin.engines.base import Engine, run_task
from exotwin.errors import ExotwinError


def _one_thread() -> None:
    """Worker initializer: runs before the first task imports numba."""
    os.environ["NUMBA_NUM_THREADS"] = "1"


class ProcessEngine(Engine):
    """Run tasks in a pool of ``workers`` spawned processes."""

    name = "processes"

    def __init__(self, workers: int = 2):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        """Submit every task; yield results as they complete."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_one_thread)  # fmt: skip
        pending = {self._pool.submit(run_task, spec) for spec in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise ExotwinError("a worker process died (killed, or out of memory?); "
                                       "the pool stopped", field="--engine") from None
                yield result

    def close(self) -> None:
        """Shut the pool down (pending tasks are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Terminate the workers and their running tasks, then shut the pool down.

        ``close`` would wait for the running tasks (minutes for a large scenario) after a
        Ctrl-C, and a parent ended by SIGTERM left them running as orphans.
        """
        if self._pool is not None:
            # the executor has no public way to stop running tasks before Python 3.14
            for process in list((self._pool._processes or {}).values()):
                process.terminate()
        self.close()
