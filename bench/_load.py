"""Loads the history bench/pipeline.py runs against, straight into the product's tables.

Recording millions of samples through `spc.pipeline.record_samples` would take hours, so the
history is written directly — PostgreSQL with COPY (psycopg 3 `cursor.copy()`), SQLite with
`executemany` in large transactions on Django's own connection (so WAL, synchronous=FULL and
foreign keys are on, as in the product) — with exactly what the pipeline would have stored:

* the statistics of each sample as `spc.sample_input` computes them (fsum mean, range, sd, n,
  count; checked against `sample_input.clean` for a few samples of every chart type);
* one established limit version per characteristic, fitted by the engine to its first 100
  subgroups and effective from its first sample (as `freeze_trial_limits` would make it);
* the live violations `spc.evaluation.judge` finds over the whole history (not acknowledged);
  these established Shewhart charts carry no state (spc.judging), so the state columns stay NULL.

Samples are written in time order, interleaved across characteristics as a plant produces them
(so one characteristic's samples are spread over the table as in real life), with ids fixed in
advance: sample (step k, characteristic j) has id 1 + k·C + j. The loader is resumable: each
slice of steps is one transaction and is skipped when its first sample already exists. The id
sequences are moved past the history first, so samples recorded through the API in between
never take a history id.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

BENCH_PLANT = "BENCH"
HISTORY_LIMITS_FROM = 100  # limits are fitted to the first 100 subgroups
MIX = ("imr",) * 11 + ("xbar_r",) * 7 + ("p",) * 2  # 55 % I-MR, 35 % X̄-R n=5, 10 % p
XBAR_N = 5
P_N = 100


@dataclass(frozen=True)
class Plan:
    characteristics: int = 1000
    samples: int = 10_000  # per characteristic
    interval_s: int = 60
    seed: int = 20_240_601
    slice_steps: int = 100  # time steps per transaction

    def kind(self, j: int) -> str:
        return MIX[j % len(MIX)]

    def offset(self, j: int) -> timedelta:
        # spread the characteristics over one interval; never a whole second (see _sqlite_ts)
        return timedelta(microseconds=j * int(self.interval_s * 1e6 / self.characteristics) + 137)

    def sample_id(self, k: int, j: int) -> int:
        return 1 + k * self.characteristics + j

    @property
    def total(self) -> int:
        return self.characteristics * self.samples


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- generated data ---------------------------------------------------------------------------

@dataclass
class Series:
    """One characteristic's generated history, as the pipeline would have stored it."""

    kind: str
    values: np.ndarray | None  # (K,) or (K, 5) measured values; None for p
    n: np.ndarray  # (K,) int
    mean: np.ndarray  # (K,) float, NaN = NULL
    range: np.ndarray
    sd: np.ndarray
    count: np.ndarray  # (K,) float, NaN = NULL
    target: float | None
    usl: float | None
    lsl: float | None


def _subgroup_stats(row: list[float]) -> tuple[float, float, float]:
    """mean, range, sd exactly as spc.sample_input._clean_values computes them."""
    n = len(row)
    mean = math.fsum(row) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in row) / (n - 1))
    return mean, max(row) - min(row), sd


def generate(plan: Plan, j: int) -> Series:
    rng = np.random.default_rng([plan.seed, j])
    k = plan.samples
    kind = plan.kind(j)
    nan = np.full(k, np.nan)
    if kind == "p":
        p0 = float(rng.uniform(0.02, 0.06))
        n = rng.integers(80, 121, k)
        count = rng.binomial(n, p0).astype(float)
        return Series(kind, None, n, nan, nan.copy(), nan.copy(), count, None, None, None)
    mu = round(float(rng.uniform(5, 50)), 2)
    sigma = mu * float(rng.uniform(0.002, 0.01))
    usl, lsl = round(mu + 4.5 * sigma, 3), round(mu - 4.5 * sigma, 3)
    if kind == "imr":
        values = np.round(rng.normal(mu, sigma, k), 3)
        return Series(kind, values, np.ones(k, dtype=int), values.copy(), np.zeros(k), nan,
                      nan.copy(), mu, usl, lsl)
    values = np.round(rng.normal(mu, sigma, (k, XBAR_N)), 3)
    stats = np.array([_subgroup_stats(row) for row in values.tolist()])
    return Series(kind, values, np.full(k, XBAR_N), stats[:, 0].copy(), stats[:, 1].copy(),
                  stats[:, 2].copy(), nan.copy(), mu, usl, lsl)


