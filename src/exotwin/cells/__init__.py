"""Cell populations: per-cell state arrays, cell-to-cell variation and stochastic fates.

A :class:`Population` is a struct of arrays over cells (ids, intracellular state, per-cell
parameters, fate). :func:`step` advances it by one phenotype step: the intracellular
model runs on the batched kinetics engine, its hazard outputs are integrated over the
step, and fates (division, apoptosis, pyroptosis, progression to secondary necrosis and
removal) are drawn from counter-based streams keyed by (seed, purpose, cell id, step). A
cell's fate therefore never depends on thread count, engine or processing order.
"""

from exotwin.cells.population import (
    FATES,
    FateParameters,
    Population,
    equilibrate,
    new_population,
    outputs,
    step,
)

__all__ = ["FATES", "FateParameters", "Population", "equilibrate", "new_population", "outputs",
           "step"]
