"""The ``exotwin`` command line: models, SBML time courses, protocols, replicate, demo.

User errors (:class:`~exotwin.errors.ExotwinError`) are printed as one line,
``error: <message>``, on stderr with exit status 2; so are usage errors (an unknown option,
a value out of range), with a pointer to the command's ``--help``.
Heavy modules are imported inside the commands so that ``exotwin --version`` stays fast.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors click (pinned)

from exotwin import __version__
from exotwin.cli_analyze import app as analyze_app
from exotwin.cli_power import WorkersOpt, seed_option
from exotwin.cli_power import register as register_calibration
from exotwin.cli_sweep import sweep_cmd
from exotwin.errors import ExotwinError, require_file

app = typer.Typer(
    name="exotwin",
    help="Digital twin of exosome-mediated cell-to-cell communication in NPC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
models_app = typer.Typer(help="The built-in model library.", no_args_is_help=True)
sbml_app = typer.Typer(help="Simulate SBML models.", no_args_is_help=True)
protocols_app = typer.Typer(help="The built-in protocol library.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(sbml_app, name="sbml")
app.add_typer(protocols_app, name="protocols")
app.add_typer(analyze_app, name="analyze")
app.command("sweep")(sweep_cmd)
register_calibration(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"exotwin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Digital twin of exosome-mediated cell-to-cell communication in NPC."""


@models_app.command("list")
def models_list() -> None:
    """List the built-in models."""
    from rich.console import Console
    from rich.table import Table

    from exotwin.models import list_models

    models = list_models()
    console = Console()
    if not models:
        console.print("no built-in models found")
        return
    table = Table("name", "description")
    for info in models:
        table.add_row(info.name, info.description)
    console.print(table)


