"""Tiny stand-ins with the Deng 2023 model interface, for CAM tests independent of the real models.

``DONOR`` has the inputs and outputs of ``npc_ebv_cell``, ``ENDOTHELIAL`` those of
``endothelial_cell`` (docs/cam.md); their values are simple and chosen only for tests.
"""

from helpers import sbml_from_antimony

DONOR_ANT = """
model npc_stub
  compartment cell = 1;
  species STIM1_total in cell;
  STIM1_expression = 1; LMP1_expression = 1; SOCE_block = 0;
  k_turn = 0.1;
  STIM1_total = STIM1_expression;
  J0: -> STIM1_total; k_turn * STIM1_expression;
  J1: STIM1_total -> ; k_turn * STIM1_total;
  LMP1_total := LMP1_expression;
  division_rate := 0.02;
  apoptosis_hazard := 0.002;
  pyroptosis_hazard := 0;
  exosome_secretion_rate := 60 * (0.5 + 0.5 * STIM1_total * (1 - SOCE_block));
  exo_LMP1_cargo := LMP1_expression * STIM1_total * (1 - SOCE_block);
end
"""

ENDOTHELIAL_ANT = """
model endothelial_stub
  compartment cell = 1;
  species S in cell;
  exo_LMP1_uptake_rate = 0; LY294002_uM = 0; U0126_uM = 0;
  k_in = 1e-4; k_out = 1; K = 0.1;
  S = 0;
  J0: -> S; k_in * exo_LMP1_uptake_rate;
  J1: S -> ; k_out * S;
  act := S / (K + S);
  sprouting_activity := 1 + 2 * act;
  migration_speed := 20 * (1 + act);
  division_rate := 0.02 * (1 + act);
  apoptosis_hazard := 0.001;
  pyroptosis_hazard := 0;
  junction_opening := 0.05 + 0.2 * act;
  pAkt_ratio := 0.1 + 0.5 * act;
  pERK_ratio := 0.1 + 0.5 * act;
  Akt_total := 1;
  ERK_total := 1;
  exosome_secretion_rate := 10;
end
"""


def donor_sbml() -> str:
    """SBML of the stand-in donor (``npc_ebv_cell`` interface)."""
    return sbml_from_antimony(DONOR_ANT)


def endothelial_sbml() -> str:
    """SBML of the stand-in recipient (``endothelial_cell`` interface)."""
    return sbml_from_antimony(ENDOTHELIAL_ANT)
