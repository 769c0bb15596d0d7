"""Engines give the same numbers; sweeps resume; a lost Dask worker costs no result."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from exotwin.engines import make_engine, result_frame, task
from exotwin.errors import ExotwinError
from exotwin.protocols import load
from exotwin.sweep import parse_seeds, parse_vary, sweep

TINY = Path(__file__).parent / "data" / "engines_tiny.yaml"
VARY = ["model.SV_k_nfkb_ERp44=0.2:1:2", "groups.1.treatments.0.efficiency=0.5:0.9:2"]


def _frames(out: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted((out / "points").glob("*.parquet"))}


def _assert_same_sweep(a: Path, b: Path) -> None:
    fa, fb = _frames(a), _frames(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        pd.testing.assert_frame_equal(fa[key], fb[key])
        ca = json.loads((a / "comparisons" / f"{key}.json").read_text())
        assert ca == json.loads((b / "comparisons" / f"{key}.json").read_text())


def test_every_engine_gives_the_same_numbers():
    protocol = load(TINY)
    tasks = [task(f"s{seed}", protocol, seed, {"model.SV_k_nfkb_ERp44": 0.3}) for seed in (3, 4)]
    runs = {}
    for name in ("serial", "processes", "dask"):
        with make_engine(name) as engine:
            runs[name] = {r["key"]: r for r in engine.run(tasks)}
    for name in ("processes", "dask"):
        assert runs[name].keys() == {"s3", "s4"}
        for key, ref in runs["serial"].items():
            pd.testing.assert_frame_equal(result_frame(runs[name][key]["readouts"]),
                                          result_frame(ref["readouts"]))
            assert runs[name][key]["comparisons"] == ref["comparisons"]
    # the override reaches the model: another rate constant, other numbers
    with make_engine("serial") as engine:
        (plain,) = engine.run([task("p", protocol, 3)])
    assert plain["readouts"] != runs["serial"]["s3"]["readouts"]


def test_sweep_writes_each_point_once_and_resumes(tmp_path):
    out = tmp_path / "sw"
    calls = []
    first = sweep(TINY, VARY, "1..2", out, progress=lambda d, t: calls.append((d, t)))
    assert (first["points"], first["computed"], first["skipped"]) == (8, 8, 0)
    assert calls[0] == (0, 8) and calls[-1] == (8, 8)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    again = sweep(TINY, VARY, "1..2", out)
    assert (again["computed"], again["skipped"]) == (0, 8)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    # one more seed: only its points run
    more = sweep(TINY, VARY, "1..3", out)
    assert (more["points"], more["computed"], more["skipped"]) == (12, 4, 8)
    glob = str(out / "points" / "*.parquet")
    n, points = duckdb.execute(f"SELECT count(*), count(DISTINCT point) FROM '{glob}'").fetchone()
    assert points == 12 and n == 12 * len(next(iter(_frames(out).values())))
    combined = duckdb.execute(f"SELECT count(*) FROM '{out / 'results.parquet'}'").fetchone()[0]
    assert combined == n
    verdicts = duckdb.execute(f"SELECT count(*) FROM '{out / 'comparisons.parquet'}'").fetchone()
    assert verdicts == (12,)
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("vary", "field"),
    [(["groups.7.label=1:2:2"], "groups.7.label"), (["model.no_such_k=1:2:2"], "model.no_such_k"),
     (["replicates=0:1:2"], "replicates"), (["replicates"], "--vary")],
)
def test_sweep_errors_write_nothing(tmp_path, vary, field):
    with pytest.raises(ExotwinError) as err:
        sweep(TINY, vary, "1..2", tmp_path / "sw")
    assert err.value.field == field
    assert not (tmp_path / "sw").exists()


def test_vary_and_seed_syntax():
    assert parse_vary("replicates=2:4:3") == ("replicates", [2, 3, 4])
    assert parse_vary("model.k=0.1:1:2") == ("model.k", [0.1, 1.0])
    assert parse_vary("x=1,5") == ("x", [1, 5])
    name, values = parse_vary("model.k=0.01:10:4:log")
    assert name == "model.k"
    np.testing.assert_allclose(values, [0.01, 0.1, 1.0, 10.0], rtol=1e-12)
    with pytest.raises(ExotwinError, match="above 0"):
        parse_vary("model.k=0:10:4:log")
    assert parse_seeds("3..5") == [3, 4, 5]
    with pytest.raises(ExotwinError):
        parse_seeds("5..3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_lost_dask_worker_costs_no_result_and_duplicates_none(tmp_path):
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stderr=subprocess.DEVNULL)]
    watcher = None
    try:
        for name in ("keeper", "victim"):
            procs.append(subprocess.Popen(
                [*dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--name",
                 name, "--no-nanny", "--no-dashboard"],
                env=env, stderr=subprocess.DEVNULL))  # fmt: skip
        watcher = Client(address, timeout="30s")
        watcher.wait_for_workers(2, timeout=60)
        victim = procs[2]
        (where,) = [a for a, w in watcher.scheduler_info(n_workers=-1)["workers"].items()
                    if w["name"] == "victim"]  # fmt: skip
        killed_at = []

        def progress(done: int, total: int) -> None:
            if done >= 1 and not killed_at:
                busy = len(watcher.processing().get(where, ()))
                victim.send_signal(signal.SIGKILL)
                killed_at.append((done, busy))

        out = tmp_path / "dask"
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(
            sweep(TINY, VARY, "1..3", out, "dask", address, progress=progress)))
        runner.start()
        runner.join(timeout=120)
        assert not runner.is_alive()
        assert victim.wait(timeout=10) == -signal.SIGKILL
        watcher.close()
        # the worker died in the middle of the sweep, holding tasks
        assert killed_at and killed_at[0][0] < 12 and killed_at[0][1] > 0, killed_at
        assert (result["points"], result["computed"]) == (12, 12)
        glob = str(out / "points" / "*.parquet")
        counts = duckdb.execute(f"SELECT point, count(DISTINCT seed) FROM '{glob}' GROUP BY point")
        assert len(counts.fetchall()) == 12
        serial = tmp_path / "serial"
        sweep(TINY, VARY, "1..3", serial)
        _assert_same_sweep(out, serial)
    finally:
        if watcher is not None:
            watcher.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()


def test_sweep_command_line(tmp_path, capsys):
    import dask

    from exotwin.cli import main

    out = tmp_path / "cli"
    with pytest.raises(SystemExit) as done:
        main(["sweep", str(TINY), "--vary", "replicates=2:3:2", "--seeds", "5..5", "--out",
              str(out)])  # fmt: skip
    assert done.value.code == 0
    assert "points: 2 (2 computed, 0 already done)" in capsys.readouterr().out
    for args, field in ((["--engine", "mpi"], "--engine"),
                        (["--engine", "serial", "--scheduler", "tcp://x:1"], "--scheduler"),
                        (["--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{_free_port()}"],
                         "--scheduler")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_, dask.config.set(
                {"distributed.comm.timeouts.connect": "2s"}):  # fmt: skip
            main(["sweep", str(TINY), "--vary", "replicates=2:3:2", "--out", str(tmp_path / "x"),
                  *args])  # fmt: skip
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {field}:") and err.count("\n") == 1
        assert not (tmp_path / "x").exists()


def test_a_scheduler_address_that_is_no_scheduler_is_an_error_in_bounded_time():
    import dask.config
    import distributed  # noqa: F401 - its configuration, before setting a value of it

    # a port that accepts and never answers (as the dashboard's or any web server's)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    outcome = []

    def connect():
        try:
            make_engine("dask", scheduler=address).close()
            outcome.append("connected")
        except ExotwinError as exc:
            outcome.append(str(exc))

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        worker = threading.Thread(target=connect, daemon=True)  # was: hung for ever
        worker.start()
        worker.join(30)
    server.close()
    assert outcome == [f"--scheduler: no Dask scheduler answered at {address!r} within 1 s"]


def test_sweeps_into_one_directory_at_once_keep_each_others_points(tmp_path, monkeypatch):
    import exotwin.sweep as sweep_module

    out, real = tmp_path / "sw", sweep_module.make_engine
    vary = ["model.SV_k_nfkb_ERp44=0.5"]

    def start_while_another_sweep_runs(*args, **kwargs):  # as an array job's sibling
        monkeypatch.setattr(sweep_module, "make_engine", real)
        sweep(TINY, vary, "2..3", out)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "make_engine", start_while_another_sweep_runs)
    sweep(TINY, vary, "1..1", out)
    manifest = json.loads((out / "sweep.json").read_text())
    # was: the later manifest, read before the other sweep wrote its own, kept seed 1 only
    assert sorted(p["seed"] for p in manifest["points"]) == [1, 2, 3]
    seeds = duckdb.execute(f"SELECT DISTINCT seed FROM '{out / 'results.parquet'}' ORDER BY 1")
    assert seeds.fetchall() == [(1,), (2,), (3,)]


def test_sweep_out_that_is_a_file_is_refused_before_the_engine_starts(tmp_path, monkeypatch):
    import exotwin.sweep as sweep_module

    out = tmp_path / "results"
    out.write_text("a file")
    monkeypatch.setattr(sweep_module, "make_engine", lambda *a, **k: pytest.fail("started"))
    with pytest.raises(ExotwinError, match="results: is a file, not a directory"):
        sweep(TINY, ["model.SV_k_nfkb_ERp44=0.5"], "1..1", out, engine="dask")
    assert out.read_text() == "a file"


def test_an_embedded_cluster_beside_another_on_the_node_does_not_warn(recwarn):
    with socket.socket() as taken:  # port 8787 held, as by another job's cluster
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("", 8787))
            taken.listen()
        except OSError:
            pass  # held by someone else already: the same situation
        with make_engine("dask", workers=1):
            pass
    # was: UserWarning "Port 8787 is already in use ... Hosting the HTTP server on port
    # N instead" in every such run's output
    assert not [w for w in recwarn if "8787" in str(w.message)]


def test_a_scheduler_is_reached_from_inside_a_running_event_loop():
    import asyncio

    from distributed import LocalCluster

    from exotwin.engines.dask import _probe

    with LocalCluster(n_workers=0, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:  # fmt: skip
        address = cluster.scheduler_address

        async def notebook_cell() -> None:  # Jupyter runs cells inside its event loop
            _probe(address)

        # was: asyncio.run inside a running loop, 'is not a Dask scheduler (RuntimeError)'
        asyncio.run(notebook_cell())
