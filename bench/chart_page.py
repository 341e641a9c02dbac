"""The chart page: server-side render and time to interactive in headless Chromium.

    .venv/bin/python bench/chart_page.py --db sqlite        # /tmp/bench_chart
    .venv/bin/python bench/chart_page.py --db postgresql    # openspc_bench_chart

In a database of its own (recreated on every run), one X̄-R characteristic (n = 5) with an
established limit version and 10,000 samples recorded through the pipeline (with a few
violations and exclusions, as a real chart has). Then:

* server side: the chart page (`/p/<plant>/c/<id>/`) rendered by Django in-process with the
  last 100, 1,000 and all 10,000 points — median and p95 of `--repeat` renders (targets:
  1,000 points < 150 ms);
* in the browser: uvicorn serving the app as `make run` does, Debian's headless Chromium
  opening the page, from navigation start to the chart drawn and listening (the chart
  element's `data-ready`, set when Plotly has drawn every trace and the click handler is on) —
  median of `--repeat` loads with the browser cache warm (targets: 1,000 points < 1 s, 10,000
  points < 2 s).

Speed is never asserted; verdicts are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import Server, free_port, fresh_django, machine, own_database, revision, say  # noqa: E402

POINTS = 10_000
STEP = timedelta(seconds=86.4)  # 1,000 samples a day: the last day is the newest 1,000 points
LAST_DAY = "2026-01-10"
PASSWORD = "bench-chart-password"


def build() -> tuple[str, int]:
    """The plant code and characteristic id of a 10,000-sample X̄-R chart."""
    from django.contrib.auth import get_user_model

    from plants.grants import grant_role
    from plants.models import Level, Node, Plant
    from plants.roles import Role
    from spc import limit_versions
    from spc.models import Characteristic, ChartType, Sample
    from spc.pipeline import record_samples
    from spc.sample_edits import set_excluded
    from spc.sample_input import SampleRequest

    plant = Plant.objects.create(code="BENCH", name="Bench plant")
    node = Node.objects.create(plant=plant, name="Line", level=Level.LINE)
    ch = Characteristic.objects.create(plant=plant, node=node, name="Bore", unit="mm",
                                       chart_type=ChartType.XBAR_R, subgroup_size=5,
                                       usl=10.05, lsl=9.95, target=10.0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    limit_versions.manual(ch, None, "bench", center=10.0, sigma=0.01,
                          effective_from=start - timedelta(days=1))
    rng = np.random.default_rng(5)
    values = rng.normal(10.0, 0.01, (POINTS, 5))
    values[::997] += 0.03  # a few points out, so the chart draws violations
    t = time.perf_counter()
    for a in range(0, POINTS, 1000):
        record_samples(ch, [SampleRequest(values=values[i].round(5).tolist(),
                                          timestamp=start + i * STEP)
                            for i in range(a, min(a + 1000, POINTS))])
    say(f"recorded {POINTS:,} samples in {time.perf_counter() - t:.1f} s")
    for sample in Sample.objects.filter(characteristic=ch).order_by("timestamp")[100:POINTS:1500]:
        set_excluded(sample, True, "bench: gauge check", None)
    user = get_user_model().objects.create_user("bench", password=PASSWORD)
    grant_role(user, plant, Role.OPERATOR)
    return plant.code, ch.pk


def server_side(code: str, pk: int, repeat: int) -> dict[int, list[float]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    out = {}
    for last, query in ((100, "last=100"), (1000, "last=500"), (POINTS, "last=all")):
        url = f"/p/{code}/c/{pk}/?{query}"
        if last == 1000:  # the page offers 50/100/500/all; 1,000 points are a date range
            url = None
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(url) if url else _thousand(client, code, pk)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, response.status_code
        out[last] = times
    return out


def _thousand(client, code, pk):
    """The page with the 1,000 newest points: the last day holds them."""
    return client.get(f"/p/{code}/c/{pk}/?from={LAST_DAY}&to={LAST_DAY}")


def in_browser(code: str, pk: int, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = Server(port)
    base = f"http://127.0.0.1:{port}"
    pages = {"100 points": "?last=100",
             "1,000 points": f"?from={LAST_DAY}&to={LAST_DAY}",
             "10,000 points": "?last=all"}
    out: dict[str, list[float]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            for label, query in pages.items():
                url = f"{base}/p/{code}/c/{pk}/{query}"
                page.goto(url)  # warm: static files cached, as for a user's second page
                page.wait_for_selector("#control-chart[data-ready]", timeout=60_000)
                times = []
                for _ in range(repeat):
                    page.goto(url)
                    page.wait_for_selector("#control-chart[data-ready]", timeout=60_000)
                    # chart.js notes when the chart is drawn and listening, from navigation start
                    times.append(page.evaluate("window.openspcChartReady") / 1000)
                out[label] = times
                drawn = page.evaluate("document.getElementById('control-chart').data"
                                      ".find(t => t.meta.series === 'p.value').x.length")
                say(f"{label}: {drawn:,} points drawn")
            if errors:
                say(f"page errors: {errors}")
            browser.close()
    finally:
        server.stop()
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} ms (p95 {np.percentile(values, 95) * 1000:,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    fresh_django(own_database("chart", args.db), TIME_ZONE="UTC")
    code, pk = build()
    render = server_side(code, pk, args.repeat)
    browser = in_browser(code, pk, args.repeat)
    from django.db import connection

    print(f"\nChart page — {machine()}, {connection.vendor}, revision {revision()}\n")
    print("| points | server render (median, p95) | interactive in Chromium (median, p95) |")
    print("| ---: | ---: | ---: |")
    for (points, times), (_label, loaded) in zip(render.items(), browser.items(), strict=True):
        print(f"| {points:,} | {ms(times)} | {ms(loaded)} |")
    thousand, tenk = render[1000], browser["10,000 points"]
    print(f"\ntargets: 1,000 points rendered < 150 ms: "
          f"{'met' if statistics.median(thousand) < 0.150 else 'NOT met'}; "
          f"1,000 interactive < 1 s: "
          f"{'met' if statistics.median(browser['1,000 points']) < 1 else 'NOT met'}; "
          f"10,000 interactive < 2 s: {'met' if statistics.median(tenk) < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
