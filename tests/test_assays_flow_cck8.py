"""Virtual CCK-8 and flow cytometry, and gating of the FCS files they write."""

import numpy as np
import pytest

from exotwin.analysis.flow import compensate, quadrants, read_fcs
from exotwin.assays import cck8, flow
from exotwin.cells import new_population
from exotwin.cells.population import (
    ALIVE,
    EARLY_APOPTOTIC,
    LATE_APOPTOTIC,
    PYROPTOTIC,
    REMOVED,
)
from exotwin.culture import Well
from exotwin.errors import ExotwinError


def mixed_fates(n=5000):
    """Counts (n agents x 5 fates) of one cell per agent with a mix of fates."""
    fates = np.full(n, ALIVE, dtype=np.int8)
    fates[: n // 5] = EARLY_APOPTOTIC
    fates[n // 5 : n // 5 + n // 10] = LATE_APOPTOTIC
    fates[n // 2 : n // 2 + n // 20] = PYROPTOTIC
    fates[-n // 10 :] = REMOVED
    return np.eye(5, dtype=np.int64)[fates]


def test_quadrants_of_a_written_fcs_file_equal_a_direct_count(tmp_path):
    data, fate = flow.events(mixed_fates(), 20_000, seed=3, sample_id=7)
    path = flow.write_fcs(tmp_path / "s7.fcs", data, {"exotwin_seed": "3"})
    fcs = compensate(read_fcs(path))
    assert fcs.keywords["exotwin_seed"] == "3"
    table = quadrants(fcs, "PE-A", "7-AAD-A", x_threshold=700.0, y_threshold=450.0)
    got = dict(zip(table["quadrant"], table["events"], strict=True))
    assert got["x-y-"] == int(np.sum(fate == ALIVE))
    assert got["x+y-"] == int(np.sum(fate == EARLY_APOPTOTIC))
    assert got["x+y+"] == int(np.sum(np.isin(fate, (LATE_APOPTOTIC, PYROPTOTIC))))
    assert got["x-y+"] == 0 and not np.any(fate == REMOVED)
    np.testing.assert_allclose(table["percent"].sum(), 100.0)


def test_without_compensation_pe_spills_into_7aad(tmp_path):
    data, _ = flow.events(mixed_fates(), 5000, seed=3, sample_id=1)
    fcs = read_fcs(flow.write_fcs(tmp_path / "a.fcs", data))
    raw = fcs.column("7-AAD-A")
    comp = compensate(fcs).column("7-AAD-A")
    pe_pos = fcs.column("PE-A") > 2000
    assert np.median(raw[pe_pos]) > np.median(comp[pe_pos])


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_fcs_is_a_one_line_error(tmp_path, damage):
    data, _ = flow.events(mixed_fates(), 1000, seed=1, sample_id=1)
    path = flow.write_fcs(tmp_path / "x.fcs", data)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"FCS3.1  nonsense" * 20)
    with pytest.raises(ExotwinError, match="x.fcs") as info:
        read_fcs(path)
    assert "\n" not in str(info.value)


def test_missing_channel_is_named(tmp_path):
    data, _ = flow.events(mixed_fates(), 100, seed=1, sample_id=1)
    fcs = read_fcs(flow.write_fcs(tmp_path / "c.fcs", data))
    with pytest.raises(ExotwinError, match="no channel 'FITC-A'"):
        fcs.column("FITC-A")


def test_cck8_od_is_linear_in_viable_cells_with_noise():
    pop = new_population("tumour_cell", 100, seed=2, cells_per_agent=100)
    wells = []
    for alive in (100, 50, 0):
        p = pop.take(np.arange(100))
        p.counts[alive:, EARLY_APOPTOTIC] = p.counts[alive:, ALIVE]
        p.counts[alive:, ALIVE] = 0
        wells.append(Well.seed(p, "96-well"))
    od = cck8.od450(wells, seed=5, sample_ids=np.arange(3))
    params = cck8.CCK8Parameters()
    expected = params.blank + params.od_per_cell * np.array([1e4, 5e3, 0.0])
    np.testing.assert_allclose(od, expected, rtol=4 * params.cv)
    again = cck8.od450(wells, seed=5, sample_ids=np.arange(3))
    np.testing.assert_array_equal(od, again)


def test_cck8_od_per_cell_is_a_declared_property_of_the_line(monkeypatch):
    from types import SimpleNamespace

    import exotwin.cells.lines as lines
    from exotwin.protocols.measure import MEASURES, AssayContext
    from exotwin.protocols.schema import Assay

    table = lines.cell_lines()
    for name, entry in table.items():  # every assay entry has a value, a unit and a source
        for key, item in (entry.get("assays") or {}).items():
            assert {"value", "unit", "provenance"} <= set(item), (name, key)
            assert float(item["value"]) > 0 and str(item["provenance"]).strip()
    huvec = table["HUVEC"]["assays"][cck8.LINE_ENTRY]["value"]
    assert cck8.CCK8Parameters.for_line("HUVEC").od_per_cell == huvec
    default = cck8.CCK8Parameters()
    assert cck8.CCK8Parameters.for_line("CNE2") == default  # no entry: the default
    assert cck8.CCK8Parameters.for_line(None) == default
    # the registry reads a well with its protocol's line: a doubled value doubles the signal
    pop = new_population("tumour_cell", 10, seed=2, cells_per_agent=1000)
    protocol = SimpleNamespace(id="p", cell_line="CNE2", phenotype_step="1 h", replicates=1)
    ctx = AssayContext(protocol, Assay(type="cck8", times=["24 h"]), Well.seed(pop, "96-well"),
                       "g", 0, 1, 24.0, 7, None, [], 1)  # fmt: skip
    od = [MEASURES["cck8"].function(ctx)[0]["value"]]
    entry = {"value": 2 * default.od_per_cell, "unit": "OD450/cell", "provenance": "test"}
    monkeypatch.setattr(lines, "cell_lines", lambda: {**table, "CNE2": {
        **table["CNE2"], "assays": {cck8.LINE_ENTRY: entry}}})  # fmt: skip
    od.append(MEASURES["cck8"].function(ctx)[0]["value"])
    assert 1.5 < od[1] / od[0] < 2.0  # (0.1 + 2) / (0.1 + 1): same noise, same cells


def test_cck8_signal_scales_with_the_reagent_incubation():
    from exotwin.protocols.schema import Assay

    pop = new_population("tumour_cell", 10, seed=2, cells_per_agent=100)  # 1e3 cells: linear
    well = Well.seed(pop, "96-well")
    ids = np.array([5])
    params = cck8.CCK8Parameters()
    od = {h: float(cck8.od450([well], 3, ids, params, h)[0]) for h in (0.5, 1.5, 2.0, 4.0)}
    assert od[2.0] == float(cck8.od450([well], 3, ids, params)[0])  # the reference: unchanged
    raw = params.blank + params.od_per_cell * 1000
    noise = float(cck8.rng.lognormal_factor(3, "measurement_noise", ids, params.cv)[0])
    assert od[2.0] == pytest.approx(raw * noise / (1 + (raw * noise / params.reader_max_od) ** 4)
                                    ** 0.25, rel=1e-12)  # fmt: skip
    for h in (0.5, 1.5, 4.0):  # blank fixed, formazan per cell proportional to time
        want = (params.blank + params.od_per_cell * 1000 * h / 2.0) * noise
        assert od[h] == pytest.approx(want / (1 + (want / params.reader_max_od) ** 4) ** 0.25,
                                      rel=1e-12)  # fmt: skip
    for bad in (0.25, 6.0):  # outside the kit's window, where formazan is not linear in time
        with pytest.raises(ValueError, match="incubation_h"):
            Assay(type="cck8", times=["24 h"], options={"incubation_h": bad})
