"""Nude-mouse xenograft twin: vesicle ledger, growth rule, oxygen, cisplatin exchange,
determinism, the protocol kind and its errors.

Tumours here are small (a 9-mm domain, 2e6 cells, one or two days) so the file runs in
seconds; the real tumour_cell model is used.
"""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np
import pytest

from exotwin.cells import new_population
from exotwin.cells.population import ALIVE, REMOVED
from exotwin.culture import coupling
from exotwin.tissue import xenograft as X
from exotwin.tissue.pk import mean_plasma_um
from helpers import assert_load_error, write_protocol

SMALL = replace(X.XenograftParameters(), box_voxels=9)
UPTAKE = coupling("tumour_cell").uptake
DRUG = coupling("tumour_cell").drugs["cisplatin"]


def tumour(xp=SMALL, cells=2e6, key=3, seed=5):
    vox = X.seed_voxels(xp, cells)
    pop = new_population("tumour_cell", vox.size, seed, cells_per_agent=round(cells / vox.size),
                         variation_cv=0.2, ids=X.agent_ids(key, vox))
    return X.new_tumour(pop, xp, vox, key, seed)


def grow(hours=24.0, sched=None, threads=None, **kw):
    t = tumour(**kw)
    return X.advance(t, SMALL, hours, sched or X.Schedule(), 5, UPTAKE, threads=threads,
                     drug_input=DRUG)


def test_vesicle_ledger_balances_to_1e9():
    sched = X.Schedule(exo_times_h=(0.0, 12.0), exo_particles=2e11,
                       cargo_per_vesicle={"ERp44": 4.0, "GRP78": 10.0})
    t = grow(24.0, sched)
    led = t.ledger
    assert led["injected"] == pytest.approx(4e11)
    assert led["taken_up"] > 0 and led["drained"] > 0 and led["decayed"] > 0
    assert abs(X.vesicle_balance(t, SMALL)) < 1e-9
    # the sinks act per voxel; the diffusion step itself removes nothing
    assert t.solver.uptaken[0] == 0.0 and t.solver.decayed[0] == 0.0
    # the cargo reached the recipients' uptake input
    assert t.pop.params["exo_ERp44_uptake_rate"].max() > 0


def test_injected_cargo_reaches_each_living_cell_per_hour():
    """Per-cell input x living cells x step = vesicles taken up x cargo, capped at q K.

    Pins the units of the in-vivo chain: uptake per voxel (um^3, min) becomes molecules
    per living cell per hour, and no cell takes up more than the saturated q K = 1e4
    vesicles/h of the culture (``VesicleParameters``).
    """
    cargo = 4.0
    sched = X.Schedule(exo_times_h=(0.0,), exo_particles=2e11,
                       cargo_per_vesicle={"ERp44": cargo})
    t = tumour()
    alive = t.pop.counts[:, ALIVE].astype(float)
    n0 = t.pop.n
    X.advance(t, SMALL, SMALL.phenotype_step_h, sched, 5, UPTAKE, drug_input=DRUG)
    rate = t.pop.params["exo_ERp44_uptake_rate"][:n0]  # molecules per cell per h
    delivered = float(np.sum(rate * alive)) * SMALL.phenotype_step_h
    assert t.ledger["taken_up"] > 0.1 * 2e11
    assert delivered == pytest.approx(t.ledger["taken_up"] * cargo, rel=1e-9)
    vp = SMALL.vesicles
    cap = vp.clearance_ml_per_h * vp.uptake_half_saturation_per_ml * cargo
    assert 0.1 * cap < rate.max() <= cap * (1 + 1e-9)


