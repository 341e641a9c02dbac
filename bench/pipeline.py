"""Benchmark of the sample pipeline, the REST API, chart data and recalculation. Prints figures.

    .venv/bin/python bench/pipeline.py --db sqlite        # embedded default, /tmp/bench
    .venv/bin/python bench/pipeline.py --db postgresql    # postgresql://…/openspc_bench
    .venv/bin/python bench/pipeline.py --db sqlite --markdown   # the docs/performance.md table

or with the product's own variables (OPENSPC_DATABASE_URL, OPENSPC_DATA_DIR) set and no --db.

It migrates the database, loads a history of 1,000 characteristics × 10,000 samples straight
into the tables (bench/_load.py: resumable, skipped once loaded; `--scale 0.1` loads 100
characteristics), starts the web server (uvicorn, as `make run` does) on a free port of 127.0.0.1 with the same settings, logs in an
Engineer for a token, and measures through the real server with keep-alive `http.client`
connections:

* one sample per request, one client, sequential (target ≥ 200 samples/s, p99 < 25 ms);
* one sample per request, 8 concurrent clients (≥ 200 samples/s in total, p99 < 100 ms);
* the bulk endpoint, 1,000 samples per request, rules evaluated (≥ 3,000 samples/s);
* chart-data for the last 1,000 (< 70 ms) and 10,000 points (< 300 ms), also in-process;
* recalculation over the last 3,000 samples (< 50 ms), in-process and through the API.

Every loop is bounded by a count and a time. Speed is never asserted; targets are printed with
a verdict: the API rows on the rate and p99 the targets name, chart-data and recalculation on
the median. chart-data reads each characteristic twice: the first read (cold: what the OS has
not cached comes from disk) and a repeat (warm); GET /health and the same POST through Django's
test client in-process show how much of a request is the server's.
`--diagnose` adds query counts and a cProfile of one request of each kind (in-process).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import platform
import pstats
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PRESETS = {
    "sqlite": {"OPENSPC_DATABASE_URL": "sqlite:////tmp/bench/openspc.sqlite3",
               "OPENSPC_DATA_DIR": "/tmp/bench"},
    "postgresql": {"OPENSPC_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/openspc_bench",
                   "OPENSPC_DATA_DIR": "/tmp/bench-pg"},
}
FORBIDDEN_PG = {"openspc", "test_openspc"}  # the test suite's databases
USERNAME = "bench-engineer"
TARGETS = {
    "single": "≥ 200/s, p99 < 25 ms",
    "concurrent": "≥ 200/s, p99 < 100 ms",
    "bulk": "≥ 3,000 samples/s",
    "chart1000": "< 70 ms",
    "chart10000": "< 300 ms",
    "recalc": "< 50 ms",
}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- database preparation (before Django is set up) ------------------------------------------

def configure_env(args) -> None:
    if args.db:
        os.environ.update(PRESETS[args.db])
    url = os.environ.get("OPENSPC_DATABASE_URL")
    if not url:
        raise SystemExit("Give --db sqlite|postgresql or set OPENSPC_DATABASE_URL (never the "
                         "development database: the benchmark writes samples).")
    os.environ.setdefault("OPENSPC_DATA_DIR", "/tmp/bench")
    os.environ.setdefault("OPENSPC_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "openspc.settings"
    Path(os.environ["OPENSPC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)


def prepare_database(recreate: bool) -> None:
    from openspc.env import database_from_url

    url = os.environ["OPENSPC_DATABASE_URL"]
    db = database_from_url(url, 0)
    if db["ENGINE"].endswith("sqlite3"):
        path = Path(db["NAME"])
        if path.resolve() == (ROOT / "var" / "openspc.sqlite3").resolve():
            raise SystemExit("Refusing to benchmark the development database var/openspc.sqlite3.")
        if recreate:
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                p.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    name = db["NAME"]
    if name in FORBIDDEN_PG:
        raise SystemExit(f"Refusing to use the database {name!r}: the test suite uses it.")
    import psycopg

    conninfo = {"host": db["HOST"] or None, "port": db["PORT"] or None,
                "user": db["USER"] or None, "password": db["PASSWORD"] or None,
                "dbname": "postgres"}
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            if not name.startswith("openspc_bench"):
                raise SystemExit(f"--recreate drops only openspc_bench* databases, not {name!r}.")
            say(f"dropping database {name}")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            say(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def own_database(name: str, db: str) -> dict:
    """The environment of a benchmark's own database: SQLite under /tmp/bench_<name>, or the
    PostgreSQL database openspc_bench_<name>."""
    if db == "sqlite":
        return {"OPENSPC_DATABASE_URL": f"sqlite:////tmp/bench_{name}/openspc.sqlite3",
                "OPENSPC_DATA_DIR": f"/tmp/bench_{name}"}
    return {"OPENSPC_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/openspc_bench_{name}",
            "OPENSPC_DATA_DIR": f"/tmp/bench_{name}-pg"}


def fresh_django(env: dict, **settings: str) -> None:
    """Django set up on `env`'s database, recreated and migrated, as a web process of the
    product would see it (no simulator, served at 127.0.0.1), with OPENSPC_<name> = value for
    each of `settings`."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openspc.settings")
    os.environ.update(OPENSPC_SIMULATOR="false", OPENSPC_ALLOWED_HOSTS="127.0.0.1,localhost")
    os.environ.update({f"OPENSPC_{k}": v for k, v in settings.items()})
    Path(os.environ["OPENSPC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    prepare_database(recreate=True)
    migrate()
    import django

    django.setup()


def migrate() -> None:
    t = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
                   check=True, cwd=ROOT, env=os.environ.copy())
    say(f"migrate: {time.perf_counter() - t:.1f} s")


# --- the server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The web server as `make run` starts it (uvicorn, openspc.asgi) on 127.0.0.1 with the
    benchmark's environment, without its access log; stopped by its own pid."""

    def __init__(self, port: int):
        self.port = port
        self.log = Path(os.environ["OPENSPC_DATA_DIR"]) / "server.log"
        env = os.environ.copy()
        env["OPENSPC_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "uvicorn"), "--host", "127.0.0.1", "--port", str(port),
             "--lifespan", "off", "--no-access-log", "openspc.asgi:application"],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer /health within 60 s; see {self.log}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body=None, form: bool = False):
        """(status, response bytes, seconds from sending to the last byte read)."""
        headers = dict(self.headers)
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        else:
            data = None
        for attempt in (0, 1):
            t = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                return resp.status, payload, time.perf_counter() - t
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


