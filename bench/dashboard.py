"""The operator dashboard of a node with 200 characteristics, rendered server-side.

    .venv/bin/python bench/dashboard.py --db sqlite        # /tmp/bench_dashboard
    .venv/bin/python bench/dashboard.py --db postgresql    # openspc_bench_dashboard

In a database of its own (recreated), one line with 200 manual I-MR characteristics (a
30-minute interval, some due, some overdue, some out of control) each with 50 samples recorded
through the pipeline; then `/p/<plant>/?node=<line>` rendered by Django in-process, `--repeat`
times: median and p95 (target < 200 ms), and the number of queries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import fresh_django, machine, own_database, revision, say  # noqa: E402

COUNT = 200


def build():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from plants.grants import grant_role
    from plants.models import Level, Node, Plant
    from plants.roles import Role
    from spc import limit_versions
    from spc.models import Characteristic, ChartType, Provider
    from spc.pipeline import record_samples
    from spc.sample_input import SampleRequest

    plant = Plant.objects.create(code="DASH", name="Dashboard bench")
    line = Node.objects.create(plant=plant, name="Line", level=Level.LINE)
    rng = np.random.default_rng(9)
    now = timezone.now()
    t = time.perf_counter()
    for i in range(COUNT):
        ch = Characteristic.objects.create(
            plant=plant, node=line, name=f"Gauge {i:03d}", chart_type=ChartType.IMR,
            subgroup_size=1, provider=Provider.MANUAL, sampling_interval=timedelta(minutes=30))
        start = now - timedelta(minutes=30 * 50 + (i % 3) * 20)
        limit_versions.manual(ch, None, "bench", center=10.0, sigma=1.0,
                              effective_from=start - timedelta(minutes=1))
        values = rng.normal(10, 1, 50)
        if i % 10 == 0:
            values[-1] = 16.0  # out of control, not acknowledged
        record_samples(ch, [SampleRequest(values=[float(v)], timestamp=start + k * timedelta(minutes=30))
                            for k, v in enumerate(values)])
    say(f"built {COUNT} characteristics in {time.perf_counter() - t:.1f} s")
    user = get_user_model().objects.create_user("dash")
    grant_role(user, plant, Role.OPERATOR)
    return plant.code, line.pk, user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    fresh_django(own_database("dashboard", args.db))
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    code, node, user = build()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = f"/p/{code}/?node={node}"
    client.get(url)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    cards = response.content.decode().count('class="todo-card"')
    median = statistics.median(times)
    print(f"\nDashboard — {machine()}, {connection.vendor}, revision {revision()}\n")
    print(f"{cards} cards: median {median * 1000:.0f} ms, p95 "
          f"{np.percentile(times, 95) * 1000:.0f} ms, {len(queries.captured_queries)} queries "
          f"— target < 200 ms: {'met' if median < 0.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
