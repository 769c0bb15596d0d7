"""Western densitometry: ratios recover the true level; multi-part claims are conjunctions."""

import numpy as np

from exotwin.assays import western
from exotwin.cells import new_population
from exotwin.culture import Well
from exotwin.protocols.run import claim_verdicts


def test_band_ratio_is_the_mean_level_in_living_cells_up_to_noise():
    pop = new_population("tumour_cell", 20, seed=1, cells_per_agent=10,
                         parameters={"ERp44_expression": np.linspace(0.5, 2.0, 20)})  # fmt: skip
    pop.counts[:10, 0] = 0  # half the cohorts dead: they must not count
    well = Well.seed(pop, "6-well")
    truth = float(np.mean(pop.value("ERp44")[10:]))
    ratios = [western.band_ratios(well, ["ERp44"], seed=2, sample_id=i)["ERp44"]
              for i in range(400)]  # fmt: skip
    assert abs(np.median(ratios) / truth - 1) < 0.03
    cv = np.std(np.log(ratios))
    assert 0.15 < cv < 0.27  # two bands (target and GAPDH) of CV 0.15 each


def test_a_claim_with_several_comparisons_passes_only_if_all_pass():
    parts = [
        {"id": "c", "verdict": "pass", "expected": "a", "observed": "a", "p_value": 0.01,
         "protocol": "p", "readout": "x"},
        {"id": "c", "verdict": "fail", "expected": "b", "observed": "b", "p_value": 0.3,
         "protocol": "p", "readout": "y"},
        {"id": "d", "verdict": "pass", "expected": "e", "observed": "e", "p_value": 0.02,
         "protocol": "p"},
    ]  # fmt: skip
    out = {v["id"]: v for v in claim_verdicts(parts)}
    assert out["c"]["verdict"] == "fail" and out["c"]["p_value"] == 0.3
    assert out["d"]["verdict"] == "pass"
    parts[1]["verdict"] = "pass"
    assert claim_verdicts(parts)[0]["verdict"] == "pass"