def _check_against_pipeline(ch, series: Series) -> None:
    """The stored statistics must be those spc.sample_input.clean computes."""
    from spc.sample_input import SampleRequest, clean

    for i in (0, 1, len(series.n) - 1):
        if series.kind == "p":
            c = clean(ch, SampleRequest(count=int(series.count[i]), sample_size=int(series.n[i])))
            got = (c.n, c.count)
            want = (int(series.n[i]), int(series.count[i]))
        else:
            vals = np.atleast_1d(series.values[i]).tolist()
            c = clean(ch, SampleRequest(values=vals))
            got = (c.n, c.mean, c.range, c.sd)
            sd = None if math.isnan(series.sd[i]) else float(series.sd[i])
            want = (int(series.n[i]), float(series.mean[i]), float(series.range[i]), sd)
        if got != want:
            raise AssertionError(f"{ch.name}: loader stats {want} != pipeline stats {got}")


# --- plant, hierarchy, characteristics, limits (ORM) ---------------------------------------------

def _fit(ch, series: Series, first: int):
    """What spc.fitting.fit computes for the first `first` subgroups (same engine calls)."""
    from spc import engine

    if series.kind == "xbar_r":
        return engine.xbar_r_limits(series.values[:first].tolist())
    if series.kind == "imr":
        return engine.imr_limits(np.asarray(series.mean[:first], dtype=float))
    return engine.p_limits(np.asarray(series.count[:first], dtype=float),
                           np.asarray(series.n[:first], dtype=float))


