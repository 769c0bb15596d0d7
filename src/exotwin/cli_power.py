"""``exotwin power``, ``sensitivity``, ``fit``, ``export-petab``: power, sensitivity, fitting."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

MAX_SEED = 2**64 - 1  # random draws are keyed by a 64-bit seed (exotwin.rng)


def seed_option(help: str) -> typer.models.OptionInfo:
    """A ``--seed`` option: an integer 0 <= seed < 2**64 (no silent wrap of -1 or 2**64)."""
    return typer.Option(min=0, max=MAX_SEED, help=help)


ProtocolArg = Annotated[Path, typer.Argument(help="Protocol YAML file or built-in id.")]
EngineOpt = Annotated[str, typer.Option(help="serial, processes or dask.")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="tcp://HOST:PORT of a running Dask scheduler.")
]


def _cores() -> int:
    """The cores this process may use (a batch job's allocation, not the node's)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_workers(workers: int | None) -> int | None:
    """Warn (stderr) when ``--workers`` exceeds the cores: workers then share them."""
    if workers is not None and workers > _cores():
        typer.echo(f"warning: --workers {workers} is more than the {_cores()} cores this "
                   "process may use; the workers will share them (and each holds its own "
                   "compiled models in memory)", err=True)  # fmt: skip
    return workers


WorkersOpt = Annotated[
    int | None, typer.Option(min=1, callback=_check_workers,
                             help="Workers of the process pool / local cluster.")
]
DataArg = Annotated[Path, typer.Argument(
    help="Tidy CSV or Parquet (e.g. readouts/ID.parquet of `exotwin run`): group, time_h, "
    "readout, value, ...")]  # fmt: skip
FreeOpt = Annotated[list[str], typer.Option(help="model.PARAM=LO:HI (0 < LO < HI); repeatable.")]


