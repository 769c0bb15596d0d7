"""Population state and the phenotype step (fates from integrated hazards).

Shapes: ``n`` cells; ``ids``, ``fate``, ``fate_time``, ``birth_time`` are ``(n,)``;
``states`` is ``(n, n_states)`` in the order of the model's state variables, each in the
symbol's own units (as :func:`exotwin.kinetics.simulate` takes ``initial``);
``params`` maps parameter ids to ``(n,)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from exotwin import rng
from exotwin.kinetics import CompiledModel, compile_model, simulate

ALIVE, EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC, REMOVED = range(5)
FATES = {
    ALIVE: "alive",
    EARLY_APOPTOTIC: "early_apoptotic",  # Annexin V+ / 7-AAD-
    LATE_APOPTOTIC: "late_apoptotic",  # Annexin V+ / 7-AAD+ (secondary necrosis)
    PYROPTOTIC: "pyroptotic",  # ruptured membrane: Annexin V+ / 7-AAD+, swollen
    REMOVED: "removed",  # detached / fragmented: no longer seen by assays
}


@dataclass(frozen=True)
class FateParameters:
    """Fate timing and the model outputs that drive fates.

    Attributes
    ----------
    secondary_necrosis_h
        Mean time (h) from Annexin V exposure to loss of membrane integrity of an
        apoptotic cell in culture. assumed: 6 h; without phagocytes, apoptotic cells in
        vitro lose membrane integrity (secondary necrosis) within hours to a day.
    removal_h
        Mean time (h) from membrane rupture to detachment/fragmentation beyond assay
        detection. assumed: 24 h, dead cells remain in the well and are collected with
        the supernatant for flow cytometry over about a day.
    hazards
        Model outputs (per h) for apoptosis and pyroptosis, and the division rate (per h).
    """

    secondary_necrosis_h: float = 6.0
    removal_h: float = 24.0
    apoptosis: str = "apoptosis_hazard"
    pyroptosis: str = "pyroptosis_hazard"
    division: str = "division_rate"


@dataclass
class Population:
    """Cells of one model as arrays; see the module docstring for shapes."""

    model: CompiledModel
    ids: np.ndarray
    states: np.ndarray
    params: dict[str, np.ndarray]
    fate: np.ndarray
    fate_time: np.ndarray
    birth_time: np.ndarray
    time: float = 0.0
    step_index: int = 0
    next_id: int = 0
    seed: int = 0
    fates: FateParameters = field(default_factory=FateParameters)

    @property
    def n(self) -> int:
        """Number of cells (any fate)."""
        return int(self.ids.size)

    def count(self, fate: int) -> int:
        """Number of cells in one fate."""
        return int(np.count_nonzero(self.fate == fate))

    def state_names(self) -> list[str]:
        """Ids of the model's state variables, in column order of ``states``."""
        return [s.id for s in self.model.spec.states]

    def value(self, name: str) -> np.ndarray:
        """Current per-cell value of a state variable or parameter."""
        names = self.state_names()
        if name in names:
            return self.states[:, names.index(name)]
        return self.params[name]

    def take(self, index: np.ndarray) -> Population:
        """A new population holding the cells at ``index`` (arrays copied)."""
        return replace(
            self,
            ids=self.ids[index].copy(),
            states=self.states[index].copy(),
            params={k: v[index].copy() for k, v in self.params.items()},
            fate=self.fate[index].copy(),
            fate_time=self.fate_time[index].copy(),
            birth_time=self.birth_time[index].copy(),
        )


def new_population(
    model: str | CompiledModel,
    n_cells: int,
    seed: int,
    variation_cv: float = 0.0,
    vary: tuple[str, ...] | None = None,
    parameters: dict[str, float | np.ndarray] | None = None,
    first_id: int = 0,
    fates: FateParameters | None = None,
) -> Population:
    """Create ``n_cells`` cells at the model's initial state.

    Parameters
    ----------
    model
        Built-in model name, SBML, or compiled model.
    n_cells
        Number of cells.
    seed
        Seed of every random draw of this population.
    variation_cv
        Cell-to-cell coefficient of variation of the parameters in ``vary`` (lognormal,
        mean 1), drawn per cell id from the ``cell_variation`` stream.
    vary
        Parameter ids to vary; default: every rate or expression constant whose id starts
        with ``k`` (rate constants).
    parameters
        Values (scalars or ``(n_cells,)``) overriding the model's, before variation.
    first_id
        Id of the first cell (ids are consecutive).
    fates
        Fate timing parameters.
    """
    cm = compile_model(model)
    ids = np.arange(first_id, first_id + n_cells, dtype=np.uint64)
    constants = [k for k in cm.spec.constants if cm.spec.kinds[k] == "parameter"]
    base = simulate(cm, [0.0], variables=constants).isel(cell=0, time=0)
    params = {k: np.full(n_cells, float(base[k])) for k in constants}
    for k, v in (parameters or {}).items():
        params[k] = np.broadcast_to(np.asarray(v, dtype=float), (n_cells,)).copy()
    if variation_cv > 0:
        names = vary if vary is not None else tuple(k for k in constants if k.startswith("k"))
        for j, k in enumerate(sorted(names)):
            factor = rng.lognormal_factor(seed, "cell_variation", ids * 1024 + j, variation_cv)
            params[k] = params[k] * factor
    names = [s.id for s in cm.spec.states]
    init = simulate(cm, [0.0], n_cells=n_cells, parameters=params, variables=names)
    states = np.stack([init[s].values[:, 0] for s in names], axis=1) if names else np.zeros(
        (n_cells, 0)
    )
    return Population(
        model=cm,
        ids=ids,
        states=states,
        params=params,
        fate=np.zeros(n_cells, dtype=np.int8),
        fate_time=np.zeros(n_cells),
        birth_time=np.zeros(n_cells),
        next_id=first_id + n_cells,
        seed=int(seed),
        fates=fates or FateParameters(),
    )


