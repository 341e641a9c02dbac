"""History depth: one sample costs the same with 1,000,000 earlier samples as with 100.

    .venv/bin/python bench/history_depth.py --db sqlite        # /tmp/bench_depth
    .venv/bin/python bench/history_depth.py --db postgresql    # openspc_bench_depth
    .venv/bin/python bench/history_depth.py --db sqlite --depth 200000 --markdown

In a database of its own (recreated on every run: SQLite under /tmp/bench_depth, PostgreSQL
database openspc_bench_depth, dropped and created), per chart type — I-MR, X̄-R (n = 5),
p (n = 100), EWMA, CUSUM (each with an established limit version entered by hand,
spc.limit_versions.manual, effective before the first sample) and I-MR in the trial phase (no
limits, never frozen) — one characteristic with `--small` (100) earlier samples and one with
`--depth` (1,000,000). The samples are written straight into the tables in bulk (COPY on
PostgreSQL, executemany on SQLite, one value per minute), then the product judges each
history once (`spc.rejudge.rejudge(ch, None)` + `spc.violations.store`, in one
transaction), which writes the carried state (spc.judging) and the violations; that fill is
timed and printed too (points re-judged per second over a whole history).

Then, in-process through `spc.pipeline.record_samples` (the function every source calls):

* one more sample, `--samples` times per characteristic, small and deep alternately: median,
  p95 and the ratio deep / small (target ≤ 1.5);
* a back-dated sample just after the first sample of each deep history: points re-judged per
  second (the later points of its stage; target ≥ 200,000/s);
* excluding the first sample of each deep history (spc.sample_edits.set_excluded; < 5 s);

both with the time each phase of the re-judge took (`phases`). `--kinds ewma,cusum` measures
only those chart types.

Speed is never asserted; verdicts are printed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import machine, migrate, prepare_database, revision, say  # noqa: E402

PRESETS = {
    "sqlite": {"OPENSPC_DATABASE_URL": "sqlite:////tmp/bench_depth/openspc.sqlite3",
               "OPENSPC_DATA_DIR": "/tmp/bench_depth"},
    "postgresql": {"OPENSPC_DATABASE_URL":
                   "postgresql://postgres@127.0.0.1:5432/openspc_bench_depth",
                   "OPENSPC_DATA_DIR": "/tmp/bench_depth-pg"},
}
KINDS = ("imr", "xbar_r", "p", "ewma", "cusum", "imr_trial")
LABEL = {"imr": "I-MR", "xbar_r": "X̄-R n=5", "p": "p n=100", "ewma": "EWMA", "cusum": "CUSUM",
         "imr_trial": "I-MR, trial phase"}
INTERVAL = timedelta(seconds=60)
OFFSET = timedelta(microseconds=137)  # never a whole second (SQLite text timestamps)
CHUNK = 100_000
MU, SIGMA, P0 = 10.0, 0.05, 0.04


def configure_env(db: str) -> None:
    os.environ.update(PRESETS[db])
    os.environ.setdefault("OPENSPC_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "openspc.settings"
    Path(os.environ["OPENSPC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)


# --- building the histories -------------------------------------------------------------------

def chart_type(kind: str) -> str:
    return "imr" if kind == "imr_trial" else kind


def make_characteristic(node, kind: str, depth: int):
    from spc.models import Characteristic

    ct = chart_type(kind)
    return Characteristic.objects.create(
        plant=node.plant, node=node, name=f"depth-{kind}-{depth}", unit="" if ct == "p" else "mm",
        chart_type=ct, subgroup_size={"xbar_r": 5, "p": 100}.get(ct, 1),
        target=None if ct == "p" else MU,
        usl=None if ct == "p" else MU + 5 * SIGMA, lsl=None if ct == "p" else MU - 5 * SIGMA,
        auto_freeze_after=None)


def establish(ch, kind: str, t0: datetime) -> None:
    from spc import limit_versions

    if kind == "imr_trial":
        return
    before = t0 - timedelta(seconds=1)
    if kind == "p":
        limit_versions.manual(ch, None, "bench", center=P0, effective_from=before)
    else:
        limit_versions.manual(ch, None, "bench", center=MU, sigma=SIGMA, effective_from=before)


def generate(kind: str, k: int, rng) -> dict:
    """Statistics (as spc.sample_input computes them) and values of k samples."""
    ct = chart_type(kind)
    nan = np.full(k, np.nan)
    if ct == "p":
        n = np.full(k, 100)
        return {"n": n, "mean": nan, "range": nan, "sd": nan,
                "count": rng.binomial(100, P0, k).astype(float), "values": None}
    if ct == "xbar_r":
        values = np.round(rng.normal(MU, SIGMA, (k, 5)), 4)
        mean = np.array([math.fsum(r) / 5 for r in values.tolist()])
        sd = np.sqrt(((values - mean[:, None]) ** 2).sum(axis=1) / 4)
        return {"n": np.full(k, 5), "mean": mean, "range": values.max(1) - values.min(1),
                "sd": sd, "count": nan, "values": values}
    values = np.round(rng.normal(MU, SIGMA, k), 4)
    return {"n": np.ones(k, dtype=int), "mean": values.copy(), "range": np.zeros(k), "sd": nan,
            "count": nan, "values": values.reshape(k, 1)}


def _none(x: list) -> list:
    return [None if v != v else v for v in x]


def load(ch, kind: str, depth: int, t0: datetime, rng, next_ids: list[int]) -> float:
    """Write `depth` samples (and their values) straight into the tables; seconds taken."""
    from _load import MEASUREMENT_COLUMNS, SAMPLE_COLUMNS, _q, _table
    from django.db import connection, transaction

    from spc.models import Measurement, Sample

    stab = _table(Sample, SAMPLE_COLUMNS)
    mtab = _table(Measurement, MEASUREMENT_COLUMNS)
    pg = connection.vendor == "postgresql"
    base = np.datetime64(t0.astimezone(UTC).replace(tzinfo=None), "us")
    t = time.perf_counter()
    for a in range(0, depth, CHUNK):
        k = min(CHUNK, depth - a)
        g = generate(kind, k, rng)
        ts = base + np.timedelta64(int(INTERVAL.total_seconds() * 1e6), "us") * np.arange(a, a + k)
        tss = np.datetime_as_string(ts, unit="us").tolist()
        crs = np.datetime_as_string(ts + np.timedelta64(1_500_000, "us"), unit="us").tolist()
        if pg:
            tss, crs = [s + "+00" for s in tss], [s + "+00" for s in crs]
        else:
            tss, crs = [s.replace("T", " ") for s in tss], [s.replace("T", " ") for s in crs]
        sid0 = next_ids[0]
        ids = range(sid0, sid0 + k)
        count = [None if v != v else int(v) for v in g["count"].tolist()]
        rows = [(i, ch.pk, s, n, m, r, d, c, "", "", "", "MANUAL", False, "", cr, None,
                 *stab.defaults)
                for i, s, n, m, r, d, c, cr in zip(ids, tss, g["n"].tolist(),
                                                   _none(g["mean"].tolist()),
                                                   _none(g["range"].tolist()),
                                                   _none(g["sd"].tolist()), count, crs,
                                                   strict=True)]
        mrows = []
        if g["values"] is not None:
            width = g["values"].shape[1]
            mid = next_ids[1]
            for i, vals in zip(ids, g["values"].tolist(), strict=True):
                mrows += [(mid + p, i, p, v, *mtab.defaults) for p, v in enumerate(vals)]
                mid += width
            next_ids[1] = mid
        next_ids[0] = sid0 + k
        with transaction.atomic():
            for tab, data in ((stab, rows), (mtab, mrows)):
                if not data:
                    continue
                cols = ", ".join(map(_q, tab.columns))
                if pg:
                    connection.ensure_connection()
                    with connection.connection.cursor() as cur, \
                            cur.copy(f'COPY "{tab.name}" ({cols}) FROM STDIN') as copy:
                        for row in data:
                            copy.write_row(row)
                else:
                    cur = connection.connection.cursor()
                    cur.executemany(f'INSERT INTO "{tab.name}" ({cols}) VALUES '
                                    f'({", ".join("?" * len(tab.columns))})', data)
                    cur.close()
    return time.perf_counter() - t


def bump_sequences(next_ids: list[int]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows explicit ids
    with connection.cursor() as cur:
        for table, value in (("spc_sample", next_ids[0]), ("spc_measurement", next_ids[1])):
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, value])


def fill(ch) -> tuple[float, int, int]:
    """The product judges the loaded history once: carried state and violations written.
    `rejudge(ch, None)` covers the trial stage only; an established characteristic's history
    lies in its version's stage, judged from the version's `effective_from`.
    (seconds, points judged, live violations)."""
    from spc import rejudge, violations
    from spc.models import Sample

    version = ch.limit_versions.order_by("effective_from").first()
    since = version.effective_from if version is not None else None
    t = time.perf_counter()
    with rejudge.writer_lock(ch) as (locked, _):
        detections, span, _ = rejudge.rejudge(locked, since)
        stored = violations.store(locked, detections, span)
    seconds = time.perf_counter() - t
    return seconds, Sample.objects.filter(characteristic=ch, excluded=False).count(), \
        len(stored.live)


def build(depth: int, small: int, kinds=KINDS) -> dict:
    from plants.models import Level, Node, Plant

    plant = Plant.objects.create(name="Depth bench", code="DEPTH")
    node = Node.objects.create(plant=plant, name="Depth", level=Level.ENTERPRISE)
    now = datetime.now(UTC).replace(microsecond=0)
    next_ids = [1, 1]
    chars, figures = {}, []
    rng = np.random.default_rng(20261202)
    for kind in kinds:
        for size in (small, depth):
            ch = make_characteristic(node, kind, size)
            t0 = now - timedelta(hours=1) - size * INTERVAL + OFFSET
            establish(ch, kind, t0)
            load_s = load(ch, kind, size, t0, rng, next_ids)
            bump_sequences(next_ids)
            fill_s, judged, live = fill(ch)
            chars[(kind, size)] = (ch, t0)
            figures.append({"kind": kind, "size": size, "load_s": load_s, "fill_s": fill_s,
                            "judged": judged, "violations": live})
            say(f"{kind:10} {size:>9,}: loaded in {load_s:.1f} s, judged and state written in "
                f"{fill_s:.1f} s ({judged / fill_s:,.0f} points/s), {live:,} violations")
    _analyze()
    return {"chars": chars, "build": figures}


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("VACUUM (ANALYZE)")  # as autovacuum would have, for index-only scans
        else:
            cur.execute("ANALYZE")


def _built(chars, depth: int) -> list[str]:
    return [kind for kind in KINDS if (kind, depth) in chars]


# --- measuring ---------------------------------------------------------------------------------

def request(kind: str, rng, timestamp=None):
    from spc.sample_input import SampleRequest

    ct = chart_type(kind)
    if ct == "p":
        return SampleRequest(count=int(rng.binomial(100, P0)), sample_size=100,
                             timestamp=timestamp)
    width = 5 if ct == "xbar_r" else 1
    return SampleRequest(values=[round(float(v), 4) for v in rng.normal(MU, SIGMA, width)],
                         timestamp=timestamp)


def one_sample(chars, small: int, depth: int, count: int) -> list[dict]:
    from spc.pipeline import record_samples

    rng = np.random.default_rng(7)
    out = []
    for kind in _built(chars, depth):
        pair = {size: chars[(kind, size)][0] for size in (small, depth)}
        times = {small: [], depth: []}
        for i in range(count + 20):  # 20 warm-up samples each
            for size in ((small, depth) if i % 2 == 0 else (depth, small)):
                t = time.perf_counter()
                record_samples(pair[size], [request(kind, rng)])
                dt = time.perf_counter() - t
                if i >= 20:
                    times[size].append(dt)
        med = {s: statistics.median(v) for s, v in times.items()}
        p95 = {s: sorted(v)[int(0.95 * len(v))] for s, v in times.items()}
        out.append({"kind": kind, "small_ms": med[small] * 1e3, "deep_ms": med[depth] * 1e3,
                    "small_p95_ms": p95[small] * 1e3, "deep_p95_ms": p95[depth] * 1e3,
                    "ratio": med[depth] / med[small], "count": count})
        say(f"one sample {kind:10}: {med[small] * 1e3:.2f} ms with {small} earlier, "
            f"{med[depth] * 1e3:.2f} ms with {depth:,} → ratio {med[depth] / med[small]:.2f}")
    return out


PHASES = (("read", "spc.sample_rows", "stage_rows_from"), ("judge", "spc.evaluation", "judge"),
          ("settle", "spc.rejudge", "settled"), ("state", "spc.sample_rows", "write_state"),
          ("violations", "spc.violations", "store"))


@contextmanager
def phases(into: dict):
    """Seconds spent in each phase of a re-judge (PHASES: the stage's rows read as columns,
    judged, the stored state compared until it settles, the changed state written, the
    violations stored), added up in `into`; whatever else the call took is `other` (the lock,
    the rule window, the edit's own rows, COMMIT and the events after it)."""
    import importlib

    saved = []
    for phase, module_name, name in PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def timed(*args, _original=original, _phase=phase, **kwargs):
            t = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                into[_phase] = into.get(_phase, 0.0) + time.perf_counter() - t

        saved.append((module, name, original))
        setattr(module, name, timed)
    try:
        yield into
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _timed_phases(call) -> tuple[float, dict]:
    spent: dict = {}
    t = time.perf_counter()
    with phases(spent):
        call()
    total = time.perf_counter() - t
    spent["other"] = total - sum(spent.values())
    return total, spent


def back_dated(chars, depth: int) -> list[dict]:
    """A sample dated just after the first one of each deep history, through record_samples."""
    from spc.models import Sample
    from spc.pipeline import record_samples

    rng = np.random.default_rng(11)
    out = []
    for kind in _built(chars, depth):
        ch, t0 = chars[(kind, depth)]
        when = t0 + INTERVAL / 2
        later = Sample.objects.filter(characteristic=ch, excluded=False,
                                      timestamp__gte=when).count()
        sent = request(kind, rng, timestamp=when)
        dt, spent = _timed_phases(lambda ch=ch, sent=sent: record_samples(ch, [sent]))
        out.append({"kind": kind, "points": later + 1, "seconds": dt,
                    "rate": (later + 1) / dt, "phases": spent})
        say(f"back-dated {kind:10}: {later + 1:,} points re-judged in {dt:.2f} s "
            f"({(later + 1) / dt:,.0f} points/s); {_phase_text(spent)}")
    return out


def exclude_first(chars, depth: int) -> list[dict]:
    from spc.models import Sample
    from spc.sample_edits import set_excluded

    out = []
    for kind in _built(chars, depth):
        ch, _ = chars[(kind, depth)]
        first = Sample.objects.filter(characteristic=ch).order_by("timestamp", "id").first()
        dt, spent = _timed_phases(
            lambda first=first: set_excluded(first, True, "bench: exclude the first sample",
                                             None))
        out.append({"kind": kind, "seconds": dt, "phases": spent})
        say(f"exclude first {kind:10}: {dt:.2f} s; {_phase_text(spent)}")
    return out


def _phase_text(spent: dict) -> str:
    return ", ".join(f"{name} {spent.get(name, 0.0):.2f}"
                     for name in (*(p[0] for p in PHASES), "other"))


# --- report ------------------------------------------------------------------------------------

def database_label() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SHOW server_version")
            return f"PostgreSQL {cur.fetchone()[0].split()[0]}"
        cur.execute("SELECT sqlite_version()")
        return f"SQLite {cur.fetchone()[0]} WAL"


def report(r: dict) -> str:
    d, s = r["depth"], r["small"]
    lines = [f"### {r['database']}: {d:,} vs {s} earlier samples",
             "",
             f"{r['when']}, revision {r['revision']}; {r['machine']}; "
             f"load average {r['load_before']:.1f} before, {r['load_after']:.1f} after; "
             f"whole run {r['run_s'] / 60:.1f} min.",
             "",
             f"| one sample (record_samples, in-process, median of {r['one'][0]['count']}) | "
             f"{s} earlier | {d:,} earlier | p95 {s} / {d:,} | ratio | target ≤ 1.5× |",
             "| --- | --- | --- | --- | --- | --- |"]
    for x in r["one"]:
        lines.append(f"| {LABEL[x['kind']]} | {x['small_ms']:.2f} ms | {x['deep_ms']:.2f} ms | "
                     f"{x['small_p95_ms']:.2f} / {x['deep_p95_ms']:.2f} ms | "
                     f"{x['ratio']:.2f}× | {'met' if x['ratio'] <= 1.5 else 'MISSED'} |")
    lines += ["", f"| {d:,}-sample history | back-dated sample: points re-judged | time | "
              "rate (≥ 200,000/s) | exclude first sample (< 5 s) | whole-history fill at load |",
              "| --- | --- | --- | --- | --- | --- |"]
    fills = {(b["kind"], b["size"]): b for b in r["build"]}
    for b, e in zip(r["back"], r["exclude"], strict=True):
        f = fills[(b["kind"], d)]
        lines.append(f"| {LABEL[b['kind']]} | {b['points']:,} | {b['seconds']:.2f} s | "
                     f"{b['rate']:,.0f}/s {'met' if b['rate'] >= 200_000 else 'MISSED'} | "
                     f"{e['seconds']:.2f} s {'met' if e['seconds'] < 5 else 'MISSED'} | "
                     f"{f['fill_s']:.1f} s ({f['judged'] / f['fill_s']:,.0f}/s), "
                     f"{f['violations']:,} violations |")
    names = (*(p[0] for p in PHASES), "other")
    lines += ["", "| where the time went (s) | " + " | ".join(names) + " |",
              "| --- |" + " --- |" * len(names)]
    for what, key in (("back-dated", "back"), ("exclude first", "exclude")):
        for x in r[key]:
            lines.append(f"| {LABEL[x['kind']]}, {what} | " + " | ".join(
                f"{x['phases'].get(n, 0.0):.2f}" for n in names) + " |")
    load_s = sum(b["load_s"] for b in r["build"])
    lines += ["", f"Bulk load of the {sum(b['size'] for b in r['build']):,} samples: "
              f"{load_s:.0f} s. Phases: the stage's rows read as columns (read), judged "
              "(judge), the stored state compared until it settles (settle), the changed "
              "state written (state), the violations stored (violations); other: the lock, "
              "the rule window, the edit's own rows, COMMIT and the events."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=sorted(PRESETS), required=True)
    ap.add_argument("--depth", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help=f"chart types to measure, of {','.join(KINDS)}")
    ap.add_argument("--markdown", action="store_true", help="print the docs/performance.md table")
    ap.add_argument("--json", help="keep the figures in this file")
    args = ap.parse_args()
    t_run = time.perf_counter()
    configure_env(args.db)
    prepare_database(recreate=True)
    migrate()
    import django

    django.setup()
    load_before = os.getloadavg()[0]
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        ap.error(f"unknown --kinds {', '.join(sorted(unknown))}")
    built = build(args.depth, args.small, kinds)
    chars = built["chars"]
    r = {"database": database_label(), "depth": args.depth, "small": args.small,
         "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "revision": revision(),
         "machine": machine(), "load_before": load_before, "build": built["build"]}
    r["one"] = one_sample(chars, args.small, args.depth, args.samples)
    r["back"] = back_dated(chars, args.depth)
    r["exclude"] = exclude_first(chars, args.depth)
    r["load_after"] = os.getloadavg()[0]
    r["run_s"] = time.perf_counter() - t_run
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(r, indent=1, default=str))
    text = report(r)
    print(text if args.markdown else text.replace("| ---", "|----"))


if __name__ == "__main__":
    main()
