"""Demo characteristics with a history of samples, recorded through the pipeline.

Each demo characteristic also says how its process behaves (mean, σ, how often it is sampled),
so that the history `load_demo` records and the live samples of the simulator (spc.simulator)
come from the same process.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.utils import timezone

from plants.models import Node, Plant
from spc import limit_versions
from spc.models import Characteristic, ChartType, Provider, Source
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest

PHASE_ONE = 30  # limits come from the first 30 subgroups of the history


@dataclass(frozen=True)
class DemoCharacteristic:
    """A demo characteristic and its process: `mean` is the fraction defective (p), the
    defects per unit (c) or the mean of one value; `sigma` the σ of one value."""

    node: str
    name: str
    chart: ChartType
    n: int
    mean: float
    sigma: float | None = None
    unit: str = ""
    target: float | None = None
    usl: float | None = None
    lsl: float | None = None
    provider: Provider = Provider.TAG
    every: tuple[float, float] = (2.0, 4.0)  # seconds between live samples, drawn uniformly
    interval: timedelta | None = None  # the sampling interval of a manual characteristic

    @property
    def spacing(self) -> timedelta:
        """Time between two samples of the history: as they arrive live."""
        return self.interval or timedelta(seconds=sum(self.every) / 2)

    def point_sigma(self) -> float:
        """σ of the plotted statistic at the usual sample size."""
        if self.chart == ChartType.P:
            return math.sqrt(self.mean * (1 - self.mean) / self.n)
        if self.chart == ChartType.C:
            return math.sqrt(self.mean)
        return self.sigma / math.sqrt(self.n)

    def request(self, rng, offset: float = 0.0, **context) -> SampleRequest:
        """One sample of the process with its mean moved by `offset` σ of the plotted
        statistic (0: in control)."""
        moved = self.mean + offset * self.point_sigma()
        if self.chart == ChartType.P:
            count = int(rng.binomial(self.n, min(max(moved, 0.0), 1.0)))
            return SampleRequest(count=count, sample_size=self.n, **context)
        if self.chart == ChartType.C:
            return SampleRequest(count=int(rng.poisson(max(moved, 0.0))), **context)
        values = rng.normal(moved, self.sigma, self.n).round(4).tolist()
        return SampleRequest(values=values, **context)


DEMO_CHARACTERISTICS = [
    DemoCharacteristic("CNC Lathe 101", "Piston diameter", ChartType.XBAR_R, 5, 74.001, 0.01,
                       "mm", 74.0, 74.05, 73.95, every=(2.0, 4.0)),
    # measured by an operator with a feeler gauge: it falls due every 2 minutes
    DemoCharacteristic("Grinder 201", "Ring gap", ChartType.IMR, 1, 0.302, 0.02, "mm", 0.30,
                       0.40, 0.20, Provider.MANUAL, every=(130.0, 170.0),
                       interval=timedelta(minutes=2)),
    DemoCharacteristic("Torque Cell 301", "Bolt torque", ChartType.XBAR_S, 4, 45.1, 0.6, "N·m",
                       45.0, 48.0, 42.0, every=(4.0, 6.0)),
    DemoCharacteristic("Line 4 — Juice", "Seal defectives", ChartType.P, 50, 0.06,
                       every=(7.0, 9.0)),
    # EWMA and CUSUM are centred on the target
    DemoCharacteristic("Line 4 — Juice", "Fill weight", ChartType.EWMA, 1, 1000.0, 1.2, "g",
                       1000.0, 1004.0, 996.0, every=(1.0, 2.0)),
    DemoCharacteristic("CNC Lathe 102", "Surface defects", ChartType.C, 1, 4.0,
                       every=(5.0, 7.0)),
    DemoCharacteristic("Grinder 201", "Ring width", ChartType.CUSUM, 1, 2.5, 0.004, "mm", 2.5,
                       2.515, 2.485, every=(3.0, 5.0)),
]


def _drift(spec: DemoCharacteristic, count: int) -> tuple[range, float]:
    """Where a history drifts, for the rules to find, and by how much (in σ of the point). A
    Shewhart variables chart: its last 7 points by 1.5 σ of one value. An EWMA or CUSUM, made
    for small sustained shifts: 12 points by 1 σ, ending 25 points before now, so that its sums
    have settled when the live samples follow. An attribute chart: none."""
    if spec.sigma is None:
        return range(0), 0.0
    if spec.chart in (ChartType.EWMA, ChartType.CUSUM):
        return range(max(PHASE_ONE, count - 37), count - 25), 1.0
    return range(count - 7, count), 1.5 * math.sqrt(spec.n)


def history(spec: DemoCharacteristic, count: int, rng) -> list[SampleRequest]:
    """`count` samples ending now, spaced as the live ones arrive, with a drift (`_drift`)."""
    start = timezone.now() - spec.spacing * count
    drifting, drift = _drift(spec, count)
    return [spec.request(rng, drift if i in drifting else 0.0,
                         timestamp=start + spec.spacing * i, source=Source.IMPORT)
            for i in range(count)]


def _create(plant: Plant, node: Node, spec: DemoCharacteristic) -> Characteristic:
    return Characteristic.objects.create(
        plant=plant, node=node, name=spec.name, chart_type=spec.chart, subgroup_size=spec.n,
        target=spec.target, usl=spec.usl, lsl=spec.lsl, unit=spec.unit, provider=spec.provider,
        sampling_interval=spec.interval)


def load_demo_characteristics(plant: Plant, count: int = 120) -> int:
    """Create the demo characteristics once, each with `count` samples and limits from the
    first 30 (`count` at least 30)."""
    rng = np.random.default_rng(7)
    created = 0
    for spec in DEMO_CHARACTERISTICS:
        node = Node.objects.filter(plant=plant, name=spec.node).first()
        if node is None or Characteristic.objects.filter(node=node, name=spec.name).exists():
            continue
        ch = _create(plant, node, spec)
        requests = history(spec, count, rng)
        record_samples(ch, requests[:PHASE_ONE])
        limit_versions.recalculate(ch, None, "Demo: Phase I from the first 30 subgroups",
                                   first_n=PHASE_ONE, effective_from=requests[0].timestamp)
        record_samples(ch, requests[PHASE_ONE:])
        created += 1
    return created


def demo_characteristics(plant: Plant) -> list[tuple[Characteristic, DemoCharacteristic]]:
    """The demo characteristics `plant` holds, each with its process."""
    found = {(c.node.name, c.name): c for c in
             Characteristic.objects.filter(plant=plant).select_related("node")}
    return [(found[spec.node, spec.name], spec) for spec in DEMO_CHARACTERISTICS
            if (spec.node, spec.name) in found]