def step(
    pop: Population,
    dt: float,
    threads: int | None = None,
    report: list[str] | None = None,
) -> Population | tuple[Population, dict[str, np.ndarray]]:
    """Advance a population by one phenotype step of ``dt`` hours.

    Living cells integrate their intracellular model over the step; the hazards
    (trapezoid over the step's start, middle and end) give each cell's probability to
    die (apoptosis or pyroptosis, competing risks) or divide. Dead cells progress:
    early apoptotic -> late apoptotic (secondary necrosis) -> removed; pyroptotic ->
    removed. Daughters copy the mother's state and parameters and get the next ids in
    the order of their mothers' ids.

    Parameters
    ----------
    pop
        The population at the start of the step.
    dt
        Step length (h).
    threads
        Threads for the kinetics (results do not depend on it).
    report
        Model outputs to average over the step (Simpson's rule) for the cells alive at
        its start; when given, the averages are returned too.

    Returns
    -------
    Population or (Population, dict)
        A new population (the input is not modified), and the averages, each of shape
        ``(number of cells alive at the start,)``, in the order of those cells.
    """
    pop = pop.take(np.arange(pop.n))
    f = pop.fates
    k = pop.step_index
    t0, t1 = pop.time, pop.time + dt
    alive = np.flatnonzero(pop.fate == ALIVE)
    names = pop.state_names()
    averages: dict[str, np.ndarray] = {}
    if alive.size:
        params = {key: v[alive] for key, v in pop.params.items()}
        initial = {s: pop.states[alive, j] for j, s in enumerate(names)}
        outs = [f.apoptosis, f.pyroptosis, f.division]
        outs += [r for r in report or [] if r not in outs and r not in names]
        ds = simulate(pop.model, [t0, 0.5 * (t0 + t1), t1], n_cells=alive.size,
                      parameters=params, initial=initial, variables=names + outs,
                      threads=threads)  # fmt: skip
        for j, s in enumerate(names):
            pop.states[alive, j] = ds[s].values[:, -1]

        def integral(name: str) -> np.ndarray:
            h = np.clip(ds[name].values, 0.0, None)
            return dt * (h[:, 0] + 4 * h[:, 1] + h[:, 2]) / 6.0  # Simpson

        h_apo, h_pyro, h_div = integral(f.apoptosis), integral(f.pyroptosis), integral(f.division)
        for name in report or []:
            v = ds[name].values
            averages[name] = (v[:, 0] + 4 * v[:, 1] + v[:, 2]) / 6.0
        ids = pop.ids[alive]
        u_death = rng.uniform(pop.seed, "apoptosis", ids, k)
        u_mode = rng.uniform(pop.seed, "pyroptosis", ids, k)
        u_div = rng.uniform(pop.seed, "division", ids, k)
        total = h_apo + h_pyro
        dies = u_death < -np.expm1(-total)
        pyro = dies & (u_mode * total < h_pyro)
        apo = dies & ~pyro
        divides = ~dies & (u_div < -np.expm1(-h_div))
        pop.fate[alive[apo]] = EARLY_APOPTOTIC
        pop.fate[alive[pyro]] = PYROPTOTIC
        pop.fate_time[alive[dies]] = t1
    else:
        divides = np.zeros(0, dtype=bool)
    # progression of cells that were already dead at the start of the step
    dying = (pop.fate != ALIVE) & (pop.fate != REMOVED)
    dead_before = np.flatnonzero(dying & (pop.fate_time < t1 - 1e-12 * max(1.0, abs(t1))))
    progress = rng.uniform(pop.seed, "necrosis", pop.ids[dead_before], k)
    fate = pop.fate[dead_before]
    late = (fate == EARLY_APOPTOTIC) & (progress < -np.expm1(-dt / f.secondary_necrosis_h))
    gone = np.isin(fate, (LATE_APOPTOTIC, PYROPTOTIC)) & (progress < -np.expm1(-dt / f.removal_h))
    pop.fate[dead_before[late]] = LATE_APOPTOTIC
    pop.fate[dead_before[gone]] = REMOVED
    pop.fate_time[dead_before[late | gone]] = t1
    # division: daughters appended in the order of their mothers' ids
    mothers = alive[divides] if alive.size else np.zeros(0, dtype=np.int64)
    mothers = mothers[np.argsort(pop.ids[mothers], kind="stable")]
    if mothers.size:
        daughters = pop.take(mothers)
        daughters.ids = np.arange(pop.next_id, pop.next_id + mothers.size, dtype=np.uint64)
        daughters.birth_time[:] = t1
        daughters.fate_time[:] = t1
        pop = _concat(pop, daughters)
        pop.next_id += mothers.size
    pop.time = t1
    pop.step_index = k + 1
    return pop if report is None else (pop, averages)


def _concat(a: Population, b: Population) -> Population:
    return replace(
        a,
        ids=np.concatenate([a.ids, b.ids]),
        states=np.concatenate([a.states, b.states]),
        params={k: np.concatenate([a.params[k], b.params[k]]) for k in a.params},
        fate=np.concatenate([a.fate, b.fate]),
        fate_time=np.concatenate([a.fate_time, b.fate_time]),
        birth_time=np.concatenate([a.birth_time, b.birth_time]),
    )
