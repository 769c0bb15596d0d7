"""``exotwin sweep``: a protocol over a grid of parameter values and seeds, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exotwin.cli_power import WorkersOpt


def sweep_cmd(
    protocol: Annotated[Path, typer.Argument(help="Protocol YAML file or built-in id.")],
    vary: Annotated[
        list[str],
        typer.Option(help="PARAM=LO:HI:N[:log] or PARAM=a,b: a dotted protocol field "
                     "(groups.1.treatments.0.efficiency) or model.<parameter id>; repeatable."),
    ],
    seeds: Annotated[str, typer.Option(help="Seeds A..B (inclusive).")] = "1..1",
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/sweep"),
    engine: Annotated[str, typer.Option(help="serial, processes or dask.")] = "serial",
    scheduler: Annotated[
        str | None, typer.Option(help="tcp://HOST:PORT of a running Dask scheduler.")
    ] = None,
    workers: WorkersOpt = None,
) -> None:
    """Run a protocol over a parameter grid x seeds; rerunning skips finished points."""
    from exotwin.cli_power import progress_bar
    from exotwin.errors import ExotwinError
    from exotwin.sweep import sweep

    count: list[int] = []  # points stored, of all, once the sweep has started

    try:
        with progress_bar(f"sweep {protocol}") as progress:

            def track(done: int, total: int) -> None:
                count[:] = [done, total]
                progress(done, total)

            summary = sweep(protocol, vary, seeds, out, engine, scheduler, workers, track)
    except (KeyboardInterrupt, ExotwinError) as exc:
        if not count:  # nothing was written
            raise
        stored = (f"{count[0]} of {count[1]} points are stored in {out}; the same command "
                  "continues from there")  # fmt: skip
        if isinstance(exc, ExotwinError):
            raise ExotwinError(f"{exc.reason}; {stored}", file=exc.file,
                               field=exc.field) from None  # fmt: skip
        typer.echo(f"interrupted: {stored}", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"points: {summary['points']} ({summary['computed']} computed, "
               f"{summary['skipped']} already done)")  # fmt: skip
    if "results" in summary:
        typer.echo(f"results: {summary['results']}")
