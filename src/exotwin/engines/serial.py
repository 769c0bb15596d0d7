"""The serial engine: every task in this process, one after another, in order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exotwin.engines.base import Engine, run_task


class SerialEngine(Engine):
    """Run tasks in the calling process (the reference for the other engines)."""

    name = "serial"

    def run(self, tasks: Iterable[dict]) -> Iterator[dict]:
        """Yield the result of each task in turn."""
        for spec in tasks:
            yield run_task(spec)
