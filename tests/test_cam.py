"""CAM xenograft twin: field conservation, the uptake-only coupling, determinism, morphometry.

The eggs here use the stand-in models of ``cam_models`` (the Deng interface with simple
values) on a small field, so the tests run in seconds and do not depend on the real models.
"""

import re
from dataclasses import replace

import numba
import numpy as np
import pytest

from cam_models import donor_sbml, endothelial_sbml
from exotwin.cells import new_population
from exotwin.report import CAM_BARS
from exotwin.tissue import cam as C
from exotwin.tissue import vessels as V
from exotwin.tissue.diffusion import Grid, total
from helpers import assert_load_error, write_protocol

SMALL = replace(C.CamParameters(), field_mm=2.0, graft_radius_mm=0.5)
# the stand-ins have the Deng interface, so the Deng models' declared coupling
DENG = C.cam_coupling("npc_ebv_cell", "endothelial_cell", check_ids=False)


@pytest.fixture(scope="module")
def models():
    return donor_sbml(), endothelial_sbml()


def egg(models, cam=SMALL, hours=24.0, seed=5, key=3, stim=1.0, threads=None):
    d, e = models
    graft = new_population(d, 8, seed, cells_per_agent=1000, variation_cv=0.2,
                           parameters={"STIM1_expression": stim})
    endo = new_population(e, cam.n_patches, seed)
    x = C.new_egg(graft, endo, cam, seed, key, DENG)
    return C.advance(x, cam, hours, seed, key, threads=threads)


def test_field_conservation_and_uptake_accounts(models):
    x = egg(models)
    led = x.ledger
    grid = Grid((SMALL.n, SMALL.n), SMALL.dx_um)
    now = total(x.fields, grid)
    assert led.secreted[0] > 0 and led.uptaken[0] > 0 and led.decayed[0] > 0
    assert led.boundary_inflow[0] < 0  # vesicles leave through the field's edge
    # secreted = in field + taken up + decayed + lost at the boundary
    np.testing.assert_allclose(now, led.net, rtol=1e-9)
    # the per-voxel uptake that feeds the endothelium is the solver's own uptake
    per_voxel = x.taken_up.sum(axis=(1, 2))
    np.testing.assert_allclose(per_voxel, led.uptaken * SMALL.membrane_um, rtol=1e-9)
    # only voxels holding endothelial cells take vesicles up
    assert np.all(x.taken_up[:, x.ec == 0] == 0)


def test_diffusion_step_refinement(models):
    took = [egg(models, replace(SMALL, diffusion_step_min=dt)).taken_up[1].sum()
            for dt in (7.5, 1.875)]
    assert abs(took[0] / took[1] - 1.0) < 0.06


def test_no_secretion_and_blocked_uptake_leave_the_baseline(models):
    none = egg(models, replace(SMALL, secretion_scale=0.0))
    blocked = egg(models, replace(SMALL, uptake_inhibition=1.0))
    normal = egg(models)
    assert not none.fields.any() and not none.taken_up.any()
    assert not blocked.taken_up.any() and blocked.fields.any()
    for x in (none, blocked):
        assert not x.endothelium.params[DENG.uptake].any()
        np.testing.assert_array_equal(x.endothelium.states, none.endothelium.states)
    # vessels grow identically at baseline whether vesicles are absent or not taken up
    np.testing.assert_array_equal(none.network.used(), blocked.network.used())
    # with uptake, the endothelium under the graft is activated and the vessels differ
    assert normal.endothelium.params[DENG.uptake].max() > 0
    s = none.endothelium.state_names().index("S")
    assert normal.endothelium.states[:, s].max() > 0 == none.endothelium.states[:, s].max()
    assert normal.network.n_segments != none.network.n_segments or not np.array_equal(
        normal.network.used(), none.network.used())


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_deterministic_for_a_seed_and_thread_count(models):
    a = egg(models, threads=1)
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        b = egg(models, threads=2)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(a.network.used(), b.network.used())
    np.testing.assert_array_equal(a.fields, b.fields)
    img = [C.photograph(x, SMALL, 5, 3) for x in (a, b)]
    np.testing.assert_array_equal(img[0], img[1])
    other = egg(models, seed=6)
    assert not np.array_equal(other.network.used(), a.network.used())