@models_app.command("export")
def models_export(
    name: Annotated[str, typer.Argument(help="Built-in model name (see `models list`).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="SBML file to write.")],
) -> None:
    """Export a built-in model as flat SBML Level 3 Version 2."""
    from exotwin.models import export

    typer.echo(str(export(name, out)))


@models_app.command("doc")
def models_doc(
    name: Annotated[str, typer.Argument(help="Built-in model name.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Markdown file.")] = None,
) -> None:
    """Write a model's page: wiring diagram (Mermaid) and parameter tables."""
    from exotwin.atomic import atomic_write_text
    from exotwin.models.document import markdown

    text = markdown(name)
    if out is None:
        typer.echo(text)
    else:
        atomic_write_text(out, text + "\n")
        typer.echo(str(out))


def _names(value: str | None) -> list[str]:
    """Split a comma-separated option into names."""
    if value is None:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


@sbml_app.command("simulate")
def sbml_simulate(
    model: Annotated[Path, typer.Argument(help="SBML model file.")],
    duration: Annotated[float, typer.Option(help="Length of the time course.")],
    steps: Annotated[int, typer.Option(min=1, help="Number of output intervals.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="CSV file to write.")],
    start: Annotated[float, typer.Option(help="Start time.")] = 0.0,
    variables: Annotated[
        str | None, typer.Option(help="Comma-separated ids to report (default: all species).")
    ] = None,
    amount: Annotated[
        str | None, typer.Option(help="Comma-separated species ids to report as amounts.")
    ] = None,
    concentration: Annotated[
        str | None,
        typer.Option(help="Comma-separated species ids to report as concentrations."),
    ] = None,
) -> None:
    """Simulate an SBML time course and write it as CSV."""
    require_file(model)

    from exotwin.atomic import atomic_path
    from exotwin.sbml import time_course

    selected = _names(variables)
    frame = time_course(
        model,
        start,
        duration,
        steps,
        variables=selected or None,
        amount=tuple(_names(amount)),
        concentration=tuple(_names(concentration)),
    )
    import pandas as pd

    keep_index = not isinstance(frame.index, pd.RangeIndex)
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=keep_index)
    typer.echo(str(out))


@protocols_app.command("list")
def protocols_list() -> None:
    """List the built-in protocols (one per figure panel) and the claims they test."""
    from rich.console import Console
    from rich.table import Table

    from exotwin.protocols import library, load

    table = Table()
    table.add_column("protocol", no_wrap=True)  # the id to pass to `exotwin run`: never cut
    table.add_column("figure")
    table.add_column("claims", overflow="fold")  # claim ids: folded, never cut either
    table.add_column("title")
    for pid, path in library().items():
        p = load(path)
        table.add_row(pid, p.figure or "", ", ".join(p.claims), p.title)
    Console().print(table)


@app.command("run")
def run_protocol(
    protocol: Annotated[Path, typer.Argument(help="Protocol YAML file or built-in id.")],
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/run"),
    seed: Annotated[
        int | None,
        seed_option("Random seed (default 1; tissue: the scenario's)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Tissue: end time, e.g. '60 min'.")] = None,
    checkpoint_every: Annotated[
        str | None, typer.Option(help="Tissue: checkpoint interval, e.g. '10 min'.")
    ] = None,
    snapshot_every: Annotated[
        str | None, typer.Option(help="Tissue: snapshot interval (default: checkpoints).")
    ] = None,
) -> None:
    """Run one protocol: readouts (Parquet), FCS files and the claim comparisons (JSON).

    Outputs appear together at the end; a failed or interrupted run writes nothing.

    A rerun of the same protocol into --out replaces its earlier files (stale FCS files
    of a larger earlier run included); other protocols' files stay.

    A tissue scenario (kind: tissue) writes checkpoints and snapshots instead.
    """
    import json

    from exotwin.atomic import atomic_dir, atomic_path, atomic_write_text
    from exotwin.protocols import find, load, run_protocol
    from exotwin.protocols.run import claim_verdicts

    path = find(protocol)
    if _is_tissue(path):
        _run_tissue(path, None, out, until, checkpoint_every, seed, snapshot_every)
        return
    parsed = load(path)  # validates before anything is written
    if until is not None or checkpoint_every is not None or snapshot_every is not None:
        raise ExotwinError("--until, --checkpoint-every and --snapshot-every are for tissue "
                           "scenarios (kind: tissue)", file=str(path))  # fmt: skip
    # a failed or interrupted run leaves no partial output
    with atomic_dir(out, owner=parsed.id) as stage:
        result = run_protocol(parsed, seed=1 if seed is None else seed, out=stage,
                              source=str(path))
        with atomic_path(stage / "readouts" / f"{parsed.id}.parquet") as tmp:
            result.readouts.to_parquet(tmp, index=False)
        verdicts = claim_verdicts(result.comparisons)
        atomic_write_text(stage / "claims.json", json.dumps(verdicts, indent=2))
    for c in verdicts:
        p_value = "n/a" if c["p_value"] is None else f"{c['p_value']:.3g}"
        typer.echo(f"{c['id']}: {c['verdict']} (observed {c['observed']}; P = {p_value})")
    typer.echo(f"wrote {out}")


def _is_tissue(path: Path) -> bool:
    """Whether a YAML file declares ``kind: tissue`` (unreadable files: no)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("kind") == "tissue"


def _run_tissue(config, resume_from, out, until, checkpoint_every, seed,
                snapshot_every=None) -> None:
    """Run or resume a tissue scenario into ``out``; prints the final checkpoint."""
    from exotwin.tissue.runner import parse_minutes, run_to_dir, step_name

    if until is None:
        raise ExotwinError("a tissue scenario needs --until (e.g. '60 min')")
    if seed is not None:
        raise ExotwinError("a tissue scenario takes its seed from the scenario file")
    every = None if checkpoint_every is None else parse_minutes(
        checkpoint_every, "--checkpoint-every")
    snap = None if snapshot_every is None else parse_minutes(snapshot_every, "--snapshot-every")
    try:
        final = run_to_dir(config, out, parse_minutes(until, "--until"), every, resume_from,
                           snap)  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM at a batch job's time limit
        saved = sorted((out / "checkpoints").glob("step_*.npz"))
        # the run's own cadence: without it the resumed run checkpoints at its end only
        cadence = "".join(f' {flag} "{value}"' for flag, value in (
            ("--checkpoint-every", checkpoint_every), ("--snapshot-every", snapshot_every))
            if value is not None)  # fmt: skip
        where = (f"the last checkpoint is {saved[-1]}; 'exotwin resume {saved[-1]} --until "
                 f"\"{until}\"{cadence} --out {out}' continues from it" if saved
                 else "no checkpoint was written")  # fmt: skip
        typer.echo(f"interrupted: {where}", err=True)  # was: exit 130 without a word
        raise typer.Exit(130) from None
    typer.echo(f"t = {final.time:g} min, {final.agents.n} cells: "
               f"{out / 'checkpoints' / step_name(final)}.npz")


@app.command("resume")
def resume_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="Tissue checkpoint (.npz).")],
    until: Annotated[str, typer.Option(help="End time, e.g. '60 min'.")],
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/run"),
    checkpoint_every: Annotated[
        str | None, typer.Option(help="Checkpoint interval, e.g. '10 min'.")
    ] = None,
    snapshot_every: Annotated[
        str | None, typer.Option(help="Snapshot interval (default: checkpoints).")
    ] = None,
) -> None:
    """Continue a tissue run from a checkpoint; equals the uninterrupted run exactly."""
    _run_tissue(None, checkpoint, out, until, checkpoint_every, None, snapshot_every)


@app.command("replicate")
def replicate_cmd(
    paper: Annotated[str, typer.Option(help="xia2021, deng2023 or all.")] = "xia2021",
    seed: Annotated[int, seed_option("Random seed (recorded with the outputs).")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/replicate"),
    engine: Annotated[str, typer.Option(help="serial, processes or dask.")] = "serial",
    scheduler: Annotated[
        str | None, typer.Option(help="tcp://HOST:PORT of a running Dask scheduler.")
    ] = None,
    workers: WorkersOpt = None,
) -> None:
    """Run a paper's experiments in silico and write report.html and claims.json.

    Outputs appear together at the end; a failed or interrupted run writes nothing.
    """
    from exotwin.atomic import atomic_dir
    from exotwin.cli_power import progress_bar
    from exotwin.replicate import protocols_for, replicate

    ids = protocols_for(paper)
    done = iter(range(1, len(ids) + 1))
    with (progress_bar(f"{paper}: {len(ids)} protocols") as progress,
          atomic_dir(out, owner=f"replicate:{paper}") as stage):
        summary = replicate(paper, seed, stage, engine, scheduler=scheduler, workers=workers,
                            progress=lambda _: progress(next(done), len(ids)))  # fmt: skip
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
    typer.echo(f"claims: {counts}")
    typer.echo(f"report: {out / summary['report'].name}")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("results/demo"),
    n_cells: Annotated[int, typer.Option(min=1, help="Number of tumour cells.")] = 1000,
    seed: Annotated[int, seed_option("Random seed (recorded with the outputs).")] = 1,
) -> None:
    """Run a small demonstration simulation and summarise it."""
    from exotwin.demo import run_demo

    typer.echo(run_demo(out, n_cells=n_cells, seed=seed))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; user errors become one line on stderr and exit status 2.

    Parameters
    ----------
    argv
        Arguments without the program name; ``sys.argv[1:]`` when omitted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    previous = _unwind_on_sigterm()
    try:
        status = app(args=args, prog_name="exotwin", standalone_mode=False)
    except ExotwinError as exc:
        _fail(str(exc), ExotwinError.exit_code)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "exotwin"
        _fail(f"{exc.format_message()} (see '{command} --help')", exc.exit_code)
    except click_errors.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(status if isinstance(status, int) else 0)


def _fail(message: str, status: int) -> NoReturn:
    """Print ``error: MESSAGE`` as one line on stderr and exit with ``status``."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(status)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _unwind_on_sigterm():
    """Make SIGTERM (``kill``, a batch system's end of job) unwind as Ctrl-C does.

    Outputs then stay whole and engines stop their workers; the default handler ended
    the process at once and left a process pool's workers running as orphans. Only the
    default handler is replaced: a program calling :func:`main` with a SIGTERM handler of
    its own (or one set outside Python, which could not be put back) keeps it. Returns the
    handler to put back, or ``None`` when none was set (also outside the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _interrupt)