def setup(plan: Plan, series_of):
    """Plant, hierarchy, characteristics and their limits; idempotent. Returns (chars, t0).

    `series_of(j)` gives characteristic j's generated history (only needed the first time)."""
    from django.db import connection, transaction

    from plants.models import Level, Node, Plant
    from spc.fitting import stored_limits
    from spc.models import Characteristic, ControlLimits, LimitSource, Sample

    plant = Plant.objects.filter(code=BENCH_PLANT).first()
    if plant is not None:
        chars = list(Characteristic.objects.filter(plant=plant).order_by("id"))
        if len(chars) != plan.characteristics:
            raise SystemExit(f"The database holds a {BENCH_PLANT} plant with {len(chars)} "
                             f"characteristics, not {plan.characteristics}: use a fresh database "
                             "(or the same --scale as before).")
        first = ControlLimits.objects.get(characteristic=chars[0], version=1)
        return chars, first.effective_from - plan.offset(0)
    if Sample.objects.exists():
        raise SystemExit("spc_sample already holds samples of another plant: the history loader "
                         "needs a database of its own (history ids are fixed).")
    t0 = (datetime.now(UTC).replace(microsecond=0)
          - timedelta(hours=1) - plan.samples * timedelta(seconds=plan.interval_s))
    with transaction.atomic():
        plant = Plant.objects.create(name="Bench plant", code=BENCH_PLANT)
        root = Node.objects.create(plant=plant, name="Bench enterprise", level=Level.ENTERPRISE)
        site = Node.objects.create(plant=plant, parent=root, name="Site", level=Level.SITE)
        area = Node.objects.create(plant=plant, parent=site, name="Area", level=Level.AREA)
        per_cell = 20
        cells = []
        for c in range(math.ceil(plan.characteristics / per_cell)):
            if c % 5 == 0:
                line = Node.objects.create(plant=plant, parent=area, name=f"Line {c // 5 + 1:02d}",
                                           level=Level.LINE)
            cells.append(Node.objects.create(plant=plant, parent=line, name=f"Cell {c + 1:03d}",
                                             level=Level.CELL))
        chars = []
        for j in range(plan.characteristics):
            kind = plan.kind(j)
            series = series_of(j)
            chars.append(Characteristic(
                plant=plant, node=cells[j // per_cell], name=f"bench-{j:04d}-{kind}",
                unit="" if kind == "p" else "mm", chart_type=kind,
                subgroup_size={"imr": 1, "xbar_r": XBAR_N, "p": P_N}[kind],
                variable_subgroup_size=kind == "p",
                target=series.target, usl=series.usl, lsl=series.lsl))
        chars = Characteristic.objects.bulk_create(chars)
        chars = list(Characteristic.objects.filter(plant=plant).order_by("id"))
        versions = []
        for j, ch in enumerate(chars):
            series = series_of(j)
            _check_against_pipeline(ch, series)
            fit_ = stored_limits(ch, _fit(ch, series, HISTORY_LIMITS_FROM))
            versions.append(ControlLimits(
                characteristic=ch, version=1, is_active=True, source=LimitSource.CALCULATED,
                reason=f"Trial limits frozen automatically after {HISTORY_LIMITS_FROM} subgroups",
                options={"first_n": HISTORY_LIMITS_FROM, "auto_freeze": True},
                sample_count=HISTORY_LIMITS_FROM, effective_from=t0 + plan.offset(j),
                **asdict(fit_)))
        ControlLimits.objects.bulk_create(versions)
        _bump_sequences(connection, plan)
    return chars, t0


def _measurements_per_step(plan: Plan) -> tuple[int, list[int]]:
    """(values per time step over all characteristics, offset of each characteristic's)."""
    offsets, total = [], 0
    for j in range(plan.characteristics):
        offsets.append(total)
        total += {"imr": 1, "xbar_r": XBAR_N, "p": 0}[plan.kind(j)]
    return total, offsets


def _bump_sequences(connection, plan: Plan) -> None:
    per_step, _ = _measurements_per_step(plan)
    last = {"spc_sample": plan.total, "spc_measurement": per_step * plan.samples}
    with connection.cursor() as cur:
        for table, value in last.items():
            if connection.vendor == "postgresql":
                cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, value])
            else:
                cur.execute("SELECT 1 FROM sqlite_sequence WHERE name = %s", [table])
                if cur.fetchone():
                    cur.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s",
                                [value, table])
                else:
                    cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                                [table, value])


# --- the history -------------------------------------------------------------------------------

SAMPLE_COLUMNS = ("id", "characteristic_id", "timestamp", "n", "mean", "range", "sd", "count",
                  "batch", "operator", "comment", "source", "excluded", "exclusion_reason",
                  "created_at", "created_by_id")
MEASUREMENT_COLUMNS = ("id", "sample_id", "position", "value")
VIOLATION_COLUMNS = ("plant_id", "characteristic_id", "sample_id", "rule", "severity", "points",
                     "requires_ack", "created_at", "superseded_at", "acknowledged_at",
                     "acknowledged_by_id", "reason_code_id", "comment")
VIOLATION_OPTIONAL = ("chart",)  # written from the detection when the model has it


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]  # the columns the loader writes, then the defaulted ones
    defaults: tuple  # values of the defaulted columns (their field defaults)
    optional: tuple[str, ...] = ()


def _table(model, known, optional=()) -> Table:
    """The columns to write: the known ones, the optional ones the model has, and any other
    column at its field default; fails loudly on a column without a default."""
    from django.db import connection

    fields = {f.column: f for f in model._meta.concrete_fields}
    missing = [c for c in known if c not in fields and c != "id"]
    if missing:
        raise SystemExit(f"{model._meta.db_table} lost columns {missing}; update bench/_load.py")
    have_optional = tuple(c for c in optional if c in fields)
    extra, defaults = [], []
    for col, f in fields.items():
        if col in known or col in have_optional or (col == "id" and "id" not in known):
            continue
        if f.has_default():
            value = f.get_db_prep_save(f.get_default(), connection)
        elif f.null:
            value = None
        else:
            raise SystemExit(f"{model._meta.db_table}.{col} is new and has no default; "
                             "update bench/_load.py")
        extra.append(col)
        defaults.append(value)
    return Table(model._meta.db_table, (*known, *have_optional, *extra), tuple(defaults),
                 have_optional)