def test_skeleton_junctions_and_branches_of_a_cross():
    mask = np.zeros((61, 61), dtype=bool)
    mask[28:33, 5:56] = True
    mask[5:56, 28:33] = True
    skel = V.skeleton(mask)
    _, centres = V.junctions(skel)
    assert centres.shape == (1, 2)
    np.testing.assert_allclose(centres[0], [30, 30], atol=2)
    assert V.branches(skel, np.ones_like(mask)) == 4
    left = np.zeros_like(mask)
    left[:, :20] = True
    assert V.branches(skel, left) == 1


def test_ring_crossings_and_area_of_drawn_vessels():
    px = 10.0
    segs = np.array([[100.0, y, 1900.0, y, 40.0, 0] for y in (700.0, 1000.0, 1300.0)])
    imaging = V.Imaging(pixel_um=px, noise_sd=0.0, blur_px=0.0)
    img = V.render(segs, (2000.0, 2000.0), imaging, 1, 1)
    mask = V.vessel_mask(img)
    # three 1800 x 40 um vessels: 3 x 180 x 4 px, give or take the rounded caps
    assert abs(mask.sum() / (3 * 180 * 4) - 1.0) < 0.05
    assert V.ring_crossings(mask, (100.0, 100.0), 50.0) == 6  # each bar crossed twice
    assert V.ring_crossings(mask, (100.0, 100.0), 20.0) == 2  # only the middle bar
    assert V.ring_crossings(np.ones((20, 20), bool), (10.0, 10.0), 5.0) == 1
    annulus = V.disc(mask.shape, (100.0, 100.0), 0.0, 60.0)
    assert annulus.sum() == pytest.approx(np.pi * 60**2, rel=0.01)


def test_noisy_photograph_is_measured_like_the_clean_one():
    segs = np.array([[100.0, 1000.0, 1900.0, 1000.0, 30.0, 0],
                     [1000.0, 100.0, 1000.0, 1900.0, 30.0, 0]])  # fmt: skip
    clean = V.vessel_mask(V.render(segs, (2000.0, 2000.0), V.Imaging(noise_sd=0.0), 1, 1))
    noisy = V.vessel_mask(V.render(segs, (2000.0, 2000.0), V.Imaging(), 1, 1))
    assert abs(noisy.sum() / clean.sum() - 1.0) < 0.1
    for m in (clean, noisy):
        assert V.junctions(V.skeleton(m))[1].shape[0] >= 1
        assert V.ring_crossings(m, (100.0, 100.0), 50.0) == 4


PROTOCOL = """
kind: cam
id: cam-test
title: stand-in CAM
model: {donor}
endothelial_model: {endo}
cell_line: null
endothelial_line: null
graft_cells: 1.0e+4
graft_agents: 4
eggs: 2
duration: 1 d
cam: {{field_mm: 2.0, graft_radius_mm: 0.5}}
groups:
  - label: shNC
  - label: shSTIM1
    treatments: [{{type: knockdown, gene: STIM1, efficiency: 0.8}}]
comparisons:
  - claim: c
    readout: vessels crossing ring
    time: 24 h
    groups: [shSTIM1, shNC]
    expected: less
"""


def declare(monkeypatch, **entries):
    """Declare couplings.yaml entries for the duration of a test (model -> entry)."""
    import exotwin.culture as culture

    table = {**culture._couplings(), **entries}
    monkeypatch.setattr(culture, "_couplings", lambda: table)
    return table


