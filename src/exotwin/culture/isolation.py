"""Conditioned medium and exosome isolation: what a donor culture gives its recipients.

A donor culture's medium is collected whole (:class:`Conditioned`); differential
ultracentrifugation splits its vesicles into the 100,000 g pellet (the exosome
preparation, a fraction ``yield`` of the vesicles) and the exosome-depleted supernatant
(the rest); both keep the donor's cargo per vesicle. Nothing is created or lost: pellet
+ supernatant = collected medium, vesicle by vesicle and molecule by molecule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exotwin.vesicles import VesiclePool


@dataclass(frozen=True)
class Conditioned:
    """Vesicles (particles, total cargo molecules) and drugs (uM) in a volume of medium.

    Attributes
    ----------
    source
        Donor label.
    volume_ml
        Volume of medium (mL).
    particles
        Vesicles in that volume.
    cargo
        Total molecules of each cargo protein carried by those vesicles.
    drugs
        Drug concentrations of the medium (uM).
    """

    source: str
    volume_ml: float
    particles: float
    cargo: dict[str, float] = field(default_factory=dict)
    drugs: dict[str, float] = field(default_factory=dict)

    def per_vesicle(self, name: str) -> float:
        """Mean molecules of ``name`` per vesicle (0 without vesicles)."""
        return self.cargo.get(name, 0.0) / self.particles if self.particles > 0 else 0.0

    def scaled(self, fraction: float) -> Conditioned:
        """The vesicles of a fraction of this material (same concentrations of drugs)."""
        return Conditioned(self.source, self.volume_ml * fraction, self.particles * fraction,
                           {k: v * fraction for k, v in self.cargo.items()},
                           dict(self.drugs))  # fmt: skip


def collect(source: str, pool: VesiclePool, volume_ml: float,
            drugs: dict[str, float]) -> Conditioned:  # fmt: skip
    """The whole conditioned medium of a well (the pool itself is not changed)."""
    return Conditioned(source, volume_ml, pool.count, dict(pool.cargo), dict(drugs))


def ultracentrifuge(medium: Conditioned, yield_fraction: float) -> tuple[Conditioned, Conditioned]:
    """Split conditioned medium into (exosome pellet, exosome-depleted supernatant).

    The pellet holds ``yield_fraction`` of the vesicles and their cargo, resuspended in a
    negligible volume without drugs (the pellet is washed in PBS); the supernatant holds
    the rest of the vesicles and all of the drugs.
    """
    if not 0.0 < yield_fraction < 1.0:
        raise ValueError("ultracentrifugation yield must lie in (0, 1)")
    pellet = Conditioned(medium.source, 0.0, medium.particles * yield_fraction,
                         {k: v * yield_fraction for k, v in medium.cargo.items()})  # fmt: skip
    rest = 1.0 - yield_fraction
    supernatant = Conditioned(medium.source, medium.volume_ml, medium.particles * rest,
                              {k: v * rest for k, v in medium.cargo.items()},
                              dict(medium.drugs))  # fmt: skip
    return pellet, supernatant