def test_uptaken_per_voxel_is_the_solver_reaction():
    # runs of equal rates reuse the exp factors: per voxel still u * integral(rho dt)
    from exotwin.tissue import _kernels
    from exotwin.tissue.cam import _uptaken

    g = np.random.default_rng(2)
    rho, q = g.random((2, 1, 6, 30)), g.random((2, 1, 6, 30))
    u = np.where(g.random((6, 30)) < 0.6, 0.05, g.random((6, 30))) * (g.random((6, 30)) > 0.2)
    decay = np.array([0.0, 0.01])
    out = np.zeros((2, 6, 30))
    _uptaken(rho, q, u, decay, 4.0, out)
    for s in range(2):
        want = [c * _kernels._react(r, 0.0, b, c, decay[s], 4.0)[1] if c > 0 else 0.0
                for r, b, c in zip(rho[s, 0].ravel(), q[s, 0].ravel(), u.ravel(), strict=True)]
        np.testing.assert_allclose(out[s].ravel(), want, rtol=1e-12, atol=1e-300)


def test_field_sub_step_refinement():
    """One 6-h step after a bolus and a dose: sub-steps 4x finer change little."""
    sched = X.Schedule(cis_times_h=(0.0,), cis_doses_mg_per_kg=(3.0,))
    results = []
    for ves, cis in ((10.0, 5.0), (2.5, 1.25)):
        xp = replace(SMALL, vesicle_substep_min=ves, cis_substep_min=cis)
        t = tumour(xp)
        X.inject(t, xp, 2e11)
        took = X.vesicle_step(t, xp).sum()
        mean = X.cisplatin(t, xp, sched, X.perfusion(t, xp)).mean()
        results.append((took, mean))
    assert results[0][0] > 0
    assert results[0][0] == pytest.approx(results[1][0], rel=0.03)
    assert results[0][1] == pytest.approx(results[1][1], rel=0.01)


def _vesicle_reference(t, xp, hours):
    """The vesicle field's ODEs on the whole box (zero-flux faces), integrated by LSODA."""
    from scipy.integrate import solve_ivp

    n, vp = xp.box_voxels, xp.vesicles
    k = xp.vesicle_diffusion_um2_per_min / xp.dx_um**2
    k_half = vp.uptake_half_saturation_per_ml / X.UM3_PER_ML
    clear = t.living() * vp.clearance_ml_per_h * X.UM3_PER_ML / 60.0 / xp.voxel_um3
    linear = xp.vesicle_drainage_per_h / 60.0 + vp.degradation_per_h / 60.0

    def rhs(_, y):
        rho = y[:-1].reshape(n, n, n)
        lap = np.zeros_like(rho)
        for axis in range(3):
            d = np.diff(rho, axis=axis)  # zero flux through the box faces
            lap += np.pad(d, [(0, 1) if a == axis else (0, 0) for a in range(3)])
            lap -= np.pad(d, [(1, 0) if a == axis else (0, 0) for a in range(3)])
        up = clear * y[:-1] / (1.0 + y[:-1] / k_half)
        return np.concatenate([k * lap.ravel() - up - linear * y[:-1], [up.sum()]])

    y0 = np.concatenate([t.vesicles.ravel(), [0.0]])
    sol = solve_ivp(rhs, (0.0, hours * 60.0), y0, method="LSODA", rtol=1e-10, atol=1e-12)
    return sol.y[-1, -1] * xp.voxel_um3, sol.y[:-1, -1].reshape(t.vesicles.shape)


def test_vesicle_splitting_matches_the_coupled_equations_and_converges():
    """One 6-h step after a bolus against the coupled ODEs solved by LSODA to 1e-10."""
    errors = []
    for h in (10.0, 2.5):
        xp = replace(SMALL, vesicle_substep_min=h)
        t = tumour(xp)
        X.inject(t, xp, 2e11)
        ref_took, ref_field = _vesicle_reference(t, xp, 6.0)
        took = X.vesicle_step(t, xp).sum()
        errors.append(abs(took - ref_took) / ref_took)
        # Strang splitting error, largest at the bolus edge (measured 0.6 %)
        assert np.abs(t.vesicles - ref_field).max() / ref_field.max() < 0.01
    assert errors[0] < 1e-3 and errors[1] < errors[0] / 8  # second order in the sub-step