@pytest.fixture
def protocol_file(tmp_path, models, monkeypatch):
    d, e = tmp_path / "donor.xml", tmp_path / "endo.xml"
    d.write_text(models[0])
    e.write_text(models[1])
    table = declare(monkeypatch)  # the stand-ins are coupled like the models they stand for
    declare(monkeypatch, **{str(d): table["npc_ebv_cell"], str(e): table["endothelial_cell"]})
    return lambda extra="", **kw: write_protocol(
        tmp_path, PROTOCOL.format(donor=d, endo=e, **kw) + extra)


def test_cam_coupling_is_declared_per_model(models):
    ids = C.cam_coupling("npc_ebv_cell", "endothelial_cell")
    assert ids == C.CamCoupling("LMP1", "exosome_secretion_rate", "exo_LMP1_cargo",
                                "exo_LMP1_uptake_rate", "sprouting_activity",
                                "migration_speed", "division_rate")  # fmt: skip
    # an egg's default coupling is its models' declared one: none for undeclared models
    from exotwin.errors import ExotwinError

    pops = [new_population(m, n, 1) for m, n in zip(models, (2, SMALL.n_patches), strict=True)]
    with pytest.raises(ExotwinError, match="model: model '<sbml>' declares no vesicle"):
        C.new_egg(*pops, SMALL, 1, 1)


def test_cam_protocol_needs_the_coupling_entries(protocol_file, tmp_path, monkeypatch):
    from exotwin.errors import ExotwinError
    from exotwin.protocols import load, run_protocol

    text = protocol_file().read_text()
    donor, endo = (str(tmp_path / f) for f in ("donor.xml", "endo.xml"))
    cases = [  # (protocol text, field, reason)
        (text.replace(donor, "tumour_cell"), "endothelial_model", "exactly one cargo protein"),
        (text.replace(endo, "tumour_cell"), "endothelial_model", "it takes up none"),
        (text.replace(endo, str(tmp_path / "new.xml")), "endothelial_model", "none"),
    ]
    for body, field, reason in cases:
        assert_load_error(write_protocol(tmp_path, body), field, reason)
    table = declare(monkeypatch)
    declare(monkeypatch, **{donor: {**table[donor], "secretion": None}})
    assert_load_error(write_protocol(tmp_path, text), "model", "'secretion'")
    declare(monkeypatch, **{donor: table[donor], endo: {**table[endo], "vessels": {
        "sprouting": "sprouting_activity", "migration": "migration_speed"}}})  # fmt: skip
    assert_load_error(write_protocol(tmp_path, text), "endothelial_model", "'vessels.division'")
    # an id the model lacks is found when the run compiles the models
    vessels = {**table[endo]["vessels"], "division": "stalk_division"}
    declare(monkeypatch, **{endo: {**table[endo], "vessels": vessels}})
    path = write_protocol(tmp_path, text)
    with pytest.raises(ExotwinError, match="endothelial_model: model .* has no 'stalk_division'"):
        run_protocol(load(path), seed=1, source=str(path))


def test_cam_knockdown_must_scale_an_input_of_the_graft_model(protocol_file):
    """A gene with a declared input the graft model lacks (ERp44 in an EBV graft) is refused."""
    from exotwin.errors import ExotwinError
    from exotwin.protocols import load, run_protocol

    text = protocol_file().read_text().replace("gene: STIM1", "gene: ERp44")
    path = protocol_file().with_name("erp44.yaml")
    path.write_text(text)
    with pytest.raises(ExotwinError, match="gene 'ERp44' \\(input 'ERp44_expression'\\) is "
                       "not part of model") as err:  # fmt: skip
        run_protocol(load(path), seed=1, source=str(path))
    assert err.value.field == "groups.1.treatments.0.gene"
    assert_load_error(write_protocol(path.parent, text.replace("gene: ERp44", "gene: XYZ")),
                      "groups.1.treatments.0.gene", "no model input for gene 'XYZ'")  # fmt: skip


