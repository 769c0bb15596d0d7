"""The Dask distributed engine: an embedded local cluster, or a running scheduler.

Tasks go to the workers as plain data; results come back to the client, which alone
writes outputs. When a worker is lost, the scheduler reruns its unfinished tasks on
the others, and each task's result is yielded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exotwin.engines.base import Engine, run_task
from exotwin.errors import ExotwinError

WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}  # one numba thread per single-threaded worker


def _probe(address: str) -> None:
    """Raise :class:`ExotwinError` unless a Dask scheduler answers at ``address`` in time.

    The deadline is dask's ``distributed.comm.timeouts.connect`` (30 s by default) for the
    connection and its handshake: distributed waits for the handshake's reply without a
    deadline of its own, so a port that is open but is no scheduler (the dashboard's
    8787, any web server) hung the client for ever, and a garbage reply or a malformed
    address was a traceback.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import dask.config
    from dask.utils import parse_timedelta
    from distributed.comm import connect

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")

    async def handshake() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:  # on a thread of its own: a caller's running event loop (Jupyter) forbids asyncio.run
        with ThreadPoolExecutor(1) as thread:
            thread.submit(lambda: asyncio.run(asyncio.wait_for(handshake(), timeout))).result()
    except TimeoutError:
        reason = f"no Dask scheduler answered at {address!r} within {timeout:g} s"
    except ValueError as exc:
        reason = f"{address!r} is not a scheduler address, tcp://HOST:PORT ({exc})"
    except OSError as exc:
        reason = f"cannot reach a Dask scheduler at {address!r}: {exc}"
    except Exception as exc:  # whatever answered this, it is no scheduler
        reason = f"what answers at {address!r} is not a Dask scheduler ({type(exc).__name__})"
    else:
        return
    raise ExotwinError(reason, field="--scheduler")


class DaskEngine(Engine):
    """Run tasks on Dask: ``LocalCluster(workers, 1 thread, processes)`` or ``scheduler``.

    Parameters
    ----------
    workers
        Worker processes of the embedded cluster.
    scheduler
        Address (``tcp://HOST:PORT``) of a running scheduler to join instead.
    """

    name = "dask"

    def __init__(self, workers: int = 2, scheduler: str | None = None):
        from distributed import Client, LocalCluster

        self._cluster = None
        try:
            if scheduler is None:
                # the scheduler's HTTP server (health, metrics) runs without a dashboard
                # too: on a random port, as a second cluster on the node (another job's)
                # found 8787 taken and warned about it
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             scheduler_kwargs={"dashboard_address": ":0"},
                                             env=WORKER_ENV)  # fmt: skip
                self.client = Client(self._cluster)
            else:
                _probe(scheduler)
                self.client = Client(scheduler)
        except OSError as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ExotwinError(f"cannot reach the Dask scheduler: {exc}",
                               field="--scheduler") from None  # fmt: skip

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        """Submit every task (keyed by its ``key``); yield results as they complete."""
        from dask.base import tokenize
        from distributed import as_completed

        # the key names the whole specification: equal keys on a shared scheduler mean
        # equal work
        futures = [self.client.submit(run_task, spec, pure=False,
                                      key=f"exotwin-{spec['key']}-{tokenize(spec)}")
                   for spec in tasks]  # fmt: skip
        try:
            for future in as_completed(futures):
                yield future.result()
                future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        """Close the client, and the embedded cluster if one was started."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
