"""Cisplatin i.p. pharmacokinetics: the analytic superposition against an ODE solver."""

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from exotwin.constants import MOLAR_MASS_G_PER_MOL
from exotwin.tissue.pk import CisplatinPK, mean_plasma_um, plasma_um

PK = CisplatinPK()
TIMES = np.array([0.0, 2880.0, 5760.0])  # min: every 2 days
DOSES = np.array([3.0, 3.0, 5.0])  # mg/kg


def ode_plasma(t_eval):
    """Peritoneal amount (mg/kg) -> plasma (mg/kg in V) by explicit ODEs, doses as jumps."""
    ka, ke = PK.ka_per_min, PK.ke_per_min
    state = np.zeros(2)
    out = []
    edges = [*TIMES, t_eval[-1] + 1.0]
    for i, d in enumerate(DOSES):
        state = state + np.array([PK.bioavailability * d, 0.0])
        sel = t_eval[(t_eval >= edges[i]) & (t_eval < edges[i + 1])]
        sol = solve_ivp(lambda t, y: [-ka * y[0], ka * y[0] - ke * y[1]], (edges[i], edges[i + 1]),
                        state, t_eval=sel, rtol=1e-11, atol=1e-14, method="LSODA")
        out.append(sol.y[1])
        state = solve_ivp(lambda t, y: [-ka * y[0], ka * y[0] - ke * y[1]],
                          (edges[i], edges[i + 1]), state, rtol=1e-11, atol=1e-14,
                          method="LSODA").y[:, -1]
    mg_per_ml = np.concatenate(out) / PK.volume_ml_per_kg
    return mg_per_ml * 1e6 / MOLAR_MASS_G_PER_MOL["cisplatin"]


def test_superposed_bateman_matches_the_ode():
    t = np.concatenate([np.linspace(0.0, 300.0, 61), np.linspace(2880.0, 3180.0, 31),
                        np.linspace(5760.0, 6000.0, 25)])
    np.testing.assert_allclose(plasma_um(PK, t, TIMES, DOSES), ode_plasma(t), rtol=1e-6,
                               atol=1e-9)


def test_peak_within_5_min_and_auc_is_dose_over_clearance():
    t = np.linspace(0.0, 60.0, 6001)
    c = plasma_um(PK, t, [0.0], [3.0])
    assert 4.0 < t[np.argmax(c)] < 5.5  # Johnsson 1995: serum Pt peaks within 5 min
    auc = quad(lambda x: plasma_um(PK, np.array([x]), [0.0], [3.0])[0], 0, 2000, limit=200)[0]
    expected = 3.0 / PK.clearance_ml_per_min_per_kg * 1e6 / MOLAR_MASS_G_PER_MOL["cisplatin"]
    assert auc == pytest.approx(expected, rel=1e-6)
    assert PK.auc_um_min(3.0) == pytest.approx(expected, rel=1e-12)
    assert PK.volume_ml_per_kg == pytest.approx(26.1 * 12.5 / np.log(2))


@pytest.mark.parametrize("t0, t1", [(0.0, 5.0), (3.0, 360.0), (2800.0, 3000.0), (-10.0, 1.0)])
def test_mean_over_an_interval_is_the_exact_integral(t0, t1):
    value = quad(lambda x: plasma_um(PK, np.array([x]), TIMES, DOSES)[0], t0, t1,
                 points=[p for p in TIMES if t0 < p < t1] or None, limit=200)[0] / (t1 - t0)
    assert mean_plasma_um(PK, t0, t1, TIMES, DOSES) == pytest.approx(value, rel=1e-8, abs=1e-12)


def test_tissue_layer_does_not_import_protocols():
    # tissue sits below protocols: shared constants come from exotwin.constants
    import ast
    from pathlib import Path

    import exotwin.tissue

    for path in Path(exotwin.tissue.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n.startswith("exotwin.protocols") for n in names), path.name