def tables() -> dict[str, Table]:
    from spc.models import Measurement, Sample, Violation

    return {"sample": _table(Sample, SAMPLE_COLUMNS),
            "measurement": _table(Measurement, MEASUREMENT_COLUMNS),
            "violation": _table(Violation, VIOLATION_COLUMNS, VIOLATION_OPTIONAL)}


def check_schema() -> None:
    """The database's columns must be the models' (an edited initial migration would not be
    applied to a database migrated before): otherwise recreate the benchmark database."""
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cur:
        for label in ("plants", "spc", "alerts"):
            for model in apps.get_app_config(label).get_models():
                table = model._meta.db_table
                have = {c.name for c in connection.introspection.get_table_description(cur, table)}
                want = {f.column for f in model._meta.concrete_fields}
                if have != want:
                    raise SystemExit(
                        f"{table}: the database's columns differ from the model's "
                        f"({sorted(have ^ want)}): the migrations changed since this database "
                        "was made; rerun with --recreate.")


def _violations(plan: Plan, ch, j: int, series: Series, version) -> list[tuple]:
    """(step, sample_id, rule, severity, points, requires_ack, chart) of what the pipeline's
    judgment (`spc.evaluation.judge`) finds over the whole established stage. An established
    Shewhart chart (I-MR, X̄-R, p) carries no state (spc.judging.carries_state), so the loaded
    rows' state columns stay NULL, as the pipeline leaves them."""
    from spc import judging
    from spc.evaluation import Row, Stage, judge
    from spc.rule_settings import enabled_rules, settings_for

    if judging.carries_state(ch, version):
        raise SystemExit(f"{ch.name}: the history loader writes no carried state; "
                         "use bench/history_depth.py's loader for EWMA/CUSUM/trial charts")
    ids = [plan.sample_id(k, j) for k in range(plan.samples)]
    mean = [None if math.isnan(x) else x for x in series.mean.tolist()]
    count = [None if math.isnan(x) else int(x) for x in series.count.tolist()]
    rng = [None if math.isnan(x) else x for x in series.range.tolist()]
    sd = [None if math.isnan(x) else x for x in series.sd.tolist()]
    rows = [Row(*r) for r in zip(ids, [None] * len(ids), series.n.tolist(), mean, rng, sd, count,
                                 strict=True)]
    settings = settings_for(ch)
    detections, _, _ = judge(ch, Stage(version, version.effective_from, None), [], rows,
                             enabled_rules(ch))
    out = []
    for d in detections:
        s = settings[d.rule]
        out.append(((d.sample_id - 1) // plan.characteristics, d.sample_id, d.rule, s.severity,
                    list(d.points), s.requires_ack, d.chart))
    return out


def _np_ts(t: datetime) -> np.datetime64:
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")


