"""Cisplatin plasma pharmacokinetics after intraperitoneal doses (owns the PK model).

Free (ultrafilterable) cisplatin in mouse plasma after i.p. bolus doses: first-order
absorption from the peritoneum (rate ``ka``) into one central compartment (volume
``V``) with first-order elimination (rate ``ke = CL / V``). A dose ``D`` (mg/kg) at
``t_d`` gives, for ``t >= t_d`` (Bateman function)::

    C(t) = F D ka / (V (ka - ke)) * (exp(-ke (t - t_d)) - exp(-ka (t - t_d)))

and doses superpose (the model is linear). Concentrations are converted to uM with
the molar mass of cisplatin (:mod:`exotwin.constants`). The protein-bound platinum that
dominates total plasma Pt after the first hour (Johnsson 1995) is not cytotoxic and is not
modelled.

Sources (free cisplatin in mice, i.v.; Siddik et al., Biochem Pharmacol 1987;36:1925,
doi:10.1016/0006-2952(87)90490-4): biphasic with t1/2 alpha 2-3 min and t1/2 beta
10-15 min, plasma clearance of free drug 26.1 mL/min/kg. i.p. in mice: serum Pt peaks
within 5 min (Johnsson et al., Cancer Chemother Pharmacol 1995;37:23). See
:class:`CisplatinPK` for each value and docs/xenograft.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exotwin.constants import MOLAR_MASS_G_PER_MOL


@dataclass(frozen=True)
class CisplatinPK:
    """One-compartment model of free plasma cisplatin with first-order i.p. absorption.

    Attributes
    ----------
    half_life_min
        Elimination half-life of free cisplatin (min). 12.5 min, the middle of the
        10-15 min beta half-life in mice (Siddik 1987); the 2-3 min alpha phase is
        shorter than the i.p. absorption and is folded into it.
    clearance_ml_per_min_per_kg
        Plasma clearance of free cisplatin (mL/min/kg). 26.1 in mice (Siddik 1987).
    ka_per_min
        i.p. absorption rate constant (1/min). derived: 0.5/min puts the plasma peak
        at 4.9 min with the elimination above, matching the serum Pt peak "within
        5 min" of i.p. cisplatin in mice (Johnsson 1995).
    bioavailability
        Fraction of an i.p. dose reaching the plasma as free drug. assumed: 1 (small
        molecules given i.p. are absorbed nearly completely, mainly via the portal
        and peritoneal capillaries).
    """

    half_life_min: float = 12.5
    clearance_ml_per_min_per_kg: float = 26.1
    ka_per_min: float = 0.5
    bioavailability: float = 1.0

    @property
    def ke_per_min(self) -> float:
        """Elimination rate constant (1/min)."""
        return math.log(2.0) / self.half_life_min

    @property
    def volume_ml_per_kg(self) -> float:
        """Volume of distribution of free drug, CL / ke (mL/kg); 471 mL/kg by default."""
        return self.clearance_ml_per_min_per_kg / self.ke_per_min

    def unit_um(self, dose_mg_per_kg: float) -> float:
        """``F D ka / (V (ka - ke))`` in uM: the Bateman amplitude of one dose."""
        mg_per_ml = self.bioavailability * dose_mg_per_kg / self.volume_ml_per_kg
        um = mg_per_ml * 1e3 / MOLAR_MASS_G_PER_MOL["cisplatin"] * 1e3  # mg/mL -> uM
        ka, ke = self.ka_per_min, self.ke_per_min
        return um * ka / (ka - ke)

    def auc_um_min(self, dose_mg_per_kg: float) -> float:
        """Area under the free-plasma curve of one dose, F D / CL (uM min)."""
        return self.unit_um(dose_mg_per_kg) * (1.0 / self.ke_per_min - 1.0 / self.ka_per_min)


def plasma_um(pk: CisplatinPK, t_min: np.ndarray, dose_times_min: np.ndarray,
              doses_mg_per_kg: np.ndarray) -> np.ndarray:  # fmt: skip
    """Free plasma cisplatin (uM) at times ``t_min`` for the given doses (superposed).

    Parameters
    ----------
    pk
        The PK parameters.
    t_min
        Times (min), shape ``(n,)``.
    dose_times_min, doses_mg_per_kg
        Dose times (min) and amounts (mg/kg), shape ``(m,)`` each.

    Returns
    -------
    numpy.ndarray
        Concentrations (uM), shape ``(n,)``.
    """
    t = np.asarray(t_min, dtype=float)[:, None] - np.asarray(dose_times_min, dtype=float)[None]
    after = t >= 0.0
    tt = np.where(after, t, 0.0)
    amp = np.array([pk.unit_um(d) for d in np.atleast_1d(doses_mg_per_kg)], dtype=float)
    c = amp * (np.exp(-pk.ke_per_min * tt) - np.exp(-pk.ka_per_min * tt))
    return np.where(after, c, 0.0).sum(axis=1)


def mean_plasma_um(pk: CisplatinPK, t0_min: float, t1_min: float, dose_times_min: np.ndarray,
                   doses_mg_per_kg: np.ndarray) -> float:  # fmt: skip
    """Exact mean free plasma cisplatin (uM) over ``[t0, t1]`` (analytic integral / length)."""
    ka, ke = pk.ka_per_min, pk.ke_per_min

    def integral(t: float) -> float:  # antiderivative from each dose time, zero before it
        s = np.clip(t - np.asarray(dose_times_min, dtype=float), 0.0, None)
        amp = np.array([pk.unit_um(d) for d in np.atleast_1d(doses_mg_per_kg)], dtype=float)
        return float(np.sum(amp * (-np.expm1(-ke * s) / ke + np.expm1(-ka * s) / ka)))

    return (integral(t1_min) - integral(t0_min)) / (t1_min - t0_min)


__all__ = ["CisplatinPK", "mean_plasma_um", "plasma_um"]
