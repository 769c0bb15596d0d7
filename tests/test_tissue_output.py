"""Zarr snapshots of cells and fields, snapshot images and the animation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from exotwin import ExotwinError
from exotwin.tissue import coupling as cp
from exotwin.tissue import output
from exotwin.tissue.scenario import load_scenario, run

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_exosomes.yaml"


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def scenario(shape=(12, 14), count=20):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["grid"]["shape"] = list(shape)
    data["cells"].update(count=count, spread_um=40.0)
    return load_scenario(data)


def test_store_reopens_equal_to_the_state(tmp_path):
    cfg = scenario()
    state = run(cfg, 12.0)
    store = tmp_path / "out" / output.STORE
    name = output.write_snapshot(store, state, cfg)
    assert name == "step_000001200" and output.snapshot_names(store) == [name]
    ds = output.open_snapshot(store, name)
    a = state.agents
    assert ds.sizes["cell"] == a.n
    assert ds["id"].dtype == np.uint64 and np.array_equal(ds["id"].values, a.ids)
    assert np.array_equal(ds["position"].values, a.positions)
    assert list(ds["axis"].values) == ["x", "y", "z"]
    assert np.array_equal(ds["radius"].values, a.radius)
    assert np.array_equal(ds["fate"].values, a.fate)
    for j, sub in enumerate(cfg.substance_list()):
        assert ds[sub.name].dims == ("y", "x")
        assert np.array_equal(ds[sub.name].values, state.fields[j, 0])
        assert ds[sub.name].attrs["units"] == sub.units
    assert np.allclose(ds["x"].values, (np.arange(14) + 0.5) * 20.0)
    assert ds["x"].attrs["units"] == "um" and ds["time"].attrs["units"] == "min"
    assert float(ds["time"]) == 12.0 and ds.attrs["seed"] == str(cfg.seed)
    names = [s.id for s in cp.compiled(cfg).spec.states]
    for sid in cfg.intracellular.record:
        got = ds[f"state_{sid}"].values
        assert np.array_equal(got, state.cell_data["kinetic_state"][:, names.index(sid)])
    assert np.array_equal(ds["secretion"].values, state.cell_data["secretion"])
    assert np.array_equal(ds["uptake"].values, state.cell_data["uptaken"])


def test_snapshots_append_and_replace(tmp_path):
    cfg = scenario()
    store = tmp_path / output.STORE
    early, late = run(cfg, 0.5), run(cfg, 1.0)
    output.write_snapshot(store, late, cfg)
    output.write_snapshot(store, early, cfg)
    (store / ".step_000000077.tmp").mkdir()  # a half-written group of a killed run
    assert output.snapshot_names(store) == ["step_000000050", "step_000000100"]
    output.write_snapshot(store, early, cfg)  # the same step again replaces it
    assert output.snapshot_names(store) == ["step_000000050", "step_000000100"]
    ds = output.open_snapshot(store, "step_000000050")
    assert np.array_equal(ds["exo_ERp44"].values, early.fields[1, 0])
    with pytest.raises(ExotwinError, match="not a snapshot store"):
        output.snapshot_names(tmp_path)


def test_3d_snapshot_image_and_animation(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["grid"]["shape"] = [6, 8, 10]
    data["cells"].update(count=12, spread_um=30.0)
    cfg = load_scenario(data)
    store = tmp_path / output.STORE
    for t in (0.0, 0.1, 0.2):
        state = run(cfg, t)
        output.write_snapshot(store, state, cfg)
    ds = output.open_snapshot(store, "step_000000020")
    assert ds["oxygen"].dims == ("z", "y", "x")
    assert np.array_equal(ds["oxygen"].values, state.fields[0])
    png = output.snapshot_image(ds, tmp_path / "img" / "a.png", "exo_ERp44")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gif = output.animation(store, tmp_path / "a.gif")
    assert gif.read_bytes()[:6] == b"GIF89a"
    assert not list(tmp_path.glob(".a.*"))  # no temporary file left
    with pytest.raises(ExotwinError, match="no substance"):
        output.snapshot_image(ds, tmp_path / "b.png", "glucose")
