"""Quantities with units in protocols: '20 ug/mL', '1.5 uM', '48 h', '1e9 particles/mL'.

Each kind of quantity converts to one internal unit (concentration: uM; time: h;
exosome dose: particles/mL). Mass concentrations of drugs convert with the drug's molar
mass. A unit of the wrong kind is an error naming the field.
"""

from __future__ import annotations

import re

from exotwin.constants import MOLAR_MASS_G_PER_MOL  # molar masses (g/mol), with provenance

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([^\s].*?)?\s*$")

TIME_H = {"h": 1.0, "hour": 1.0, "hours": 1.0, "min": 1 / 60, "d": 24.0, "day": 24.0, "days": 24.0}
MOLAR_UM = {"M": 1e6, "mM": 1e3, "uM": 1.0, "µM": 1.0, "μM": 1.0, "nM": 1e-3}
MASS_UG_PER_ML = {"mg/mL": 1e3, "ug/mL": 1.0, "µg/mL": 1.0, "μg/mL": 1.0, "ng/mL": 1e-3}
PARTICLES_PER_ML = {"particles/mL": 1.0, "particles/ml": 1.0}
PROTEIN_UG_PER_ML = {"ug/mL": 1.0, "µg/mL": 1.0, "μg/mL": 1.0}


class UnitError(ValueError):
    """A quantity whose number or unit cannot be read as the expected kind."""


def split(text: str | float | int) -> tuple[float, str]:
    """Split '20 ug/mL' into (20.0, 'ug/mL'); a bare number has unit ''."""
    if isinstance(text, int | float):
        return float(text), ""
    m = _PATTERN.match(str(text))
    if not m:
        raise UnitError(f"cannot read {text!r} as a number with a unit")
    return float(m.group(1)), (m.group(2) or "").strip()


def time_h(text: str | float) -> float:
    """A time in hours ('48 h', '90 min', '2 d')."""
    value, unit = split(text)
    if unit not in TIME_H:
        raise UnitError(f"{text!r}: expected a time unit ({', '.join(TIME_H)})")
    return value * TIME_H[unit]


def concentration_um(text: str | float, drug: str) -> float:
    """A drug concentration in uM (molar units, or mass units via the molar mass)."""
    value, unit = split(text)
    if unit in MOLAR_UM:
        return value * MOLAR_UM[unit]
    if unit in MASS_UG_PER_ML:
        if drug not in MOLAR_MASS_G_PER_MOL:
            raise UnitError(f"{text!r}: molar mass of {drug!r} unknown; give it in uM")
        ug_per_ml = value * MASS_UG_PER_ML[unit]
        return ug_per_ml / MOLAR_MASS_G_PER_MOL[drug] * 1e3  # ug/mL / (g/mol) = mM*1e-3
    raise UnitError(
        f"{text!r}: expected a concentration ({', '.join([*MOLAR_UM, *MASS_UG_PER_ML])})"
    )