# --- set-up inside the benchmark process -----------------------------------------------------

def bench_user():
    """The Engineer the benchmark logs in as, with a fresh password each run."""
    from _load import BENCH_PLANT
    from axes.utils import reset
    from django.contrib.auth import get_user_model

    from plants.grants import grant_role
    from plants.models import Plant
    from plants.roles import Role

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=USERNAME)
    password = secrets.token_urlsafe(18)
    user.set_password(password)
    user.save()
    grant_role(user, Plant.objects.get(code=BENCH_PLANT), Role.ENGINEER)
    reset(username=USERNAME)
    return user, password


def login(port: int, password: str) -> str:
    status, body, _ = Client(port).request(
        "POST", "/api/v1/auth/token/", {"username": USERNAME, "password": password}, form=True)
    if status != 200:
        raise SystemExit(f"login failed ({status}): {body[:300]!r}")
    return json.loads(body)["token"]


class Generator:
    """In-control samples for each characteristic, from its active limits.

    Each run draws afresh (the seed is the clock's unless given): with one fixed seed every run
    appended the same few values to the same characteristics, and after a few runs their
    histories were runs of repeated values that fired rules 2, 4 and 7 on most samples."""

    def __init__(self, chars, seed: int | None = None):
        from spc.models import ControlLimits

        active = {v.characteristic_id: v for v in ControlLimits.objects.filter(
            characteristic__in=chars, is_active=True)}
        self.params = {ch.pk: (ch.chart_type, ch.subgroup_size, active[ch.pk].center,
                               active[ch.pk].sigma) for ch in chars}
        self.seed = time.time_ns() if seed is None else seed
        self.rng = random.Random(self.seed)

    def payload(self, pk: int) -> dict:
        kind, n, center, sigma = self.params[pk]
        if kind == "p":
            size = self.rng.randint(80, 120)
            count = sum(self.rng.random() < center for _ in range(size))
            return {"count": count, "sample_size": size}
        k = 1 if kind == "imr" else n
        return {"values": [round(self.rng.gauss(center, sigma), 3) for _ in range(k)]}


