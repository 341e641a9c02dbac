"""Demo characteristics with a history of samples, recorded through the pipeline."""

from datetime import timedelta

import numpy as np
from django.utils import timezone

from plants.models import Node, Plant
from spc import limit_versions
from spc.models import Characteristic, ChartType, Source
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest

# (node name, characteristic, chart type, n, target, usl, lsl, mean, sigma)
DEMO_CHARACTERISTICS = [
    ("CNC Lathe 101", "Piston diameter", ChartType.XBAR_R, 5, 74.0, 74.05, 73.95, 74.001, 0.01),
    ("Grinder 201", "Ring gap", ChartType.IMR, 1, 0.30, 0.40, 0.20, 0.302, 0.02),
    ("Torque Cell 301", "Bolt torque", ChartType.XBAR_S, 4, 45.0, 48.0, 42.0, 45.1, 0.6),
    ("Line 4 — Juice", "Seal defectives", ChartType.P, 50, None, None, None, 0.06, None),
]


def _requests(chart, n, mean, sigma, count, start, rng):
    out = []
    for i in range(count):
        at = start + timedelta(minutes=15 * i)
        if chart == ChartType.P:
            out.append(SampleRequest(count=int(rng.binomial(n, mean)), sample_size=n,
                                     timestamp=at, source=Source.IMPORT))
        else:
            shift = 1.5 * sigma if i > count - 8 else 0.0  # a late drift for the rules to find
            values = rng.normal(mean + shift, sigma, n).round(4).tolist()
            out.append(SampleRequest(values=values, timestamp=at, source=Source.IMPORT))
    return out


def load_demo_characteristics(plant: Plant, count: int = 120) -> int:
    """Create the demo characteristics once, each with `count` samples and limits from the first 30."""
    rng = np.random.default_rng(7)
    start = timezone.now() - timedelta(minutes=15 * count)
    created = 0
    for node_name, name, chart, n, target, usl, lsl, mean, sigma in DEMO_CHARACTERISTICS:
        node = Node.objects.filter(plant=plant, name=node_name).first()
        if node is None or Characteristic.objects.filter(node=node, name=name).exists():
            continue
        ch = Characteristic.objects.create(
            plant=plant, node=node, name=name, chart_type=chart, subgroup_size=n, target=target,
            usl=usl, lsl=lsl, unit="" if chart == ChartType.P else "mm",
            sampling_interval=timedelta(minutes=15))
        requests = _requests(chart, n, mean, sigma, count, start, rng)
        record_samples(ch, requests[:30])
        limit_versions.recalculate(ch, None, "Demo: Phase I from the first 30 subgroups",
                                   first_n=30, effective_from=requests[0].timestamp)
        record_samples(ch, requests[30:])
        created += 1
    return created
