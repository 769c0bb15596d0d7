"""Generic SBML time courses in the SBML Test Suite convention.

``time_course`` reports ``steps + 1`` rows from ``start`` to ``start + duration``, one
column per requested variable, species as amounts or concentrations on request. It runs
on the batched kinetics engine with one cell and tight default tolerances.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from exotwin.errors import ExotwinError
from exotwin.kinetics import compile_model, simulate

__all__ = ["time_course"]


def time_course(
    model: str | os.PathLike,
    start: float,
    duration: float,
    steps: int,
    variables: Sequence[str] | None = None,
    amount: Sequence[str] = (),
    concentration: Sequence[str] = (),
    rtol: float = 1e-10,
    atol: float = 1e-14,
) -> pd.DataFrame:
    """Simulate an SBML model and report a table of values over time.

    Parameters
    ----------
    model
        SBML text, path to an SBML file, or a built-in model name.
    start, duration
        First output time and length of the time course (model time units).
    steps
        Number of output intervals; the table has ``steps + 1`` rows.
    variables
        Ids to report (species, parameters, compartments, reactions); default: every
        species and every time-varying parameter or compartment.
    amount, concentration
        Species to report as amounts or as concentrations; other species are reported
        as their symbol value (concentration unless ``hasOnlySubstanceUnits``). Other
        ids in these lists are reported as their value, as the Test Suite expects.
    rtol, atol
        Integration tolerances.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` and the variables.
    """
    if not np.isfinite(duration) or duration < 0:
        raise ExotwinError("must be a finite, non-negative number", field="duration")
    if int(steps) != steps or steps < 1:
        raise ExotwinError("must be a positive integer", field="steps")
    cm = compile_model(model)
    names = list(variables) if variables else cm.default_variables()
    both = set(amount) & set(concentration)
    if both:
        raise ExotwinError(
            "listed both as amount and as concentration", field=sorted(both)[0]
        )
    unknown = [n for n in (*amount, *concentration) if n not in cm.spec.kinds]
    if unknown:  # a misspelt id would otherwise be silently reported in its default unit
        raise ExotwinError("unknown id in this model", file=cm.spec.source, field=unknown[0])
    requested = []
    for name in names:
        if name in cm.spec.species and name in amount:
            requested.append(f"amount({name})")
        elif name in cm.spec.species and name in concentration:
            requested.append(f"concentration({name})")
        else:  # non-species listed there (e.g. a compartment) are reported as their value
            requested.append(name)
    times = start + np.linspace(0.0, duration, int(steps) + 1)
    ds = simulate(cm, times, n_cells=1, rtol=rtol, atol=atol, variables=requested)
    table = {"time": times}
    for name, key in zip(names, requested, strict=True):
        table[name] = ds[key].values[0]
    return pd.DataFrame(table)