def percentiles(times: list[float]) -> dict:
    if not times:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"),
                "max": float("nan"), "n": 0}
    s = sorted(times)

    def pct(q: float) -> float:
        return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]

    return {"p50": statistics.median(s), "p95": pct(0.95), "p99": pct(0.99), "max": s[-1],
            "n": len(s)}


# --- the measurements ------------------------------------------------------------------------

def run_single(port, token, server, gen, pks, count, seconds, label="single"):
    client = Client(port, token)
    times, errors = [], 0
    order = list(pks)
    random.Random(1).shuffle(order)
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    for i in range(count):
        if time.perf_counter() - t0 > seconds:
            break
        pk = order[i % len(order)]
        status, body, dt = client.request("POST", f"/api/v1/characteristics/{pk}/samples/",
                                          gen.payload(pk))
        if status != 201:
            errors += 1
            if errors <= 3:
                say(f"{label}: {status} {body[:200]!r}")
            continue
        times.append(dt)
    wall = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    client.close()
    return {"rate": len(times) / wall, "wall": wall, "errors": errors,
            "server_cpu_ms": 1e3 * cpu / max(1, len(times) + errors), **percentiles(times)}


def run_concurrent(port, token, server, gen, pks, clients, count, seconds):
    order = list(pks)
    random.Random(2).shuffle(order)
    # each client gets its own characteristics, as machines would
    shares = [order[i::clients] for i in range(clients)]
    payloads = [[(pk, gen.payload(pk)) for pk in (share * (count // len(share) + 1))[
        :count // clients]] for share in shares]
    times: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def work(i: int) -> None:
        client = Client(port, token)
        client.request("GET", "/health")
        barrier.wait()
        for pk, body in payloads[i]:
            if time.perf_counter() > stop_at[0]:
                break
            status, resp, dt = client.request("POST", f"/api/v1/characteristics/{pk}/samples/",
                                              body)
            if status == 201:
                times[i].append(dt)
            else:
                errors[i] += 1
                if errors[i] <= 2:
                    say(f"concurrent: {status} {resp[:200]!r}")
        client.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    barrier.wait()
    for t in threads:
        t.join(seconds + 120)
    wall = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    flat = [x for ts in times for x in ts]
    return {"rate": len(flat) / wall, "wall": wall, "errors": sum(errors),
            "server_cpu_ms": 1e3 * cpu / max(1, len(flat)), **percentiles(flat)}


def run_health(port, server, count, seconds):
    """GET /health: the cost of a request through the server and Django with one trivial query."""
    client = Client(port)
    times = []
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    for _ in range(count):
        if time.perf_counter() - t0 > seconds:
            break
        status, _body, dt = client.request("GET", "/health")
        if status == 200:
            times.append(dt)
    cpu = server.cpu_seconds() - cpu0
    client.close()
    return {"server_cpu_ms": 1e3 * cpu / max(1, len(times)), **percentiles(times)}


def run_inprocess(token, gen, pks, count, seconds):
    """One sample per request through Django's test client in this process: the same view,
    middleware and pipeline without the ASGI server (and with one persistent DB connection)."""
    from django.test import Client as DjangoClient
    from django.test.utils import override_settings

    times = []
    order = list(pks)
    random.Random(3).shuffle(order)
    with override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        client = DjangoClient(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
        t0 = time.perf_counter()
        for i in range(count):
            if time.perf_counter() - t0 > seconds:
                break
            pk = order[i % len(order)]
            t = time.perf_counter()
            resp = client.post(f"/api/v1/characteristics/{pk}/samples/",
                               data=json.dumps(gen.payload(pk)), content_type="application/json")
            if resp.status_code == 201:
                times.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
    return {"rate": len(times) / wall, **percentiles(times)}


def db_connections() -> int | None:
    """Server connections open to the benchmark database (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cur.fetchone()[0]


def run_bulk(port, token, server, gen, pks, per_request, requests, seconds):
    from django.db.models import Max

    from spc.models import Sample

    client = Client(port, token)
    times, sizes, violations, errors = [], [], 0, 0
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    for i in range(requests):
        if time.perf_counter() - t0 > seconds:
            break
        pk = pks[i % len(pks)]
        now = datetime.now(UTC)
        last = Sample.objects.filter(characteristic_id=pk).aggregate(t=Max("timestamp"))["t"]
        start = max(now - timedelta(seconds=per_request), last + timedelta(milliseconds=1))
        step = (now - timedelta(milliseconds=1) - start) / per_request
        rows = [{**gen.payload(pk), "timestamp": (start + step * (r + 1)).isoformat()}
                for r in range(per_request)]
        status, body, dt = client.request("POST", f"/api/v1/characteristics/{pk}/samples/bulk/",
                                          {"samples": rows})
        if status != 201:
            errors += 1
            say(f"bulk: {status} {body[:300]!r}")
            continue
        result = json.loads(body)
        violations += result["violations"]
        times.append(dt)
        sizes.append(result["created"])
    cpu = server.cpu_seconds() - cpu0
    client.close()
    total = sum(times)
    return {"rate": sum(sizes) / total if total else 0.0, "requests": len(times),
            "samples": sum(sizes), "violations": violations, "errors": errors,
            "server_cpu_ms": 1e3 * cpu / max(1, len(times)), **percentiles(times)}


def run_chart(port, token, chars_by_kind, last, per_kind, seconds):
    """Each characteristic twice through the server — the first read of its history (cold:
    whatever the OS has not cached must come from disk) and again (warm) — then in-process:
    chart_data() and its rendering as the view does it (orjson)."""
    from spc.api.renderers import ORJSONRenderer
    from spc.chart_data import chart_data

    client = Client(port, token)
    out = {"cold": [], "http": [], "service": [], "render": [], "bytes": [], "by_kind": {}}
    t0 = time.perf_counter()
    for kind, chars in chars_by_kind.items():
        kt = []
        for ch in chars[:per_kind]:
            if time.perf_counter() - t0 > seconds:
                break
            path = f"/api/v1/characteristics/{ch.pk}/chart-data/?last={last}"
            status, body, cold = client.request("GET", path)
            status2, body, dt = client.request("GET", path)
            if status != 200 or status2 != 200:
                say(f"chart-data: {status} {body[:200]!r}")
                continue
            out["cold"].append(cold)
            out["http"].append(dt)
            out["bytes"].append(len(body))
            kt.append(dt)
            t = time.perf_counter()
            data = chart_data(ch, last=last)
            out["service"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ORJSONRenderer().render(data)
            out["render"].append(time.perf_counter() - t)
        out["by_kind"][kind] = statistics.median(kt) if kt else float("nan")
    client.close()
    return out


def run_recalc(port, token, user, chars, reps, seconds):
    from spc.limit_versions import calculate, recalculate

    client = Client(port, token)
    out = {}
    for ch in chars:
        res = {"calculate": [], "recalculate": [], "api": []}
        t0 = time.perf_counter()
        calculate(ch, last_n=3000)  # warm-up
        for _ in range(reps):
            if time.perf_counter() - t0 > seconds:
                break
            t = time.perf_counter()
            calculate(ch, last_n=3000)
            res["calculate"].append(time.perf_counter() - t)
            t = time.perf_counter()
            recalculate(ch, user, "bench: in-process", last_n=3000)
            res["recalculate"].append(time.perf_counter() - t)
            status, body, dt = client.request(
                "POST", f"/api/v1/characteristics/{ch.pk}/limits/recalculate/",
                {"last_n": 3000, "reason": "bench"})
            if status != 201:
                say(f"recalculate: {status} {body[:200]!r}")
                continue
            res["api"].append(dt)
        out[ch.chart_type] = res
    client.close()
    return out


# --- diagnosis: queries and profile of one request of each kind (in-process) -----------------

def diagnose(token: str, gen, single_pk: int, bulk_pk: int, chart_pk: int, recalc_pk: int):
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext, override_settings

    auth = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_HOST": "127.0.0.1"}
    cases = [
        ("POST one sample", "post", f"/api/v1/characteristics/{single_pk}/samples/",
         lambda: gen.payload(single_pk)),
        ("POST bulk 1,000", "post", f"/api/v1/characteristics/{bulk_pk}/samples/bulk/",
         lambda: {"samples": [{**gen.payload(bulk_pk),
                               "timestamp": (datetime.now(UTC) - timedelta(milliseconds=999 - i))
                               .isoformat()} for i in range(1000)]}),
        ("GET chart-data last=1000", "get",
         f"/api/v1/characteristics/{chart_pk}/chart-data/?last=1000", None),
        ("GET chart-data last=10000", "get",
         f"/api/v1/characteristics/{chart_pk}/chart-data/?last=10000", None),
        ("POST recalculate last_n=3000", "post",
         f"/api/v1/characteristics/{recalc_pk}/limits/recalculate/",
         lambda: {"last_n": 3000, "reason": "bench: diagnose"}),
    ]
    with override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        client = DjangoClient(**auth)
        for name, method, path, body in cases:
            for _ in range(3):  # warm-up
                _call(client, method, path, body)
            with CaptureQueriesContext(connection) as q:
                t = time.perf_counter()
                status = _call(client, method, path, body)
                dt = time.perf_counter() - t
            print(f"\n### {name}: HTTP {status}, {dt * 1e3:.1f} ms in-process, "
                  f"{len(q.captured_queries)} queries, "
                  f"{sum(float(x['time']) for x in q.captured_queries) * 1e3:.1f} ms in SQL")
            for x in q.captured_queries:
                print(f"  {float(x['time']) * 1e3:7.2f} ms  {x['sql'][:220]}")
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(5):
                _call(client, method, path, body)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
            print("\n".join(buf.getvalue().splitlines()[:60]))


def _call(client, method, path, body):
    if method == "get":
        return client.get(path).status_code
    data = body() if body else {}
    return client.post(path, data=json.dumps(data), content_type="application/json").status_code


# --- report ----------------------------------------------------------------------------------

def ms(x: float) -> str:
    if x != x:
        return "—"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def under(seconds: float, limit: float) -> bool:
    """Below the limit as printed (to 0.1 ms), so a printed 50.0 ms never reads as met."""
    return round(seconds * 1e3, 1) < limit * 1e3


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table_rows(r: dict) -> list[list[str]]:
    rows = []
    h = r.get("health")
    if h and h["n"]:
        rows.append(["GET /health (server overhead: uvicorn + Django + 1 query)", "", "",
                     ms(h["p50"]), ms(h["p95"]), ms(h["p99"]), ms(h["max"]), "",
                     f"server CPU {h['server_cpu_ms']:.1f} ms/request"])
    s = r["single"]
    if s["n"]:
        rows.append(["one sample per request, 1 client", TARGETS["single"], f"{s['rate']:.0f}/s",
                     ms(s["p50"]), ms(s["p95"]), ms(s["p99"]), ms(s["max"]),
                     verdict(s["rate"] >= 200 and under(s["p99"], 0.025)),
                     f"{s['n']} requests, server CPU {s['server_cpu_ms']:.1f} ms/request"])
    if r.get("inprocess"):
        p = r["inprocess"]
        rows.append(["one sample, in-process (Django test client, no server)", "",
                     f"{p['rate']:.0f}/s", ms(p["p50"]), ms(p["p95"]), ms(p["p99"]), ms(p["max"]),
                     "", "same view and pipeline, one persistent DB connection"])
    c = r["concurrent"]
    if c["n"]:
        conns = r.get("connections")
        rows.append([f"one sample per request, {r['clients']} clients", TARGETS["concurrent"],
                     f"{c['rate']:.0f}/s", ms(c["p50"]), ms(c["p95"]), ms(c["p99"]),
                     ms(c["max"]), verdict(c["rate"] >= 200 and under(c["p99"], 0.100)),
                     f"{c['n']} requests, server CPU {c['server_cpu_ms']:.1f} ms/request"
                     + (f"; {conns} PostgreSQL connections open after it" if conns else "")])
    b = r["bulk"]
    if b["requests"]:
        rows.append(["bulk, 1,000 samples per request, rules evaluated", TARGETS["bulk"],
                     f"{b['rate']:,.0f}/s", ms(b["p50"]), ms(b["p95"]), "—", ms(b["max"]),
                     verdict(b["rate"] >= 3000),
                     f"{b['requests']} requests, {b['violations']} violations raised"])
    for last, key, limit in ((1000, "chart1000", 0.070), (10000, "chart10000", 0.300)):
        ch = r[key]
        if not ch["http"]:
            continue
        p, cold = percentiles(ch["http"]), percentiles(ch.get("cold", []))
        kinds = ", ".join(f"{k} {ms(v)}" for k, v in ch["by_kind"].items())
        size = statistics.median(ch["bytes"]) / 1e6
        if cold["n"]:
            rows.append([f"chart-data last={last:,}, first read (cold), HTTP", TARGETS[key], "",
                         ms(cold["p50"]), ms(cold["p95"]), "—", ms(cold["max"]),
                         verdict(under(cold["p50"], limit)), f"{cold['n']} characteristics"])
        rows.append([f"chart-data last={last:,}, repeated (warm), HTTP", TARGETS[key], "",
                     ms(p["p50"]), ms(p["p95"]), "—", ms(p["max"]), verdict(under(p["p50"], limit)),
                     f"median by type: {kinds}; {size:.2f} MB JSON"])
        sv, rd = percentiles(ch["service"]), percentiles(ch["render"])
        rows.append([f"chart-data last={last:,}: chart_data() in-process", "", "",
                     ms(sv["p50"]), ms(sv["p95"]), "—", ms(sv["max"]), "",
                     f"+ JSON rendering (orjson) {ms(rd['p50'])} (median)"])
    for kind, res in r["recalc"].items():
        for what, label in (("calculate", "calculate(last_n=3000) in-process"),
                            ("recalculate", "recalculate(last_n=3000) in-process"),
                            ("api", "POST limits/recalculate/ last_n=3000")):
            p = percentiles(res[what])
            rows.append([f"{kind}: {label}", TARGETS["recalc"], "", ms(p["p50"]), ms(p["p95"]),
                         "—", ms(p["max"]), verdict(under(p["p50"], 0.050)), f"{p['n']} runs"])
    return rows


HEAD = ["benchmark", "target", "rate", "p50", "p95", "p99", "max", "verdict", "notes"]


def machine() -> str:
    from engine import cpu_name  # bench/engine.py: this folder is on sys.path when run

    cpu = cpu_name()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def cpu_ticks() -> list[int]:
    """The aggregate `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return [0] * 8


def steal_percent(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests between two cpu_ticks()."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return 100.0 * delta[7] / sum(delta) if sum(delta) else float("nan")


def revision() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            return f"PostgreSQL {cur.fetchone()[0]} ({connection.settings_dict['NAME']})"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} WAL, synchronous=FULL"


def report(r: dict, markdown: bool) -> None:
    rows = table_rows(r)
    size = r["load"]["db_bytes"] / 1e9
    load = r["load"]
    loaded = (f"history loaded in {load['seconds']:.0f} s" if load["loaded"] else
              f"history loaded before ({load['seconds']:.0f} s"
              + (f" on {load['loaded_on']}" if load.get("loaded_on") else "") + ")")
    after_load = load.get("loaded_bytes")
    disk = (f"{after_load / 1e9:.2f} GB on disk after loading, {size:.2f} GB now" if after_load
            else f"{size:.2f} GB on disk")
    head = (f"{r['database']}; {r['characteristics']:,} characteristics × {r['per_char']:,} "
            f"samples ({r['samples']:,} in the database, {disk}); {loaded}; "
            f"{r['date']}, revision {r['revision']}; {machine()}; load average "
            f"{r['loadavg_before']:.1f} before, {r['loadavg_after']:.1f} after; CPU stolen by the "
            f"hypervisor during the run: {r.get('steal', float('nan')):.0f} %.")
    if markdown:
        print(f"### {r['database']}\n\n{head}\n")
        print("| " + " | ".join(HEAD) + " |")
        print("|" + " --- |" * len(HEAD))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    print(head)
    widths = [max(len(HEAD[i]), *(len(row[i]) for row in rows)) for i in range(len(HEAD) - 1)]
    print("  ".join(h.ljust(w) for h, w in zip(HEAD, widths, strict=False)) + "  notes")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


# --- main ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=sorted(PRESETS), help="database preset (else OPENSPC_*)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 1,000 characteristics to load (each keeps 10,000 "
                             "samples, so chart-data and recalculation sizes stay the same)")
    parser.add_argument("--recreate", action="store_true",
                        help="drop the benchmark database (openspc_bench* or the SQLite file) first")
    parser.add_argument("--load-only", action="store_true", help="migrate and load, then stop")
    parser.add_argument("--markdown", action="store_true", help="print a docs/performance.md table")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--from-json", type=Path,
                        help="print the table of a run saved with --json, without running")
    parser.add_argument("--diagnose", action="store_true",
                        help="print queries and a cProfile of one request of each kind")
    parser.add_argument("--requests", type=int, default=2000, help="requests per API phase")
    parser.add_argument("--seconds", type=float, default=60, help="time bound per phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", default="health,single,inprocess,concurrent,bulk,chart,recalc",
                        help="comma-separated phases to run (default: all)")
    args = parser.parse_args()
    if args.from_json:
        report(json.loads(args.from_json.read_text()), args.markdown)
        return

    configure_env(args)
    prepare_database(args.recreate)
    migrate()

    import django

    django.setup()
    import _load

    from spc.models import Characteristic, Sample

    plan = _load.Plan(characteristics=max(20, round(1000 * args.scale)))
    load = _load.load(plan)
    if args.load_only:
        say(f"database size {load['db_bytes'] / 1e9:.2f} GB")
        return
    user, password = bench_user()
    chars = list(Characteristic.objects.filter(plant__code=_load.BENCH_PLANT).order_by("id"))
    by_kind: dict[str, list] = {}
    for ch in chars:
        by_kind.setdefault(ch.chart_type, []).append(ch)
    # disjoint roles so the phases do not disturb each other
    recalc = [by_kind["imr"][0], by_kind["xbar_r"][0]]
    bulk = by_kind["imr"][-4:] + by_kind["xbar_r"][-4:] + by_kind["p"][-2:]
    charts = {k: v[1:11] for k, v in by_kind.items()}  # last=1,000
    charts_10k = {k: v[11:16] for k, v in by_kind.items()}  # last=10,000: other histories
    reserved = {c.pk for c in recalc + bulk
                + [c for d in (charts, charts_10k) for v in d.values() for c in v]}
    writable = [c.pk for c in chars if c.pk not in reserved]
    gen = Generator(chars)

    server = Server(free_port())
    try:
        token = login(server.port, password)
        say(f"server on 127.0.0.1:{server.port}, logged in as {USERNAME}")
        run_single(server.port, token, server, gen, writable, 30, 30, "warm-up")
        results = {"database": database_label(), "characteristics": plan.characteristics,
                   "per_char": plan.samples, "load": load, "clients": args.clients,
                   "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   "revision": revision(), "loadavg_before": os.getloadavg()[0]}
        ticks = cpu_ticks()
        only = set(args.only.split(","))
        empty = {"rate": float("nan"), "server_cpu_ms": float("nan"), "errors": 0,
                 **percentiles([])}
        results["single"] = results["concurrent"] = empty
        results["bulk"] = {**empty, "requests": 0, "violations": 0}
        results["chart1000"] = results["chart10000"] = {"cold": [], "http": [], "service": [],
                                                        "render": [], "bytes": [],
                                                        "by_kind": {}}
        results["recalc"] = {}
        if "health" in only:
            results["health"] = run_health(server.port, server, 300, args.seconds)
        if "single" in only:
            say("phase: one sample per request, 1 client")
            results["single"] = run_single(server.port, token, server, gen, writable,
                                           args.requests, args.seconds)
            say(f"  {results['single']['rate']:.0f}/s p99 {ms(results['single']['p99'])}")
        if "inprocess" in only:
            say("phase: one sample per request, in-process")
            results["inprocess"] = run_inprocess(token, gen, writable, min(args.requests, 500),
                                                 args.seconds)
            say(f"  {results['inprocess']['rate']:.0f}/s p99 {ms(results['inprocess']['p99'])}")
        if "concurrent" in only:
            say(f"phase: one sample per request, {args.clients} clients")
            results["concurrent"] = run_concurrent(server.port, token, server, gen, writable,
                                                   args.clients, args.requests * 2, args.seconds)
            results["connections"] = db_connections()
            say(f"  {results['concurrent']['rate']:.0f}/s p99 "
                f"{ms(results['concurrent']['p99'])}")
        if "bulk" in only:
            say("phase: bulk")
            results["bulk"] = run_bulk(server.port, token, server, gen, [c.pk for c in bulk],
                                       1000, 10, args.seconds)
            say(f"  {results['bulk']['rate']:,.0f} samples/s")
        if "chart" in only:
            for last in (1000, 10000):
                say(f"phase: chart-data last={last}")
                results[f"chart{last}"] = run_chart(
                    server.port, token, charts if last == 1000 else charts_10k, last,
                    10 if last == 1000 else 5, args.seconds)
        if "recalc" in only:
            say("phase: recalculation")
            results["recalc"] = run_recalc(server.port, token, user, recalc, 5, args.seconds)
        results["samples"] = Sample.objects.count()
        results["loadavg_after"] = os.getloadavg()[0]
        results["steal"] = steal_percent(ticks, cpu_ticks())
        if args.diagnose:
            diagnose(token, gen, writable[0], bulk[0].pk, charts["xbar_r"][0].pk, recalc[0].pk)
    finally:
        server.stop()
    report(results, args.markdown)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    if shutil.which("uvicorn", path=str(ROOT / ".venv" / "bin")) is None:
        raise SystemExit("uvicorn is not installed in .venv (make install)")
    main()
