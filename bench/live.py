"""The live channel: 100 pages watching one characteristic, a sample posted through the API —
how long until each page has its `points` message. Prints figures.

    .venv/bin/python bench/live.py                      # every setup below, one after the other
    .venv/bin/python bench/live.py --setup memory       # one of them
    .venv/bin/python bench/live.py --rounds 50 --clients 100 --users 100

Setups (each in a database of its own, recreated on every run):

* memory  — the embedded default: SQLite, the in-memory channel layer, one web process;
* redis   — PostgreSQL and channels-redis, one web process;
* redis-2 — PostgreSQL and channels-redis, two web processes: the pages on one, the samples
            posted to the other (as behind a load balancer).

Each run migrates, creates a plant with an I-MR characteristic (established limits, a short
history), `--users` operators with a session each, and starts uvicorn serving openspc.asgi as
`make run` does (access log off, permessage-deflate on as browsers ask for it). `--clients`
WebSocket clients (the `websockets` library, one asyncio loop in this process) log in with the
sessions in turn, subscribe to the characteristic as live.js does and answer nothing. Then, one
at a time, `--rounds` in-control samples are posted through the REST API, and for each the time
from sending the request to each client's `points` message of that sample is taken. Reported:
median, p95 and max over every (sample, client) pair, the median and max time until the last
of the clients had it, and the POST's own time (which includes building and storing the
message). Targets: every client within 500 ms, median < 100 ms. Speed is never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import Server, free_port, machine, migrate, prepare_database, revision, say  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
SETUPS = {
    "memory": {"OPENSPC_DATABASE_URL": "sqlite:////tmp/bench_live/openspc.sqlite3",
               "OPENSPC_DATA_DIR": "/tmp/bench_live"},
    "redis": {"OPENSPC_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/openspc_bench_live",
              "OPENSPC_DATA_DIR": "/tmp/bench_live-pg", "OPENSPC_REDIS_URL": REDIS_URL},
    "redis-2": {"OPENSPC_DATABASE_URL":
                "postgresql://postgres@127.0.0.1:5432/openspc_bench_live",
                "OPENSPC_DATA_DIR": "/tmp/bench_live-pg", "OPENSPC_REDIS_URL": REDIS_URL},
}
LABELS = {
    "memory": "SQLite, in-memory layer, one web process",
    "redis": "PostgreSQL, channels-redis, one web process",
    "redis-2": "PostgreSQL, channels-redis, two web processes (pages on one, samples to the other)",
}
WITHIN_S, MEDIAN_S = 0.5, 0.1


def build(users: int) -> dict:
    """A plant, an I-MR characteristic with limits and 100 samples, `users` operators with a
    session each, and an API token to post with."""
    from datetime import UTC, datetime, timedelta

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from plants.grants import grant_role
    from plants.models import Level, Node, Plant
    from plants.roles import Role
    from spc import limit_versions
    from spc.models import Characteristic, ChartType
    from spc.pipeline import record_samples
    from spc.sample_input import SampleRequest

    plant = Plant.objects.create(code="LIVE", name="Live bench plant")
    node = Node.objects.create(plant=plant, name="Line", level=Level.LINE)
    ch = Characteristic.objects.create(plant=plant, node=node, name="Bore", unit="mm",
                                       chart_type=ChartType.IMR, subgroup_size=1)
    start = datetime.now(UTC) - timedelta(hours=2)
    limit_versions.manual(ch, None, "bench", center=10.0, sigma=0.01,
                          effective_from=start - timedelta(days=1))
    rng = np.random.default_rng(7)
    record_samples(ch, [SampleRequest(values=[round(float(x), 5)],
                                      timestamp=start + i * timedelta(seconds=30))
                        for i, x in enumerate(rng.normal(10.0, 0.01, 100))])
    sessions = []
    backend = "django.contrib.auth.backends.ModelBackend"
    for i in range(users):
        user = get_user_model().objects.create_user(f"viewer{i}", password=None)
        grant_role(user, plant, Role.OPERATOR)
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), backend
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append(store.session_key)
    poster = get_user_model().objects.create_user("poster", password=None)
    grant_role(poster, plant, Role.OPERATOR)
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    return {"characteristic": ch.pk, "sessions": sessions,
            "token": Token.objects.create(user=poster).key}


class Pages:
    """`count` WebSocket clients subscribed to one characteristic, noting when each one's
    `points` message of each sample arrives."""

    def __init__(self, port: int, made: dict, count: int):
        self.port, self.made, self.count = port, made, count
        self.arrived: dict[int, list[float]] = {}
        self.sockets = []

    async def open(self):
        from websockets.asyncio.client import connect

        sessions = self.made["sessions"]
        for i in range(self.count):
            ws = await connect(f"ws://127.0.0.1:{self.port}/ws/live/",
                               origin=f"http://127.0.0.1:{self.port}", proxy=None,
                               additional_headers={"Cookie":
                                                   f"sessionid={sessions[i % len(sessions)]}"},
                               max_size=2**24, open_timeout=30)
            await ws.send(json.dumps({"subscribe": {"plant": "LIVE", "characteristics":
                                                    [self.made["characteristic"]]},
                                      "since": None}))
            await ws.send('{"ping": true}')
            if json.loads(await ws.recv())["kind"] != "pong":
                raise SystemExit("a page was not subscribed")
            self.sockets.append(ws)
        self.readers = [asyncio.ensure_future(self._read(ws)) for ws in self.sockets]

    async def _read(self, ws):
        async for text in ws:
            now = time.perf_counter()
            message = json.loads(text)
            if message.get("kind") == "points":
                for sample_id in message["data"]["sample_id"]:
                    self.arrived.setdefault(sample_id, []).append(now)

    async def wait_for(self, sample_id: int, timeout: float = 10) -> list[float]:
        deadline = time.monotonic() + timeout
        while len(self.arrived.get(sample_id, ())) < self.count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.002)
        return self.arrived.get(sample_id, [])

    async def close(self):
        for reader in self.readers:
            reader.cancel()
        for ws in self.sockets:
            await ws.close()


def post_sample(port: int, made: dict, value: float) -> tuple[float, float, int]:
    """(sent at, the request's time, the new sample's id) — perf_counter seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"values": [value]})
    sent = time.perf_counter()
    conn.request("POST", f"/api/v1/characteristics/{made['characteristic']}/samples/",
                 body=body, headers={"Authorization": f"Token {made['token']}",
                                     "Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    took = time.perf_counter() - sent
    conn.close()
    if response.status != 201:
        raise SystemExit(f"POST answered {response.status}: {payload[:300]!r}")
    return sent, took, json.loads(payload)["id"]


async def measure(pages_port: int, post_port: int, made: dict, clients: int, rounds: int,
                  pause: float) -> dict:
    pages = Pages(pages_port, made, clients)
    t = time.perf_counter()
    await pages.open()
    say(f"{clients} pages connected and subscribed in {time.perf_counter() - t:.1f} s")
    loop = asyncio.get_running_loop()
    rng = np.random.default_rng(11)
    latencies, last, posts, missing = [], [], [], 0
    for _ in range(rounds):
        value = round(float(rng.normal(10.0, 0.01)), 5)
        sent, took, sample_id = await loop.run_in_executor(None, post_sample, post_port, made,
                                                           value)
        arrivals = await pages.wait_for(sample_id)
        missing += clients - len(arrivals)
        times = [a - sent for a in arrivals]
        latencies += times
        last.append(max(times) if times else float("nan"))
        posts.append(took)
        await asyncio.sleep(pause)
    await pages.close()
    return {"latencies": latencies, "last": last, "posts": posts, "missing": missing}


def child(setup: str, args) -> None:
    """One setup, in a process of its own (settings are read once per process)."""
    os.environ.update(SETUPS[setup])
    os.environ.update({"DJANGO_SETTINGS_MODULE": "openspc.settings", "OPENSPC_SIMULATOR": "false",
                       "OPENSPC_LOG_LEVEL": "WARNING", "OPENSPC_ALLOWED_HOSTS": "127.0.0.1"})
    Path(os.environ["OPENSPC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    prepare_database(recreate=True)
    migrate()
    import django

    django.setup()
    made = build(args.users)
    from django.db import connection

    vendor = connection.vendor
    connection.close()
    servers = [Server(free_port()) for _ in range(2 if setup == "redis-2" else 1)]
    try:
        result = asyncio.run(measure(servers[0].port, servers[-1].port, made, args.clients,
                                     args.rounds, args.pause))
    finally:
        for server in servers:
            server.stop()
    result.update(setup=setup, database=vendor, clients=args.clients, users=args.users,
                  rounds=args.rounds)
    print(json.dumps(result))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def row(r: dict) -> str:
    lat, last = np.array(r["latencies"]), np.array(r["last"])
    met = (lat.size == r["clients"] * r["rounds"] and lat.max() < WITHIN_S
           and np.median(lat) < MEDIAN_S)
    return (f"| {LABELS[r['setup']]} | {r['clients']} / {r['users']} | {r['rounds']} | "
            f"{ms(np.median(lat))} | {ms(np.percentile(lat, 95))} | {ms(lat.max())} | "
            f"{ms(np.median(last))} / {ms(last.max())} | {ms(statistics.median(r['posts']))} | "
            f"{r['missing']} | {'met' if met else 'NOT met'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=sorted(SETUPS), action="append")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--users", type=int, default=100, help="distinct users of the clients")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.setup[0], args)
        return
    results = []
    for setup in args.setup or list(SETUPS):
        say(f"--- {setup}")
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--setup", setup, "--clients",
             str(args.clients), "--users", str(args.users), "--rounds", str(args.rounds),
             "--pause", str(args.pause)], cwd=ROOT, check=True, stdout=subprocess.PIPE,
            text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"\nLive channel — {machine()}, revision {revision()}\n")
    print("| setup | clients / users | samples | median | p95 | max | last client: median / "
          "max | POST (median) | not received | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(row(r))
    print(f"\ntarget: every client within {ms(WITHIN_S)}, median < {ms(MEDIAN_S)}")


if __name__ == "__main__":
    main()
