"""``exotwin run`` of a tissue scenario and ``exotwin resume``: exact resumes, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from exotwin.cli import main
from exotwin.errors import ExotwinError
from exotwin.tissue.output import STORE, open_snapshot, snapshot_names
from exotwin.tissue.runner import parse_minutes, run_to_dir

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_small.yaml"


def cli(argv, capsys):
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def arrays(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def assert_same_checkpoint(a, b):
    x, y = arrays(a), arrays(b)
    assert x.keys() == y.keys()
    for k in x:
        assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k


def test_resume_from_cli_equals_uninterrupted(tmp_path, capsys):
    a, a2, b = tmp_path / "A", tmp_path / "A2", tmp_path / "B"
    code, out, _ = cli(["run", EXAMPLE, "--until", "30 min", "--checkpoint-every", "10 min",
                        "--out", a], capsys)
    assert code == 0 and "step_000003000.npz" in out
    assert sorted(p.name for p in (a / "checkpoints").iterdir()) == [
        f"step_00000{k}000.npz" for k in (1, 2, 3)]
    assert snapshot_names(a / STORE) == [f"step_00000{k}000" for k in range(4)]  # t = 0 too
    assert len(list((a / "images").glob("step_*.png"))) == 4
    assert (a / "tumour.gif").read_bytes()[:6] == b"GIF89a"
    cli(["run", EXAMPLE, "--until", "10 min", "--checkpoint-every", "10 min", "--out", a2],
        capsys)
    code, _, _ = cli(["resume", a2 / "checkpoints" / "step_000001000.npz",
                      "--until", "0.5 h", "--out", b], capsys)
    assert code == 0
    final = a / "checkpoints" / "step_000003000.npz"
    assert_same_checkpoint(final, b / "checkpoints" / "step_000003000.npz")
    assert arrays(final)["agents_ids"].size > 25  # cells divided
    snap = open_snapshot(b / STORE, "step_000003000")
    assert snap.attrs["time_min"] == 30.0 == float(snap["time"])
    assert np.array_equal(snap["position"].values, arrays(final)["agents_positions"])
    assert np.array_equal(snap["oxygen"].values, arrays(final)["fields"][0, 0])


def test_killed_run_resumed_equals_uninterrupted(tmp_path):
    whole = tmp_path / "whole"
    ref = run_to_dir(EXAMPLE, whole, 300.0, images=False)
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "exotwin", "run", str(EXAMPLE),
                             "--until", "300 min", "--checkpoint-every", "10 min",
                             "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 45
    while len(list((killed / "checkpoints").glob("step_*.npz"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    last = max((killed / "checkpoints").glob("step_*.npz"))
    assert last.name < "step_000030000.npz"  # killed mid-run
    for name in snapshot_names(killed / STORE):  # every finished snapshot is complete
        assert open_snapshot(killed / STORE, name)["oxygen"].shape == (20, 20)
    resumed = tmp_path / "resumed"
    run_to_dir(None, resumed, 300.0, 10.0, resume_from=last, images=False)
    name = f"step_{ref.steps['diffusion']:09d}.npz"
    assert_same_checkpoint(whole / "checkpoints" / name, resumed / "checkpoints" / name)


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    good = run_to_dir(EXAMPLE, tmp_path / "A", 0.05)
    data = (tmp_path / "A" / "checkpoints" / "step_000000005.npz").read_bytes()
    assert good.steps["diffusion"] == 5
    for content in (b"junk", data[: len(data) // 2]):
        bad.write_bytes(content)
        code, out, err = cli(["resume", bad, "--until", "1 min", "--out", tmp_path / "B"],
                             capsys)
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
        assert "corrupt checkpoint" in err and not (tmp_path / "B").exists()
    for argv, match in (
        (["--until", "2 fortnights"], "not a duration"),
        ([], "needs --until"),
        (["--until", "1 min", "--seed", "3"], "seed"),
    ):
        code, _, err = cli(["run", EXAMPLE, "--out", tmp_path / "C", *argv], capsys)
        assert code == 2 and match in err and err.count("\n") == 1, err


@pytest.mark.parametrize(("text", "minutes"),
                         [("60 min", 60.0), ("1.5 h", 90.0), ("30 s", 0.5), ("7", 7.0)])
def test_parse_minutes(text, minutes):
    assert parse_minutes(text) == minutes


def test_resume_with_a_changed_scenario_names_the_change_and_writes_nothing(tmp_path):
    run_to_dir(EXAMPLE, tmp_path / "A", 0.02, images=False)
    ckpt = tmp_path / "A" / "checkpoints" / "step_000000002.npz"
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("seed: 7", "seed: 8"))
    with pytest.raises(ExotwinError) as info:
        run_to_dir(changed, tmp_path / "B", 0.03, resume_from=ckpt, images=False)
    # was: the whole SimulationState repr as the "file", and B/scenario.json written first
    assert str(info.value) == (f"{ckpt}: checkpoint was written by another scenario "
                               "configuration (differs in: seed)")  # fmt: skip
    assert not (tmp_path / "B").exists()


def test_resume_of_a_several_substance_scenario_from_its_checkpoint(tmp_path, capsys):
    # the checkpoint's configuration carried the default `substance` beside `substances`,
    # and reloading it refused both: every multi-substance run could not be resumed
    text = EXAMPLE.read_text()
    head, tail = text.split("substance:\n", 1)
    oxygen, rest = tail.split("cells:", 1)
    two = "".join(f"  - {line.strip()}\n" if line.strip().startswith("name:")
                  else f"  {line}\n" for line in oxygen.strip("\n").splitlines())
    scenario = tmp_path / "two.yaml"
    scenario.write_text(f"{head}substances:\n{two}{two.replace('oxygen', 'glucose')}cells:{rest}")
    code, _, err = cli(["run", scenario, "--until", "0.03 min", "--checkpoint-every",
                        "0.01 min", "--out", tmp_path / "A"], capsys)  # fmt: skip
    assert code == 0, err
    code, _, err = cli(["resume", tmp_path / "A" / "checkpoints" / "step_000000001.npz",
                        "--until", "0.03 min", "--out", tmp_path / "B"], capsys)  # fmt: skip
    assert code == 0, err
    name = "step_000000003.npz"
    assert_same_checkpoint(tmp_path / "A" / "checkpoints" / name,
                           tmp_path / "B" / "checkpoints" / name)  # fmt: skip
    assert arrays(tmp_path / "B" / "checkpoints" / name)["fields"].shape[0] == 2


def test_a_checkpoint_whose_configuration_this_version_refuses_is_named(tmp_path, capsys):
    run_to_dir(EXAMPLE, tmp_path / "A", 0.01, images=False)
    data = arrays(tmp_path / "A" / "checkpoints" / "step_000000001.npz")
    data["config"] = np.array(str(data["config"]).replace('"phenotype"', '"phenotype_v9"'))
    np.savez(tmp_path / "other.npz", **data)  # as written by another exotwin version
    code, _, err = cli(["resume", tmp_path / "other.npz", "--until", "1 min", "--out",
                        tmp_path / "B"], capsys)  # fmt: skip
    # was: "error: phenotype_v9: unknown field; ..." without the checkpoint's name
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {tmp_path / 'other.npz'}: phenotype_v9: unknown field")
    assert not (tmp_path / "B").exists()


def test_an_interrupted_run_names_its_last_checkpoint_and_how_to_continue(tmp_path, capsys,
                                                                          monkeypatch):
    import exotwin.tissue.runner as runner

    real = runner.run_to_dir

    def interrupted_after_two_checkpoints(config, out, until, every, *args, **kwargs):
        real(config, out, 2 * every, every, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C, or SIGTERM (which the CLI turns into it)

    monkeypatch.setattr(runner, "run_to_dir", interrupted_after_two_checkpoints)
    out = tmp_path / "A"
    code, stdout, err = cli(["run", EXAMPLE, "--until", "1 min", "--checkpoint-every",
                             "0.01 min", "--out", out], capsys)  # fmt: skip
    last = out / "checkpoints" / "step_000000002.npz"
    # was: exit 130 without a word
    assert code == 130 and stdout == ""
    # with the run's checkpoint interval (was left out: the resumed batch job checkpointed
    # at its end only, and a second time limit lost all its work)
    assert err == (f"interrupted: the last checkpoint is {last}; 'exotwin resume {last} "
                   f"--until \"1 min\" --checkpoint-every \"0.01 min\" --out {out}' continues "
                   "from it\n")  # fmt: skip