def test_cam_protocol_runs_and_compares(protocol_file, tmp_path, monkeypatch):
    from exotwin import report as R
    from exotwin.protocols import load, run_protocol

    monkeypatch.setattr(R, "_provenance", lambda models: "")  # stand-ins: no parameter table

    p = load(protocol_file())
    r = run_protocol(p, seed=1, out=tmp_path / "out")
    assert len(r.readouts) == 2 * 2 * len(C.READOUTS)
    assert set(r.readouts["time_h"]) == {24.0}
    (c,) = r.comparisons
    assert c["verdict"] in ("pass", "fail") and c["p_value"] is not None
    # one photograph per group: the egg at the lower median of the primary readout
    primary = r.readouts[r.readouts["readout"] == p.primary_readout()]
    names = []
    for gi, g in enumerate(("shNC", "shSTIM1")):
        v = primary[primary["group"] == g].sort_values("replicate")["value"].to_numpy()
        names.append(f"cam-test_g{gi}_{g}_egg{1 + int(np.argmin(v))}.png")  # 2 eggs: the lower
    assert [f.name for f in r.files] == names
    again = run_protocol(p, seed=1)
    assert again.readouts["value"].tolist() == r.readouts["value"].tolist()
    # the saved photograph is the representative egg's, re-rendered from its vessels
    report = R.render("cam", 1, [r], r.comparisons, {})
    assert report.count('<img src="data:image/png;base64,') == 2
    for g in ("shNC", "shSTIM1"):
        assert f"{g}, egg " in report
    for readout in CAM_BARS:  # one bar chart per CAM readout, with a point per egg
        assert f"{readout} (24 h)" in report
    assert report.count("<svg") == len(CAM_BARS) + len(r.comparisons)
    # self-contained: no resource outside the page (the SVG namespace is not fetched)
    assert not re.search(r'(src|href)="(?!data:)|url\(|https?://(?!www\.w3\.org/2000/svg")',
                         report)  # fmt: skip
    assert R.render("cam", 1, [again], again.comparisons, {}).count("<img") == 0  # no files


@pytest.mark.parametrize("values, expected", [
    ([3.0, 1.0, 2.0], 2), ([4.0, 1.0, 3.0, 2.0], 3), ([1.0, 1.0], 0), ([5.0], 0),
    ([2.0, 2.0, 1.0, 2.0], 0),
])
def test_representative_egg_is_at_the_group_median(values, expected):
    from exotwin.protocols.cam import representative

    assert representative(np.array(values)) == expected


@pytest.mark.parametrize("extra, field, reason", [
    ("readouts: [tube length]\n", "readouts", "unknown readout 'tube length'"),
    ("parameters: {}\nembryonic_day: 30\n", "embryonic_day", "18"),
])
def test_cam_protocol_errors(protocol_file, extra, field, reason):
    assert_load_error(protocol_file(extra), field, reason)


def test_cam_protocol_error_fields(protocol_file, tmp_path):
    text = protocol_file().read_text()
    cases = [
        (text.replace("graft_radius_mm: 0.5", "graft_size: 0.5"), "cam", "unknown cam parameter"),
        (text.replace("time: 24 h", "time: 12 h"), "comparisons.0.time", "harvest"),
        (text.replace("gene: STIM1", "gene: ORAI1"), "groups.1.treatments.0.gene", "ORAI1"),
        (text.replace("duration: 1 d", "duration: 90 min"), "duration", "multiple"),
        (text.replace("graft_radius_mm: 0.5", "graft_radius_mm: .inf"), "cam", "finite"),
        (text.replace("graft_radius_mm: 0.5", "graft_radius_mm: -1"), "cam", "non-negative"),
        (text.replace("graft_radius_mm: 0.5", "graft_radius_mm: 0"), "cam", "must be positive"),
    ]
    for body, field, reason in cases:
        assert_load_error(write_protocol(tmp_path, body), field, reason)


def test_library_cam_protocols_validate():
    from exotwin.protocols import library, load

    cams = [path for name, path in library().items() if name.startswith("deng2023-cam")]
    assert cams
    for path in cams:
        p = load(path)
        assert p.kind == "cam" and p.comparisons