def _hms(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


@contextmanager
def progress_bar(description: str,
                 every: float = 60.0) -> Iterator[Callable[[int, int], None]]:  # fmt: skip
    """A rich progress bar on a terminal; yields ``progress(done, total)``.

    When stdout is not a terminal (a batch job's log) rich would leave an empty line in
    the output or before an error; a plain line goes to stderr instead, at most every
    ``every`` seconds: ``DESCRIPTION: 120/2000 done, 0:05:00 elapsed, about 1:18:20
    left`` (the rate of this run's own work: what was done before it started is not
    counted).
    """
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    if not sys.stdout.isatty():
        start = time.monotonic()
        last, first = [start], []

        def report(done: int, total: int) -> None:
            first[:] = first or [done]
            now = time.monotonic()
            if done == first[0] or now - last[0] < every:
                return
            last[0] = now
            left = (now - start) / (done - first[0]) * (total - done)
            print(f"{description}: {done}/{total} done, {_hms(now - start)} elapsed, "
                  f"about {_hms(left)} left", file=sys.stderr, flush=True)  # fmt: skip

        yield report
        return

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        handle = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(handle, completed=done, total=total)


def power_cmd(
    protocol: ProtocolArg,
    n: Annotated[str, typer.Option("--n", help="Replicates per group: 3,4,5,6 or 3..6.")],
    simulations: Annotated[int, typer.Option(min=1, help="Seeds per n.")] = 20,
    seed: Annotated[int, seed_option("First seed (seeds seed..seed+K-1).")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/power"),
    engine: EngineOpt = "serial",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Probability, by simulation, that the protocol's statistics detect its effect at each n."""
    from exotwin.power import power

    with progress_bar(f"power {protocol}") as progress:
        summary = power(protocol, n, out, simulations, seed, engine, scheduler, workers,
                        progress)  # fmt: skip
    for row in summary["table"].itertuples():
        ci = f"[{row.ci_low:.2f}, {row.ci_high:.2f}] ({row.detected}/{row.simulations})"
        typer.echo(f"{row.claim}  n={row.n}: {row.power:.2f} {ci}")
    typer.echo(f"table: {summary['csv']}")
    typer.echo(f"plot: {summary['plot']}")


def sensitivity_cmd(
    protocol: ProtocolArg,
    readout: Annotated[str, typer.Option(help="The readout, e.g. apoptotic_% or OD450.")],
    vary: Annotated[list[str], typer.Option(help="model.PARAM=LO:HI (uniform); repeatable.")],
    method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    samples: Annotated[
        int | None,
        typer.Option(
            help="Base samples (Sobol: power of 2, default 16; Morris: trajectories, default 10)."
        ),  # fmt: skip
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only this group's wells.")] = None,
    time: Annotated[float | None, typer.Option(help="Assay time in h (default: last).")] = None,
    seed: Annotated[int, seed_option("Seed of every run and of the sampling.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/sensitivity"),
    engine: EngineOpt = "serial",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Global sensitivity (Sobol or Morris) of a readout's mean to model parameters."""
    from exotwin.sensitivity import sensitivity

    with progress_bar(f"sensitivity {protocol}") as progress:
        summary = sensitivity(protocol, readout, vary, out, method, samples, group, time, seed,
                              engine, scheduler, workers, progress)  # fmt: skip
    typer.echo(f"runs: {summary['runs']}")
    typer.echo(summary["indices"].to_string(index=False, float_format="{:.3g}".format))
    typer.echo(f"indices: {summary['csv']}")
    typer.echo(f"plot: {summary['plot']}")


def fit_cmd(
    protocol: ProtocolArg,
    data: DataArg,
    free: FreeOpt,
    starts: Annotated[int, typer.Option(help="Latin hypercube starts.")] = 4,
    scale: Annotated[str, typer.Option(help="log or linear residuals.")] = "log",
    profile_points: Annotated[
        int, typer.Option(help="Profile points either side of each estimate.")
    ] = 5,
    seed: Annotated[int, seed_option("Seed of every simulation and of the starts.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/fit"),
    engine: EngineOpt = "serial",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    intervals: Annotated[str, typer.Option(help="profile or bootstrap.")] = "profile",
    bootstrap: Annotated[int, typer.Option(help="Resamples of --intervals bootstrap.")] = 100,
    petab: Annotated[
        Path | None, typer.Option(help="Also write the problem as PEtab v1 into this directory.")
    ] = None,
) -> None:
    """Fit model parameters to measurements; profile or bootstrap 95 % intervals."""
    from exotwin.fit import fit

    with progress_bar(f"fit {protocol}") as progress:
        summary = fit(protocol, data, free, out, starts, scale, profile_points, seed, engine,
                      scheduler, workers, progress, intervals, bootstrap, petab)  # fmt: skip
    typer.echo(f"chi2: {summary['chi2']:.4g} ({summary['runs']} runs; intervals "
               f"{summary['seconds']:.1f} s)")  # fmt: skip
    typer.echo(summary["table"].to_string(index=False, float_format="{:.4g}".format))
    typer.echo(f"table: {summary['csv']}")
    typer.echo(f"plot: {summary['plot']}")
    if "petab" in summary:
        typer.echo(f"petab: {summary['petab']}")


def export_petab_cmd(
    protocol: ProtocolArg,
    data: DataArg,
    free: FreeOpt,
    scale: Annotated[str, typer.Option(help="log or linear noise.")] = "log",
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/petab"),
) -> None:
    """Write the problem of `exotwin fit` as PEtab v1 (a deterministic mean cell per group)."""
    from exotwin.petab import export

    summary = export(protocol, data, free, out, scale)
    typer.echo(f"{summary['conditions']} conditions, {summary['observables']} observables, "
               f"{summary['measurements']} measurements")  # fmt: skip
    typer.echo(f"problem: {summary['problem']}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``exotwin`` application."""
    app.command("power")(power_cmd)
    app.command("sensitivity")(sensitivity_cmd)
    app.command("fit")(fit_cmd)
    app.command("export-petab")(export_petab_cmd)
