"""Physical constants of the substances the models and protocols share (owns them).

The lowest layer: imported by :mod:`exotwin.protocols.units` (mass concentrations of
drugs in protocols) and :mod:`exotwin.tissue.pk` (plasma cisplatin in uM); imports nothing
from the package.
"""

from __future__ import annotations

# Molar masses (g/mol), keyed by the drug names protocols use.
MOLAR_MASS_G_PER_MOL = {
    "cisplatin": 300.05,  # cis-Pt(NH3)2Cl2 (PubChem CID 5702198)
    "tunicamycin": 844.9,  # tunicamycin homologue mixture, average (PubChem CID 11104835)
}

__all__ = ["MOLAR_MASS_G_PER_MOL"]
