"""qRT-PCR, microscopy assays and cell lines: the behaviour a lab would check."""

import textwrap

import numpy as np
import pytest
import yaml

from exotwin.assays import microscopy, qpcr
from exotwin.cells import lines, new_population
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC, REMOVED
from exotwin.culture import Well
from exotwin.errors import ExotwinError
from exotwin.protocols import load, run_protocol
from exotwin.protocols import run as run_module
from helpers import assert_load_error, write_protocol

PROTOCOL = textwrap.dedent(
    """
    id: t-qpcr
    title: test
    cell_line: CNE2
    plate: 6-well
    cells_per_well: 200000
    agents_per_well: 8
    replicates: 3
    duration: 48 h
    phenotype_step: 6 h
    groups:
      - label: NC
        treatments: [{type: knockdown, gene: ERp44, efficiency: 0.0}]
      - label: KD
        treatments: [{type: knockdown, gene: ERp44, efficiency: 0.75}]
    assays:
      - {type: qpcr, times: [48 h], options: {genes: [ERp44], technical_replicates: 3}}
    """
)


def test_ct_falls_by_about_one_cycle_per_doubling_of_template():
    p = qpcr.QpcrParameters()
    keys = np.arange(2000, dtype=np.uint64)
    one = qpcr.ct_values(np.full(2000, 1e4), 1, keys, p)
    two = qpcr.ct_values(np.full(2000, 2e4), 1, keys + 10_000, p)
    per_doubling = np.log(2) / np.log1p(p.efficiency)  # 1.04 cycles at E = 0.95
    assert abs((one.mean() - two.mean()) - per_doubling) < 0.03
    assert 0.12 < one.std() < 0.2  # technical noise (0.15) plus template sampling
    # no template or too little to cross within the run: undetermined
    rare = qpcr.ct_values(np.array([0.0, 1e-9]), 1, np.arange(2, dtype=np.uint64), p)
    assert np.isnan(rare).all()


def test_knockdown_raises_dct_by_log_of_remaining_fraction(tmp_path):
    result = run_protocol(load(write_protocol(tmp_path, PROTOCOL)), seed=4)
    r = result.readouts
    dct = r[r["readout"] == "dCt:ERp44"].groupby("group")["value"].mean()
    expected = np.log(1 / (1 - 0.75)) / np.log1p(qpcr.QpcrParameters().efficiency)  # 2.08
    assert abs((dct["KD"] - dct["NC"]) - expected) < 0.2
    ct = r[r["readout"] == "Ct:GAPDH"]["value"]
    assert ct.between(13, 22).all()  # a high-abundance reference gene
    rel = r[r["readout"] == "ERp44 mRNA (2^-dCt)"].set_index("sample")["value"]
    d = r[r["readout"] == "dCt:ERp44"].set_index("sample")["value"]
    assert np.allclose(rel, 2.0 ** -d)


def test_qpcr_reads_living_cells_only_and_is_reproducible():
    pop = new_population("tumour_cell", 10, seed=1, cells_per_agent=1000)
    names = pop.state_names()
    pop.states[:5, names.index("ERp44_mRNA")] = 8.0  # these cohorts die
    pop.counts[:5, ALIVE] = 0
    pop.counts[:5, LATE_APOPTOTIC] = 1000
    well = Well.seed(pop, "6-well")
    opts = qpcr.QpcrOptions(genes=["ERp44"], technical_replicates=3)
    assert qpcr.mean_levels(pop, ["ERp44", "GAPDH"])["ERp44"] == pytest.approx(
        float(pop.states[5:, names.index("ERp44_mRNA")].mean()))
    a = qpcr.measure(well, opts, seed=7, sample_id=3)
    b = qpcr.measure(well, opts, seed=7, sample_id=3)
    c = qpcr.measure(well, opts, seed=8, sample_id=3)
    assert all(np.array_equal(a[g], b[g]) for g in a)
    assert not np.array_equal(a["ERp44"], c["ERp44"])


def _counts(n=40):
    c = np.zeros((n, 5), dtype=np.int64)
    c[:, ALIVE] = 700
    c[:, EARLY_APOPTOTIC] = 60
    c[:, LATE_APOPTOTIC] = 40
    c[:, PYROPTOTIC] = 25
    c[:, REMOVED] = 500  # detached: never in a field
    return c


