"""Population state and the phenotype step (fates from integrated hazards).

An agent is a cohort of real cells that share one intracellular state and parameter set;
``counts[a, f]`` holds how many of agent ``a``'s cells are in fate ``f``. Fates are drawn
as binomial counts, so demographic noise is that of the real number of cells while the
kinetics runs once per agent. A cohort of one cell is an individual cell.

Shapes: ``n`` agents; ``ids`` ``(n,)``; ``counts`` ``(n, 5)`` (int64, columns in
:data:`FATES` order); ``states`` ``(n, n_states)`` in the order of the model's state
variables, each in the symbol's own units (as :func:`exotwin.kinetics.simulate` takes
``initial``); ``params`` maps parameter ids to ``(n,)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from exotwin import rng
from exotwin.kinetics import CompiledModel, compile_model, simulate_array

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
    apoptosis, pyroptosis, division
        Model outputs (per h) giving the apoptosis and pyroptosis hazards and the
        division rate.
    """

    secondary_necrosis_h: float = 6.0
    removal_h: float = 24.0
    apoptosis: str = "apoptosis_hazard"
    pyroptosis: str = "pyroptosis_hazard"
    division: str = "division_rate"


@dataclass
class Population:
    """Cohorts of cells of one model as arrays; see the module docstring for shapes."""

    model: CompiledModel
    ids: np.ndarray
    states: np.ndarray
    params: dict[str, np.ndarray]
    counts: np.ndarray
    time: float = 0.0
    step_index: int = 0
    seed: int = 0
    births: int = 0
    fates: FateParameters = field(default_factory=FateParameters)

    @property
    def n(self) -> int:
        """Number of agents (cohorts)."""
        return int(self.ids.size)

    def count(self, fate: int) -> int:
        """Number of real cells in one fate."""
        return int(self.counts[:, fate].sum())

    @property
    def cells(self) -> int:
        """Number of real cells in any fate (removed ones included)."""
        return int(self.counts.sum())

    @property
    def alive(self) -> np.ndarray:
        """Mask of agents with living cells, ``(n,)``."""
        return self.counts[:, ALIVE] > 0

    def state_names(self) -> list[str]:
        """Ids of the model's state variables, in column order of ``states``."""
        return [s.id for s in self.model.spec.states]

    def value(self, name: str) -> np.ndarray:
        """Current per-agent value of a state variable or parameter."""
        names = self.state_names()
        if name in names:
            return self.states[:, names.index(name)]
        return self.params[name]

    def take(self, index: np.ndarray) -> Population:
        """A new population holding the agents at ``index`` (arrays copied)."""
        return replace(
            self,
            ids=self.ids[index].copy(),
            states=self.states[index].copy(),
            params={k: v[index].copy() for k, v in self.params.items()},
            counts=self.counts[index].copy(),
        )