def test_spread_conserves_cells_and_respects_capacity():
    t = tumour(cells=5e6)
    held = t.pop.counts[:, :REMOVED].sum()
    assert held == pytest.approx(5e6, rel=1e-5)  # cells per agent are rounded
    assert np.unique(t.voxel).size == t.voxel.size == t.pop.n  # one agent per voxel
    assert t.occupancy().max() <= SMALL.capacity * 1.001 + 1
    # push a voxel over capacity: cells move, none are created or lost
    t.pop.counts[0, ALIVE] += int(SMALL.capacity)
    before = t.pop.counts[:, :REMOVED].sum()
    X.spread(t, SMALL, seed=5)
    assert t.pop.counts[:, :REMOVED].sum() == before
    assert t.occupancy().max() <= SMALL.capacity * 1.001 + 1


def test_spread_targets_are_the_lowest_score_among_allowed_neighbours():
    # compiled scoring against the vectorised rule: occupancy / capacity + centre pull +
    # tie draw, face neighbours only unless the donor is "wide", first lowest wins
    g = np.random.default_rng(6)
    n, cap = 7, 300.0
    for _ in range(20):
        occ = np.where(g.random(n**3) < 0.5, cap * g.random(n**3) * 1.5, 0.0)
        occ[g.random(n**3) < 0.2] = cap  # ties broken by the draw
        donors = g.choice(n**3, 40, replace=False)
        tie, wide = g.random((40, 26)), g.random(40) < 0.5
        got = X._targets(donors, n, occ, cap, tie, wide, X.NEIGHBOURS, X.FACE)
        zyx = np.stack(np.unravel_index(donors, (n, n, n)), axis=1)
        nb = zyx[:, None, :] + X.NEIGHBOURS[None]
        valid = np.all((nb >= 0) & (nb < n), axis=2) & (wide[:, None] | X.FACE[None])
        flat = np.ravel_multi_index(tuple(np.clip(nb, 0, n - 1).transpose(2, 0, 1)), (n,) * 3)
        dist = np.sqrt(((nb - n // 2) ** 2).sum(axis=2))
        score = np.where(valid, occ[flat] / cap + X.CENTRE_PULL * dist + tie * 1e-6, np.inf)
        np.testing.assert_array_equal(got, flat[np.arange(40), np.argmin(score, axis=1)])


def test_oxygen_local_balance_without_diffusion():
    xp = replace(SMALL, o2_diffusion_um2_per_min=1e-12)
    t = tumour(xp)
    v = X.perfusion(t, xp)
    o2 = X.oxygen(t, xp, v).ravel()
    u = xp.o2_uptake_per_min * t.living() * xp.cell_volume_um3 / xp.voxel_um3
    s = xp.o2_exchange_per_min * v.ravel()
    np.testing.assert_allclose(o2, s * xp.o2_vascular_mmhg / (s + u), rtol=1e-8)
    # empty stroma sits at the vascular pO2; packed tissue at host perfusion at the reference
    assert o2[t.occupancy() == 0] == pytest.approx(xp.o2_vascular_mmhg)
    packed = xp.o2_exchange_per_min * xp.o2_vascular_mmhg / (
        xp.o2_exchange_per_min + xp.o2_uptake_per_min * xp.packing)
    assert packed == pytest.approx(xp.o2_reference_mmhg)


def test_perfusion_depth_is_the_whole_domain_distance_to_the_stroma():
    # perfusion() measures depth in the tumour's box only: same numbers as the whole grid
    from types import SimpleNamespace

    from scipy import ndimage

    xp = replace(SMALL, box_voxels=6)
    g = np.random.default_rng(1)
    for _ in range(60):  # sparse to full masks, touching the domain faces or not
        occ = (g.random(6**3) < g.random()).astype(float)
        mask = occ.reshape(6, 6, 6) > 0
        depth = np.clip(ndimage.distance_transform_edt(mask) - 1.0, 0.0, None)
        want = np.where(mask, np.exp(-depth * xp.dx_um / 1000.0 / xp.perfusion_depth_mm), 1.0)
        got = X.perfusion(SimpleNamespace(occupancy=lambda occ=occ: occ), xp)
        np.testing.assert_array_equal(got, want)


def test_tissue_cisplatin_tracks_plasma_through_the_vessels():
    t = tumour()
    t.pop.counts[:] = 0  # no tumour: uniform host perfusion, no gradients
    t.voxel = t.voxel[:0]
    t.pop = t.pop.take(np.arange(0))
    sched = X.Schedule(cis_times_h=(0.0,), cis_doses_mg_per_kg=(3.0,))
    v = X.perfusion(t, SMALL)
    mean = X.cisplatin(t, SMALL, sched, v)
    plasma = mean_plasma_um(SMALL.pk, 0.0, 360.0, np.array([0.0]), np.array([3.0]))
    # exchange 0.18/min: the tissue lags the 12.5-min plasma curve, the 6-h means agree
    np.testing.assert_allclose(mean, plasma, rtol=0.03)
    assert mean.std() < 1e-12 * mean.mean()


def test_cisplatin_reaches_the_coupled_model_input():
    t = grow(6.0, X.Schedule(cis_times_h=(0.0,), cis_doses_mg_per_kg=(3.0,)))
    plasma = mean_plasma_um(SMALL.pk, 0.0, 360.0, np.array([0.0]), np.array([3.0]))
    got = t.pop.params[DRUG]
    assert got.min() > 0.5 * plasma and got.max() == pytest.approx(plasma, rel=0.05)
    assert grow(6.0).pop.params[DRUG].max() == 0.0


def test_o2_rules_follow_physicell():
    div, nec = X.o2_multipliers(SMALL, np.array([0.0, 2.5, 5.0, 20.0, 100.0]))
    lo, hi = SMALL.o2_proliferation_threshold_mmhg, SMALL.o2_proliferation_saturation_mmhg
    np.testing.assert_allclose(div, [0, 0, 0, (20 - lo) / (hi - lo), 1])
    np.testing.assert_allclose(nec, [1 / 6, 1 / 6, 0, 0, 0])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_deterministic_for_a_seed_and_thread_count():
    sched = X.Schedule(cis_times_h=(6.0,), cis_doses_mg_per_kg=(3.0,), exo_times_h=(0.0,),
                       exo_particles=1e11, cargo_per_vesicle={"ERp44": 4.0})
    a = grow(12.0, sched, threads=1)
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        b = grow(12.0, sched, threads=2)
    finally:
        numba.set_num_threads(previous)
    for x, y in ((a.pop.counts, b.pop.counts), (a.pop.states, b.pop.states),
                 (a.vesicles, b.vesicles), (a.cis, b.cis), (a.necrotic, b.necrotic)):
        np.testing.assert_array_equal(x, y)
    c = grow(12.0, sched, threads=1, seed=6)
    assert not np.array_equal(c.pop.counts, a.pop.counts)


PROTOCOL = """
kind: xenograft
id: xeno-test
title: small xenograft
cell_line: CNE2
cells: 2.0e+6
mice: 2
duration: 2 d
treatment_start: 1 d
xenograft: {box_voxels: 9}
donors:
  - {label: NC, cells: 100000, agents: 4, duration: 6 h}
groups:
  - label: NC
    treatments: [{type: knockdown, gene: ERp44, efficiency: 0.0, since: stable}]
  - label: shERp44+cis
    treatments:
      - {type: knockdown, gene: ERp44, efficiency: 0.75, since: stable}
      - {type: cisplatin_ip, dose: 3 mg/kg, every: 1 d}
  - label: exo
    treatments: [{type: intratumoral_exosomes, source: NC, dose: 20 ug, volume: 50 uL}]
western: [caspase-3, GSDME-N]
comparisons:
  - {claim: c1, readout: tumour weight (g), time: 2 d, groups: [shERp44+cis, NC], expected: less}
  - {claim: c2, readout: GSDME-N/GAPDH, time: 2 d, groups: [shERp44+cis, NC],
     expected: greater, test: visible}
"""


SHORT = (PROTOCOL.replace("mice: 2", "mice: 1").replace("duration: 2 d", "duration: 1 d")
         .replace("treatment_start: 1 d", "treatment_start: 12 h")
         .replace("time: 2 d", "time: 1 d"))  # fmt: skip


def test_protocol_runs_compares_writes_figures_and_repeats(tmp_path):
    from exotwin.protocols import load, run_protocol

    p = load(write_protocol(tmp_path, PROTOCOL))
    r = run_protocol(p, seed=1, out=tmp_path / "out")
    assert len(r.readouts) == 3 * 2 * len(p.measured())
    assert set(r.readouts["time_h"]) == {48.0}
    assert [c["verdict"] in ("pass", "fail") for c in r.comparisons] == [True, True]
    names = {f.name for f in r.files}
    assert {"xeno-test_tumours.png", "xeno-test_blots.png", "xeno-test_growth.gif",
            "xeno-test_mice.json"} <= names
    record = json.loads((tmp_path / "out" / "xenograft" / "xeno-test_mice.json").read_text())
    assert len(record["growth_g"]) == len(record["vesicle_balance"]) == 6
    timing = json.loads((tmp_path / "out" / "xenograft" / "xeno-test_timing.json").read_text())
    assert len(timing["seconds_per_mouse"]) == 6 and timing["total_seconds"] > 0
    again = run_protocol(p, seed=1)
    assert again.readouts["value"].tolist() == r.readouts["value"].tolist()
    from exotwin.report import xenograft_media

    html = xenograft_media(r)
    assert html.count("data:image/png;base64,") >= 3 and "data:image/gif;base64," in html
    assert html.startswith("<svg") and all(g.label in html for g in p.groups)


def test_two_runs_of_one_seed_write_identical_files_but_the_timing(tmp_path):
    from exotwin.protocols import load, run_protocol
    from exotwin.report import xenograft_media

    p = load(write_protocol(tmp_path, SHORT))
    runs = [run_protocol(p, seed=1, out=tmp_path / f"run{i}") for i in (1, 2)]
    names = sorted(Path(f).name for f in runs[0].files)
    assert "xeno-test_mice.json" in names and "xeno-test_timing.json" in names
    for name in names:
        if name != "xeno-test_timing.json":  # wall-clock: differs by design
            one, two = (tmp_path / f"run{i}" / "xenograft" / name for i in (1, 2))
            assert one.read_bytes() == two.read_bytes(), name
    assert "seconds" not in (tmp_path / "run1" / "xenograft" / "xeno-test_mice.json").read_text()
    assert xenograft_media(runs[0]) == xenograft_media(runs[1])


def test_a_snapshot_is_kept_at_sacrifice_whatever_the_duration():
    t = grow(30.0)
    assert [f["time_h"] for f in t.frames] == [24.0, 30.0]
    assert grow(24.0).frames[-1]["time_h"] == 24.0 and len(grow(24.0).frames) == 1


def test_group_labels_become_safe_distinct_file_names(tmp_path):
    from exotwin.protocols import load, run_protocol

    text = (PROTOCOL.replace("mice: 2", "mice: 1").replace("label: NC\n", "label: a/../b\n")
            .replace("[shERp44+cis, NC]", "[shERp44+cis, a/../b]"))  # fmt: skip
    out = tmp_path / "out"
    r = run_protocol(load(write_protocol(tmp_path, text)), seed=1, out=out)
    for f in r.files:
        assert Path(f).resolve().parent == (out / "xenograft").resolve()
    names = {Path(f).name for f in r.files}
    assert "xeno-test_g0_a_.._b_midplane.png" in names


def test_serial_and_processes_engines_agree(tmp_path):
    from exotwin.engines import make_engine, result_frame, task
    from exotwin.protocols import load

    p = load(write_protocol(tmp_path, SHORT))
    frames = []
    for engine in ("serial", "processes"):
        with make_engine(engine) as runner:
            (res,) = list(runner.run([task("x", p, 3)]))
        frames.append(result_frame(res["readouts"]))
    assert frames[0]["value"].tolist() == frames[1]["value"].tolist()


@pytest.mark.parametrize("old, new, field, reason", [
    ("dose: 3 mg/kg", "dose: -3 mg/kg", "groups.1.treatments.1.dose", "negative"),
    ("dose: 3 mg/kg", "dose: 3 mg", "groups.1.treatments.1.dose", "mg/kg"),
    ("groups: [shERp44+cis, NC], expected: less", "groups: [shERp44, NC], expected: less",
     "comparisons.0.groups", "no group named 'shERp44'"),
    ("source: NC,", "source: shNC,", "groups.2.treatments.0.source", "no donor named"),
    ("dose: 20 ug, volume: 50 uL", "volume: 50 uL", "groups.2.treatments.0.dose", "missing"),
    ("time: 2 d, groups: [shERp44+cis, NC], expected: less", "time: 1 d, groups: "
     "[shERp44+cis, NC], expected: less", "comparisons.0.time", "sacrifice"),
    ("xenograft: {box_voxels: 9}", "xenograft: {voxel_size: 9}", "xenograft", "unknown"),
    ("xenograft: {box_voxels: 9}", "xenograft: {box_voxels: 9, phenotype_step_h: .inf}",
     "xenograft", "finite positive"),
    ("xenograft: {box_voxels: 9}", "xenograft: {box_voxels: 200}", "xenograft", "from 3 to"),
    ("xenograft: {box_voxels: 9}", "xenograft: {box_voxels: 9, packing: 3}", "xenograft",
     "at most 1"),
    ("xenograft: {box_voxels: 9}", "xenograft: {box_voxels: 9, o2_reference_mmhg: 40}",
     "xenograft", "below o2_vascular_mmhg"),
    ("cells: 2.0e+6", "cells: 1.0e+12", "cells", "do not fit"),
    ("dose: 20 ug, volume: 50 uL", "dose: 20 ug, volume: 0 uL", "groups.2.treatments.0.volume",
     "positive volume"),
    ("dose: 20 ug, volume: 50 uL}]", "dose: 20 ug, volume: 50 uL}, {type: intratumoral_exosomes"
     ", source: NC, dose: 5 ug}]", "groups.2.treatments", "one intratumoral_exosomes"),
])  # fmt: skip
def test_protocol_errors_name_file_field_reason(tmp_path, old, new, field, reason):
    assert old in PROTOCOL
    assert_load_error(write_protocol(tmp_path, PROTOCOL.replace(old, new)), field, reason)


def test_cli_bad_protocol_exits_2_and_writes_nothing(tmp_path):
    bad = write_protocol(tmp_path, PROTOCOL.replace("dose: 3 mg/kg", "dose: -3 mg/kg"))
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "exotwin", "run", str(bad), "--out", str(out)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "groups.1.treatments.1.dose" in lines[0]
    assert not out.exists()


def test_library_protocol_names_the_nine_fig6_claims():
    from exotwin.claims import claims
    from exotwin.protocols import library, load

    p = load(library()["xia2021-fig6"])
    wanted = {c["id"] for c in claims("xia2021") if c["id"].startswith("xia2021-fig6")}
    assert len(wanted) == 9
    assert set(p.claims) == wanted == {c.claim for c in p.comparisons}
    assert p.kind == "xenograft" and p.mice == 5 and len(p.groups) == 6
