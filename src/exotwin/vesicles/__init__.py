"""Exosomes in a well-mixed medium: secretion, uptake, degradation and their ledger.

A :class:`VesiclePool` holds the vesicles of one medium compartment as a particle count
and total cargo per cargo protein. Over a step the pool follows

    dN/dt = S - (k_uptake_total + k_deg) N,    k_uptake_total = q * n_cells / V

(``S`` vesicles/h secreted by the cells, ``q`` the clearance volume per cell per hour,
``V`` the medium volume), solved exactly for constant ``S`` and rates over the step, so
every vesicle is accounted for: secreted (+ added) = in medium + taken up + degraded
+ removed. Cargo travels with the vesicles in proportion.

Parameters (units, provenance) are in :class:`VesicleParameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class VesicleParameters:
    """Vesicle transport parameters.

    Attributes
    ----------
    clearance_ml_per_h
        Medium volume cleared of vesicles per cell per hour (mL/h). assumed: 1e-6, which
        gives an uptake time constant V / (n q) of ~10 h for 1e4 cells in 0.1 mL, within
        the "hours" seen for PKH-labelled EV uptake (params.md: PKH67 signal at 2 h, Xia
        2021; uptake at 1-12 h, PMC8143977).
    degradation_per_h
        First-order loss of intact vesicles in medium at 37 C (1/h). assumed: ln2/48 h;
        ~51 % of EVs are lost over 48 h in PBS at 4 C (Evtushenko, PLoS One
        2020;15:e0243738), taken as the order of magnitude at 37 C.
    size_mode_nm, size_sigma
        Lognormal diameter distribution: mode (nm) and log-sd (dimensionless). mode 100 nm
        from Xia 2021 NTA (doi:10.1186/s12885-021-08712-9); sigma assumed 0.35 so that ~95 %
        of vesicles fall within 30-200 nm.
    uptake_half_saturation_per_ml
        Medium vesicle concentration (particles/mL) at which uptake per cell is half its
        linear extrapolation: uptake per cell = q C / (1 + C / K), a maximum of q K =
        1e4 vesicles/cell/h. assumed: 1e10; uptake saturates with dose (Jurgielewicz et al.,
        Nanoscale Res Lett 2020, doi:10.1186/s11671-020-03399-6), value not measured.
    particles_per_ug
        Particles per ug of vesicle protein, converts protein doses to particles.
        assumed: 1e10, the middle of the 2e9-3e10 particles/ug range of ultracentrifuged
        preparations (Webber & Clayton, J Extracell Vesicles 2013, doi:10.3402/jev.v2i0.19861).
    """

    clearance_ml_per_h: float = 1e-6
    degradation_per_h: float = float(np.log(2) / 48.0)
    size_mode_nm: float = 100.0
    size_sigma: float = 0.35
    particles_per_ug: float = 1e10
    uptake_half_saturation_per_ml: float = 1e10


@dataclass
class VesiclePool:
    """Vesicles in one medium compartment, with a cumulative ledger (particles).

    Attributes
    ----------
    count
        Vesicles now in the medium.
    cargo
        Total molecules of each cargo protein carried by the vesicles in the medium.
    ledger
        Cumulative particles secreted, added (dosed), taken up, degraded and removed.
    cargo_ledger
        The same accounts per cargo protein (molecules).
    """

    count: float = 0.0
    cargo: dict[str, float] = field(default_factory=dict)
    ledger: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("secreted", "added", "taken_up", "degraded", "removed"), 0.0
        )
    )
    cargo_ledger: dict[str, dict[str, float]] = field(default_factory=dict)

    def _cargo_account(self, name: str) -> dict[str, float]:
        if name not in self.cargo_ledger:
            self.cargo_ledger[name] = dict.fromkeys(self.ledger, 0.0)
            self.cargo.setdefault(name, 0.0)
        return self.cargo_ledger[name]

    def add(self, count: float, cargo: dict[str, float]) -> None:
        """Dose vesicles into the medium (particles, and total cargo molecules)."""
        if count < 0 or any(v < 0 for v in cargo.values()):
            raise ValueError("vesicle dose must be non-negative")
        self.count += count
        self.ledger["added"] += count
        for name, amount in cargo.items():
            self._cargo_account(name)["added"] += amount
            self.cargo[name] += amount

    def remove_fraction(self, fraction: float) -> tuple[float, dict[str, float]]:
        """Take a fraction of the medium's vesicles out (collection, medium change)."""
        fraction = float(np.clip(fraction, 0.0, 1.0))
        taken = self.count * fraction
        cargo = {k: v * fraction for k, v in self.cargo.items()}
        self.count -= taken
        self.ledger["removed"] += taken
        for k, v in cargo.items():
            self.cargo[k] -= v
            self.cargo_ledger[k]["removed"] += v
        return taken, cargo

    def step(
        self,
        dt: float,
        secretion: np.ndarray,
        cargo_per_vesicle: dict[str, np.ndarray],
        clearance: np.ndarray,
        volume_ml: float,
        degradation_per_h: float,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Advance the pool by ``dt`` hours.

        Parameters
        ----------
        dt
            Step (h).
        secretion
            Vesicles per hour secreted by each living cell, shape ``(n,)``.
        cargo_per_vesicle
            Molecules per secreted vesicle of each cargo protein, per cell, ``(n,)``.
        clearance
            Clearance volume per cell (mL/h), ``(n,)`` (0 for dead or blocked cells).
        volume_ml
            Medium volume (mL).
        degradation_per_h
            First-order vesicle degradation rate (1/h).

        Returns
        -------
        (numpy.ndarray, dict)
            Vesicles taken up by each cell over the step, shape ``(n,)``, and the cargo
            molecules each cell received, per cargo protein.
        """
        s_total = float(np.sum(secretion))
        k_up = float(np.sum(clearance)) / volume_ml
        lam = k_up + degradation_per_h
        n0 = self.count
        if lam > 0:
            decay = np.exp(-lam * dt)
            n1 = n0 * decay + s_total / lam * (1.0 - decay)
        else:
            n1 = n0 + s_total * dt
        lost = n0 + s_total * dt - n1
        up_share = k_up / lam if lam > 0 else 0.0
        taken = lost * up_share
        self.count = n1
        self.ledger["secreted"] += s_total * dt
        self.ledger["taken_up"] += taken
        self.ledger["degraded"] += lost - taken
        weights = clearance / np.sum(clearance) if k_up > 0 else np.zeros_like(clearance)
        per_cell = taken * weights
        delivered = {}
        # cargo: the same linear dynamics with its own input; loss shares as for particles
        zero = np.zeros_like(np.asarray(secretion, dtype=float))
        for name in {**dict.fromkeys(self.cargo), **dict.fromkeys(cargo_per_vesicle)}:
            per_vesicle = cargo_per_vesicle.get(name, zero)  # dosed-only cargo: no secretion
            account = self._cargo_account(name)
            c0 = self.cargo[name]
            c_in = float(np.sum(secretion * per_vesicle))
            c1 = c0 * decay + c_in / lam * (1.0 - decay) if lam > 0 else c0 + c_in * dt
            c_lost = c0 + c_in * dt - c1
            c_taken = c_lost * up_share
            self.cargo[name] = c1
            account["secreted"] += c_in * dt
            account["taken_up"] += c_taken
            account["degraded"] += c_lost - c_taken
            delivered[name] = c_taken * weights
        return per_cell, delivered

    def balance(self, cargo: str | None = None) -> float:
        """In + out residual: (secreted + added) - (medium + taken up + degraded + removed)."""
        led = self.ledger if cargo is None else self.cargo_ledger[cargo]
        now = self.count if cargo is None else self.cargo[cargo]
        return (led["secreted"] + led["added"]) - (
            now + led["taken_up"] + led["degraded"] + led["removed"]
        )


def sizes_nm(params: VesicleParameters, uniforms: np.ndarray) -> np.ndarray:
    """Vesicle diameters (nm) from uniforms in (0, 1): lognormal with the given mode."""
    from scipy.special import ndtri

    mu = np.log(params.size_mode_nm) + params.size_sigma**2  # mode = exp(mu - sigma^2)
    return np.exp(mu + params.size_sigma * ndtri(uniforms))
