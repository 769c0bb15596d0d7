"""Small helpers shared by tests: Antimony text to SBML."""

import antimony


def sbml_from_antimony(text: str) -> str:
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        raise ValueError(antimony.getLastError())
    return antimony.getSBMLString(antimony.getMainModuleName())