def test_pyknotic_fraction_equals_apoptotic_fraction_in_expectation():
    counts = _counts()
    expected = 100 / 825  # (early + late) / all visible cells
    p = microscopy.MicroscopyParameters()
    fields = microscopy.field_counts(microscopy.pyknotic_classes(counts), 1.9, 100, 3, 1, p)
    n = fields.sum(axis=0)
    frac = n[0] / n.sum()
    se = np.sqrt(expected * (1 - expected) / n.sum())
    assert abs(frac - expected) < 4 * se
    # field size: visible cells x field area / well area
    assert abs(fields.sum(axis=1).mean() - counts[:, :4].sum() * p.field_area_mm2 / 190) < 5
    bright = microscopy.field_counts(microscopy.pyroptotic_classes(counts), 1.9, 100, 3, 1, p)
    assert abs(bright[:, 0].sum() / bright.sum() - 25 / 825) < 0.01
    again = microscopy.field_counts(microscopy.pyknotic_classes(counts), 1.9, 100, 3, 1, p)
    assert np.array_equal(fields, again)


def test_reporter_positive_cells_follow_the_transfected_fraction():
    p = microscopy.MicroscopyParameters()
    pop = new_population("tumour_cell", 400, seed=1, cells_per_agent=100)
    carrier = microscopy.carriers(pop.ids, 0.6, seed=5)
    assert abs(carrier.mean() - 0.6) < 0.06
    pos, neg = microscopy.reporter_classes(pop.counts, carrier, p)
    assert abs(pos / (pos + neg) - 0.6 * p.p_positive(True)) < 0.06
    none = microscopy.reporter_classes(pop.counts, np.zeros(400, bool), p)
    assert none[0] / none.sum() < 1e-3  # untransfected: autofluorescence only


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (("genes: [ERp44]", "genes: [XBP1]"), "assays.0",
         "options.genes: Value error, unknown gene"),
        (("technical_replicates: 3", "technical_replicates: 0"), "assays.0",
         "options.technical_replicates"),
        (("technical_replicates: 3", "wells: 3"), "assays.0", "options.wells: Extra inputs"),
        (("type: qpcr, times: [48 h], options: {genes: [ERp44], technical_replicates: 3}",
          "type: nuclear_stain, times: [48 h], options: {fields: -1}"), "assays.0",
         "options.fields"),
        (("cell_line: CNE2", "cell_line: HeLa"), "cell_line", "unknown cell line 'HeLa'"),
        (("efficiency: 0.75}", "efficiency: 0.75, transfected_fraction: 0.5}"),
         "groups.1.treatments.0", "cannot exceed the transfected_fraction"),
    ],
)  # fmt: skip
def test_bad_options_and_cell_lines_give_one_line_errors(tmp_path, change, field, reason):
    assert_load_error(write_protocol(tmp_path, PROTOCOL.replace(*change)), field, reason)


def test_cell_line_table_declares_unit_and_provenance_of_model_parameters():
    from exotwin.kinetics import compile_model

    known = set(compile_model("tumour_cell").spec.constants)
    for name, entry in lines.cell_lines().items():
        for pid, spec in (entry["parameters"] or {}).items():
            assert pid in known, (name, pid)
            assert spec["unit"] and spec["provenance"], (name, pid)
    assert lines.cell_line_parameters("CNE2") == {}
    k_div = lines.cell_line_parameters("5-8F")["SV_k_div_basal"]
    assert k_div == pytest.approx(np.log(2) / 24, 1e-2)
    with pytest.raises(ExotwinError, match="x.yaml: cell_line: unknown cell line"):
        lines.cell_line_parameters("HeLa", file="x.yaml")


def test_run_applies_cell_line_and_multiplies_knockdown(tmp_path, monkeypatch):
    table = yaml.safe_load(yaml.safe_dump(lines.cell_lines()))
    table["TEST"] = {"model": "tumour_cell", "parameters": {
        "ERp44_expression": {"value": 2.0, "unit": "dimensionless", "provenance": "test"},
        "SV_k_div_basal": {"value": 0.05, "unit": "per_hour", "provenance": "test"}}}
    monkeypatch.setattr(lines, "cell_lines", lambda: table)
    seen = []
    real = run_module.new_population

    def spy(*args, **kw):
        seen.append(dict(kw["parameters"]))
        return real(*args, **kw)

    monkeypatch.setattr(run_module, "new_population", spy)
    text = (PROTOCOL.replace("cell_line: CNE2", "cell_line: TEST")
            .replace("duration: 48 h", "duration: 6 h").replace("[48 h]", "[6 h]")
            .replace("replicates: 3\n", "replicates: 1\n"))  # fmt: skip
    run_protocol(load(write_protocol(tmp_path, text)), seed=1)
    nc, kd = seen
    assert nc == {"ERp44_expression": 2.0, "SV_k_div_basal": 0.05}
    assert kd == {"ERp44_expression": pytest.approx(0.5), "SV_k_div_basal": 0.05}