def load(plan: Plan) -> dict:
    """Load (or finish loading) the history. Returns figures: seconds, rows, database size."""
    from django.conf import settings
    from django.db import connection, transaction

    from spc.models import ControlLimits, Sample

    check_schema()
    tabs = tables()
    t_start = time.perf_counter()
    memo: dict[int, Series] = {}

    def series_of(j: int) -> Series:
        if j not in memo:
            memo[j] = generate(plan, j)
        return memo[j]

    chars, t0 = setup(plan, series_of)
    nslices = math.ceil(plan.samples / plan.slice_steps)
    todo = [s for s in range(nslices)
            if not Sample.objects.filter(pk=plan.sample_id(s * plan.slice_steps, 0)).exists()]
    record = Path(settings.DATA_DIR) / "history-load.json"
    if not todo:
        _say(f"history: {plan.total:,} samples already loaded")
        before = json.loads(record.read_text()) if record.exists() else {}
        return {"loaded": False, "seconds": before.get("seconds", float("nan")),
                "loaded_on": before.get("date"), "loaded_bytes": before.get("db_bytes"),
                **db_size()}
    _say(f"history: {len(todo)} of {nslices} slices to load "
         f"({plan.characteristics} characteristics × {plan.samples:,} samples, "
         f"{plan.slice_steps} steps per transaction)")
    gen_t = time.perf_counter()
    series = [series_of(j) for j in range(plan.characteristics)]
    versions = {v.characteristic_id: v for v in ControlLimits.objects.filter(
        characteristic__in=chars, version=1)}
    viol_by_step: dict[int, list] = {}
    n_viol = 0
    for j, (ch, sr) in enumerate(zip(chars, series, strict=True)):
        for row in _violations(plan, ch, j, sr, versions[ch.pk]):
            viol_by_step.setdefault(row[0], []).append((ch, row))
            n_viol += 1
    _say(f"history: generated in {time.perf_counter() - gen_t:.1f} s; "
         f"{n_viol:,} violations detected over the history")

    per_step, moffsets = _measurements_per_step(plan)
    base = np.array([_np_ts(t0 + plan.offset(j)) for j in range(plan.characteristics)])
    step = np.timedelta64(plan.interval_s * 1_000_000, "us")
    recorded_after = np.timedelta64(1_500_000, "us")
    pg = connection.vendor == "postgresql"
    writer = (_PgWriter if pg else _SqliteWriter)(connection, tabs)
    t_load = time.perf_counter()
    done_rows = 0
    for i, s in enumerate(todo):
        k0, k1 = s * plan.slice_steps, min((s + 1) * plan.slice_steps, plan.samples)
        samples, measurements, violations = [], [], []
        for j, (ch, sr) in enumerate(zip(chars, series, strict=True)):
            ts = base[j] + step * np.arange(k0, k1)
            created = ts + recorded_after
            sid = [plan.sample_id(k, j) for k in range(k0, k1)]
            samples.append((j, sid, ts, created, sr.n[k0:k1], sr.mean[k0:k1], sr.range[k0:k1],
                            sr.sd[k0:k1], sr.count[k0:k1], ch, sr.kind))
            if sr.values is not None:
                vals = sr.values[k0:k1].reshape(k1 - k0, -1)
                measurements.append((j, sid, vals, [1 + k * per_step + moffsets[j]
                                                    for k in range(k0, k1)]))
        for k in range(k0, k1):
            violations += viol_by_step.get(k, [])
        with transaction.atomic():
            writer.write(plan, samples, measurements, violations, base, step)
        done_rows += (k1 - k0) * plan.characteristics
        elapsed = time.perf_counter() - t_load
        if i % 5 == 0 or i == len(todo) - 1:
            _say(f"history: slice {s + 1}/{nslices} — {done_rows:,} samples in {elapsed:.0f} s "
                 f"({done_rows / elapsed:,.0f} samples/s)")
    if pg:
        # A plant's database has been vacuumed since its history was written: autovacuum sets
        # the visibility map, without which PostgreSQL's index-only scans (the covering sample
        # index) visit one heap page per row. A fresh COPY of 10 M rows has none yet.
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
    seconds = time.perf_counter() - t_start
    _say(f"history: loaded in {seconds:.0f} s")
    size = db_size()
    if len(todo) == nslices:  # a complete load, not a resumed one: keep its figures
        record.write_text(json.dumps({"seconds": seconds, "samples": plan.total,
                                      "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                                      "db_bytes": size["db_bytes"]}))
    return {"loaded": True, "seconds": seconds, **size}


def _rows_of(samples, sqlite: bool, extra: tuple):
    """Sample rows in (step, characteristic) order — the order a plant records them."""
    cols = []
    for _j, sid, ts, created, n, mean, rng, sd, count, ch, kind in samples:
        if sqlite:
            ts_s = [t.replace("T", " ") for t in np.datetime_as_string(ts, unit="us").tolist()]
            cr_s = [t.replace("T", " ") for t in np.datetime_as_string(created, unit="us").tolist()]
        else:
            ts_s = [t + "+00" for t in np.datetime_as_string(ts, unit="us").tolist()]
            cr_s = [t + "+00" for t in np.datetime_as_string(created, unit="us").tolist()]
        mean_l = [None if x != x else x for x in mean.tolist()]
        rng_l = [None if x != x else x for x in rng.tolist()]
        sd_l = [None if x != x else x for x in sd.tolist()]
        count_l = [None if x != x else int(x) for x in count.tolist()]
        source = "TAG" if kind == "imr" else "MANUAL"
        cols.append([(i, ch.pk, t, nn, m, r, d, c, "", "", "", source, False, "", cr, None, *extra)
                     for i, t, nn, m, r, d, c, cr in zip(sid, ts_s, n.tolist(), mean_l, rng_l,
                                                          sd_l, count_l, cr_s, strict=True)])
    # interleave: step-major, characteristic-minor
    return [row for per_step in zip(*cols, strict=True) for row in per_step]


def _measurement_rows(measurements, extra: tuple):
    cols = []
    for _j, sid, vals, first_ids in measurements:
        rows = []
        for s, v, mid in zip(sid, vals.tolist(), first_ids, strict=True):
            rows.append([(mid + p, s, p, x, *extra) for p, x in enumerate(v)])
        cols.append(rows)
    return [row for per_step in zip(*cols, strict=True) for rows in per_step for row in rows]


def _violation_rows(violations, base, step, plan: Plan, sqlite: bool, table: Table):
    out = []
    for ch, (k, sample_id, rule, severity, points, requires_ack, chart) in violations:
        j = (sample_id - 1) % plan.characteristics
        created = np.datetime_as_string(base[j] + step * k + np.timedelta64(2_000_000, "us"),
                                        unit="us").item()
        created = created.replace("T", " ") if sqlite else created + "+00"
        optional = (chart,) if table.optional else ()
        out.append((ch.plant_id, ch.pk, sample_id, rule, severity, json.dumps(points),
                    requires_ack, created, None, None, None, None, "", *optional,
                    *table.defaults))
    return out


class _Writer:
    def __init__(self, connection, tabs: dict[str, Table]):
        self.connection = connection
        self.tabs = tabs

    def batches(self, plan, samples, measurements, violations, base, step):
        sqlite = self.connection.vendor == "sqlite"
        t = self.tabs
        yield t["sample"], _rows_of(samples, sqlite, t["sample"].defaults)
        yield t["measurement"], _measurement_rows(measurements, t["measurement"].defaults)
        yield t["violation"], _violation_rows(violations, base, step, plan, sqlite,
                                              t["violation"])


def _q(col: str) -> str:
    return f'"{col}"'


class _SqliteWriter(_Writer):
    def write(self, *args):
        cur = self.connection.connection.cursor()  # the raw sqlite3 connection, same PRAGMAs
        for table, rows in self.batches(*args):
            if rows:
                cur.executemany(
                    f'INSERT INTO "{table.name}" ({", ".join(map(_q, table.columns))}) '
                    f'VALUES ({", ".join("?" * len(table.columns))})', rows)
        cur.close()


class _PgWriter(_Writer):
    def write(self, *args):
        self.connection.ensure_connection()
        raw = self.connection.connection  # psycopg 3 connection inside Django's transaction
        with raw.cursor() as cur:
            for table, rows in self.batches(*args):
                if not rows:
                    continue
                cols = ", ".join(map(_q, table.columns))
                with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)


def db_size() -> dict:
    """Size of the database on disk (SQLite: file + WAL; PostgreSQL: pg_database_size)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            size = cur.fetchone()[0]
            cur.execute("SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "WHERE relname IN ('spc_sample', 'spc_measurement', 'alerts_violation')")
            tables = dict(cur.fetchall())
        return {"db_bytes": size, "tables": tables}
    path = Path(connection.settings_dict["NAME"])
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    return {"db_bytes": size, "tables": {}}
