"""A kiosk left open: does its memory stay flat while samples keep arriving?

    .venv/bin/python bench/kiosk.py                      # 3,600 samples, 10 per second
    .venv/bin/python bench/kiosk.py --samples 36000 --rate 1    # ten hours, for real

On a database of its own (/tmp/bench_kiosk, recreated), four I-MR characteristics on one line
with 100 samples of history each, and a kiosk link for the line. uvicorn serves the app as
`make run` does (the in-memory channel layer); Debian's headless Chromium opens the kiosk
through the link (no login), then samples are posted through the REST API round-robin at
`--rate` per second — an hour of one sample a second, by default compressed to six minutes.
Every tenth of the run the page's JavaScript heap is measured after a forced garbage
collection (Chrome DevTools Protocol), with the DOM node count and the points each chart
holds. Flat means: the last measurement within 10 % of the one after warm-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import Server, free_port, fresh_django, machine, own_database, revision, say  # noqa: E402


def build() -> tuple[str, list[int], str]:
    """(kiosk path with its key, characteristic ids, API token)."""
    from datetime import timedelta

    import numpy as np
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from plants import kiosk
    from plants.grants import grant_role
    from plants.models import Level, Node, Plant
    from plants.roles import Role
    from spc import limit_versions
    from spc.models import Characteristic, ChartType
    from spc.pipeline import record_samples
    from spc.sample_input import SampleRequest

    plant = Plant.objects.create(code="KIOSK", name="Kiosk bench")
    line = Node.objects.create(plant=plant, name="Line 1", level=Level.LINE)
    rng = np.random.default_rng(3)
    start = timezone.now() - timedelta(hours=2)
    ids = []
    for i in range(4):
        ch = Characteristic.objects.create(plant=plant, node=line, name=f"Gauge {i + 1}",
                                           chart_type=ChartType.IMR, subgroup_size=1)
        limit_versions.manual(ch, None, "bench", center=10.0, sigma=1.0,
                              effective_from=start - timedelta(minutes=1))
        record_samples(ch, [SampleRequest(values=[float(v)], timestamp=start + timedelta(minutes=k))
                            for k, v in enumerate(rng.normal(10, 1, 100).round(3))])
        ids.append(ch.pk)
    link, key = kiosk.issue(line, "Bench wall")
    from django.contrib.auth import get_user_model

    machine_user = get_user_model().objects.create_user("kiosk-bench")
    grant_role(machine_user, plant, Role.OPERATOR)
    return kiosk.path_for(link, key), ids, Token.objects.create(user=machine_user).key


def post(port: int, token: str, ch: int, value: float) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/characteristics/{ch}/samples/",
        data=json.dumps({"values": [value]}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def measure(page, cdp) -> dict:
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")
    counts = page.evaluate("""() => ({
        nodes: document.getElementsByTagName('*').length,
        points: (window.openspcCharts || []).map(c => {
            const t = c.el.data.find(t => t.meta.series === 'p.value');
            return t ? t.x.length : 0;
        })})""")
    return {"heap_mb": heap["usedSize"] / 2**20, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3600)
    parser.add_argument("--rate", type=float, default=10.0, help="samples per second")
    args = parser.parse_args()
    fresh_django(own_database("kiosk", "sqlite"))
    path, ids, token = build()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = Server(port)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}{path}&rotate=600&points=60")
            page.wait_for_selector("[data-live-status][data-state='live']", timeout=30_000)
            cdp = page.context.new_cdp_session(page)
            cdp.send("HeapProfiler.enable")
            step = max(1, args.samples // 10)
            t0 = time.perf_counter()
            for i in range(args.samples):
                post(port, token, ids[i % len(ids)], 10.0 + ((i * 7919) % 200 - 100) / 60)
                due = t0 + (i + 1) / args.rate
                if (i + 1) % step == 0:
                    page.wait_for_timeout(300)  # the last messages drawn
                    rows.append({"samples": i + 1, **measure(page, cdp)})
                    say(f"{i + 1:,} samples: {rows[-1]['heap_mb']:.1f} MB heap, "
                        f"{rows[-1]['nodes']:,} DOM nodes, points {rows[-1]['points']}")
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            if errors:
                say(f"page errors: {errors}")
            browser.close()
    finally:
        server.stop()
    print(f"\nKiosk memory — {machine()}, revision {revision()}, {args.samples:,} samples at "
          f"{args.rate:g}/s over 4 charts of 60 points\n")
    print("| samples | JS heap (MB, after GC) | DOM nodes | points per chart |")
    print("| ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['samples']:,} | {r['heap_mb']:.1f} | {r['nodes']:,} | {r['points']} |")
    if len(rows) >= 3:
        warm, last = rows[1]["heap_mb"], rows[-1]["heap_mb"]
        change = (last - warm) / warm
        print(f"\nheap from {rows[1]['samples']:,} to {rows[-1]['samples']:,} samples: "
              f"{change:+.1%} — {'flat' if abs(change) <= 0.10 else 'NOT flat'}")


if __name__ == "__main__":
    main()