def outputs(pop: Population, names: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    """Model outputs, states or parameters of every agent at the population's current state.

    Parameters
    ----------
    pop
        The population.
    names
        Ids of assignment-rule outputs, state variables or parameters of the model.

    Returns
    -------
    dict
        ``{name: (n,) float array}`` in agent order (dead agents included).
    """
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    values = simulate_array(pop.model, [0.0], n_cells=pop.n, parameters=pop.params,
                            initial={s: pop.states[:, j] for j, s in enumerate(pop.state_names())},
                            variables=names)[:, 0, :]  # fmt: skip
    return {k: values[:, j].copy() for j, k in enumerate(names)}


def new_population(
    model: str | CompiledModel,
    n_agents: int,
    seed: int,
    cells_per_agent: int = 1,
    variation_cv: float = 0.0,
    vary: tuple[str, ...] | None = None,
    parameters: dict[str, float | np.ndarray] | None = None,
    first_id: int = 0,
    fates: FateParameters | None = None,
    ids: np.ndarray | None = None,
) -> Population:
    """Create ``n_agents`` cohorts of ``cells_per_agent`` living cells at the initial state.

    Parameters
    ----------
    model
        Built-in model name, SBML, or compiled model.
    n_agents
        Number of agents (cohorts; each runs the intracellular model once).
    seed
        Seed of every random draw of this population.
    cells_per_agent
        Real cells per agent (1: every agent is one cell).
    variation_cv
        Cell-to-cell (agent-to-agent) coefficient of variation of the parameters in
        ``vary`` (lognormal, mean 1), drawn per agent id from the ``cell_variation`` stream.
    vary
        Parameter ids to vary; default: every parameter whose id starts with ``k`` (in
        the composed built-in models the shared ``k_dil``, ``k_prot_deg``; a module's
        own rate constants carry its prefix, ``ER_k_fold``, and are not varied).
    parameters
        Values (scalars or ``(n_agents,)``) overriding the model's, before variation.
    first_id
        Id of the first agent (ids are consecutive).
    fates
        Fate timing parameters.
    ids
        Agent ids, shape ``(n_agents,)``, unique (default: consecutive from ``first_id``);
        a cell's variation depends only on its id, whatever else is in the population.
    """
    if int(cells_per_agent) != cells_per_agent or cells_per_agent < 1:
        raise ValueError("cells_per_agent must be a positive integer")
    cm = compile_model(model)
    if ids is None:
        ids = np.arange(first_id, first_id + n_agents, dtype=np.uint64)
    else:
        ids = np.asarray(ids, dtype=np.uint64)
        if ids.shape != (n_agents,) or np.unique(ids).size != n_agents:
            raise ValueError("ids must be n_agents unique integers")
    constants = [k for k in cm.spec.constants if cm.spec.kinds[k] == "parameter"]
    base = simulate_array(cm, [0.0], variables=constants)[0, 0]
    params = {k: np.full(n_agents, base[j]) for j, k in enumerate(constants)}
    for k, v in (parameters or {}).items():
        params[k] = np.broadcast_to(np.asarray(v, dtype=float), (n_agents,)).copy()
    if variation_cv > 0:
        names = vary if vary is not None else tuple(k for k in constants if k.startswith("k"))
        for j, k in enumerate(sorted(names)):
            factor = rng.lognormal_factor(seed, "cell_variation", ids * 1024 + j, variation_cv)
            params[k] = params[k] * factor
    names = [s.id for s in cm.spec.states]
    states = np.zeros((n_agents, 0))
    if names:
        states = simulate_array(cm, [0.0], n_cells=n_agents, parameters=params,
                                variables=names)[:, 0, :]  # fmt: skip
    counts = np.zeros((n_agents, len(FATES)), dtype=np.int64)
    counts[:, ALIVE] = int(cells_per_agent)
    return Population(model=cm, ids=ids, states=states, params=params, counts=counts,
                      seed=int(seed), fates=fates or FateParameters())  # fmt: skip


STABLE_LINE_H = 1000.0  # h of pre-culture: > 30 relaxation times of the slowest built-in mode


def equilibrate(pop: Population, hours: float = STABLE_LINE_H,
                parameters: dict[str, float | np.ndarray] | None = None,
                threads: int | None = None) -> Population:  # fmt: skip
    """The population after a treatment-free pre-culture: every agent at its own steady state.

    A stable line (shRNA or overexpression selected over weeks, a maintained cell line)
    enters an experiment at the steady state of its own parameters, not at the model's
    reference state. Each agent's kinetics is integrated for ``hours`` at its current
    parameters (knockdown multipliers and cell-to-cell variation included) with no fates;
    division dilution is part of the models. The slowest relaxation of the built-in
    models is protein turnover plus dilution (about 19 h for CNE2, 28 h for HUVEC), so the
    default 1000 h leaves a residual far below the integrator's tolerance.

    Parameters
    ----------
    pop
        Population whose ``params`` hold the line's values, shape ``(n,)`` each.
    hours
        Length of the pre-culture (model time units, h); 0 returns ``pop`` unchanged.
    parameters
        Values (scalars or ``(n,)``) that replace the population's during the pre-culture
        only (e.g. a knockdown input before transfection); ``pop.params`` is kept.
    threads
        Kinetics threads (results do not depend on it).

    Returns
    -------
    Population
        A copy with ``states`` ``(n, n_states)`` at the end of the pre-culture.
    """
    if hours < 0:
        raise ValueError("hours must be >= 0")
    names = pop.state_names()
    if hours == 0 or not names or pop.n == 0:
        return pop
    during = {**pop.params, **(parameters or {})}
    out = simulate_array(pop.model, [0.0, float(hours)], n_cells=pop.n, parameters=during,
                         initial={s: pop.states[:, j] for j, s in enumerate(names)},
                         variables=names, threads=threads)  # fmt: skip
    return replace(pop, states=np.ascontiguousarray(out[:, -1, :]))


def step(
    pop: Population,
    dt: float,
    threads: int | None = None,
    report: list[str] | None = None,
    division_scale: float = 1.0,
) -> Population | tuple[Population, dict[str, np.ndarray]]:
    """Advance a population by one phenotype step of ``dt`` hours.

    Agents with living cells integrate their intracellular model over the step; the
    hazards (Simpson's rule over the step's start, middle and end) give each living
    cell's probability to die (apoptosis or pyroptosis, competing risks) or divide.
    Cells that were dead at the start progress: early apoptotic -> late apoptotic
    (secondary necrosis) -> removed; pyroptotic -> removed. Daughters join their
    mother's cohort. All counts are binomial draws from keyed streams.

    Parameters
    ----------
    pop
        The population at the start of the step.
    dt
        Step length (h).
    threads
        Threads for the kinetics (results do not depend on it).
    report
        Model outputs to average over the step (Simpson's rule) for the agents alive at
        its start; when given, the averages are returned too.
    division_scale
        Multiplier (0-1) of every division hazard over the step, e.g. contact inhibition
        set by the culture from the well's confluence.

    Returns
    -------
    Population or (Population, dict)
        A new population (the input is not modified), and the averages, each of shape
        ``(number of agents alive at the start,)``, in the order of those agents.
    """
    # a new population; the step writes only states and counts (parameter arrays are shared)
    pop = replace(pop, states=pop.states.copy(), counts=pop.counts.copy(),
                  params=dict(pop.params))  # fmt: skip
    f = pop.fates
    k = pop.step_index
    t0, t1 = pop.time, pop.time + dt
    c = pop.counts
    ids = pop.ids
    # progression of the cells that were already dead at the start of the step
    to_late = rng.binomial(pop.seed, "necrosis", ids, c[:, EARLY_APOPTOTIC],
                           -np.expm1(-dt / f.secondary_necrosis_h), k)  # fmt: skip
    p_removal = -np.expm1(-dt / f.removal_h)
    late_gone = rng.binomial(pop.seed, "removal_late", ids, c[:, LATE_APOPTOTIC], p_removal, k)
    pyro_gone = rng.binomial(pop.seed, "removal_pyroptotic", ids, c[:, PYROPTOTIC], p_removal, k)
    c[:, EARLY_APOPTOTIC] -= to_late
    c[:, LATE_APOPTOTIC] += to_late - late_gone
    c[:, PYROPTOTIC] -= pyro_gone
    c[:, REMOVED] += late_gone + pyro_gone

    alive = np.flatnonzero(c[:, ALIVE] > 0)
    names = pop.state_names()
    averages: dict[str, np.ndarray] = {}
    if alive.size:
        everyone = alive.size == pop.n
        params = pop.params if everyone else {key: v[alive] for key, v in pop.params.items()}
        states = pop.states if everyone else pop.states[alive]
        initial = {s: states[:, j] for j, s in enumerate(names)}
        outs = [f.apoptosis, f.pyroptosis, f.division]
        outs += [r for r in report or [] if r not in outs and r not in names]
        wanted = names + outs
        out = simulate_array(pop.model, [t0, 0.5 * (t0 + t1), t1], n_cells=alive.size,
                             parameters=params, initial=initial, variables=wanted,
                             threads=threads)  # fmt: skip
        column = {name: j for j, name in enumerate(wanted)}
        pop.states[alive] = out[:, -1, : len(names)]

        def simpson(name: str, clip: bool) -> np.ndarray:
            h = out[:, :, column[name]]
            h = np.clip(h, 0.0, None) if clip else h
            return (h[:, 0] + 4 * h[:, 1] + h[:, 2]) / 6.0

        h_apo = dt * simpson(f.apoptosis, True)
        h_pyro = dt * simpson(f.pyroptosis, True)
        h_div = dt * simpson(f.division, True) * float(np.clip(division_scale, 0.0, 1.0))
        for name in report or []:
            averages[name] = simpson(name, False)
        n_alive = c[alive, ALIVE]
        a_ids = ids[alive]
        total = h_apo + h_pyro
        deaths = rng.binomial(pop.seed, "apoptosis", a_ids, n_alive, -np.expm1(-total), k)
        share = np.divide(h_pyro, total, out=np.zeros_like(total), where=total > 0)
        pyro = rng.binomial(pop.seed, "pyroptosis", a_ids, deaths, share, k)
        born = rng.binomial(pop.seed, "division", a_ids, n_alive - deaths,
                            -np.expm1(-h_div), k)  # fmt: skip
        c[alive, ALIVE] += born - deaths
        c[alive, EARLY_APOPTOTIC] += deaths - pyro
        c[alive, PYROPTOTIC] += pyro
        pop.births += int(born.sum())
    pop.time = t1
    pop.step_index = k + 1
    return pop if report is None else (pop, averages)
