"""The sample reads and writes on the pipeline's hot path, in plain SQL.

Recording one sample must cost a few milliseconds in all, and Django's ORM spends ~0.5–1 ms
compiling each query and building each model instance — more than SQLite or PostgreSQL take
to run them. These few statements are written out once instead: the rows in a batch go in with
one multi-row INSERT … RETURNING per chunk (ids in the order given, as Django's own bulk_create
relies on) and one executemany for their measurements, and the rule window is read as tuples.
Both backends take the same SQL and Django's own adapters, but for PostgreSQL's row lock, which
also reads the characteristic and its newest limit version, and for one sample on PostgreSQL:
lock, insert and rule window go in one round trip (`write_one`).
"""

import sqlite3
from datetime import UTC, datetime

import numpy as np
from django.db import connection
from django.utils import timezone

from openspc import plain_sql
from spc.evaluation import COLUMN_FIELDS, ROW_FIELDS, Row, RowColumns
from spc.judging import STATE_FIELDS
from spc.models import Characteristic, ControlLimits, Sample

_SAMPLE_COLUMNS = ("characteristic_id", "timestamp", "n", "mean", "range", "sd", "count", "batch",
                   "operator", "comment", "source", "excluded", "exclusion_reason", "created_at",
                   "created_by_id", "key")
_COLUMNS = ", ".join(_SAMPLE_COLUMNS)
_ONE_ROW = "(" + ", ".join(["%s"] * len(_SAMPLE_COLUMNS)) + ")"
_CHUNK = 500  # rows per INSERT: 16 columns × 500 stays under SQLite's 32,766 parameters
_ROW_COLUMNS = ", ".join(ROW_FIELDS)  # the rule window as evaluation.Row tuples
NEWEST_VERSION = "WHERE characteristic_id = %s ORDER BY effective_from DESC, version DESC LIMIT 1"


def lock_for_writing(ch: Characteristic) -> tuple[Characteristic, ControlLimits | None]:
    """Serialize the writers of one characteristic; (the characteristic as it is now, its newest
    limit version or None).

    PostgreSQL: a row lock, and both read under it in the same statement. SQLite needs no lock —
    its write transactions start IMMEDIATE and so run one at a time — and reads the version
    (and that the characteristic still exists). Raises Characteristic.DoesNotExist."""
    if not connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(_EXISTS_WITH_NEWEST_SQL, [ch.pk])
            row = cursor.fetchone()
        if row is None:
            raise Characteristic.DoesNotExist(f"Characteristic {ch.pk} no longer exists.")
        return ch, (plain_sql.instance(ControlLimits, row) if row[0] is not None else None)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [ch.pk])
        row = cursor.fetchone()
    if row is None:
        raise Characteristic.DoesNotExist(f"Characteristic {ch.pk} no longer exists.")
    return _locked_and_newest(row)


def _locked_and_newest(row):
    version = row[plain_sql.width(Characteristic):]
    return (plain_sql.instance(Characteristic, row),
            plain_sql.instance(ControlLimits, version) if version[0] is not None else None)


_EXISTS_WITH_NEWEST_SQL = (
    f"SELECT {plain_sql.columns(ControlLimits, 'l')} FROM {Characteristic._meta.db_table} c "
    f"LEFT JOIN {ControlLimits._meta.db_table} l ON l.id = (SELECT id FROM "
    f"{ControlLimits._meta.db_table} {NEWEST_VERSION.replace('%s', 'c.id')}) WHERE c.id = %s"
)
_LOCK_SQL = (
    f"SELECT {plain_sql.columns(Characteristic, 'c')}, {plain_sql.columns(ControlLimits, 'l')} "
    f"FROM {Characteristic._meta.db_table} c LEFT JOIN LATERAL "
    f"(SELECT * FROM {ControlLimits._meta.db_table} {NEWEST_VERSION.replace('%s', 'c.id')}) l "
    "ON true WHERE c.id = %s FOR UPDATE OF c"
)


def insert(ch, cleaned, user, now: datetime) -> list[Sample]:
    """Store the cleaned samples and their measurements; the Sample objects, with ids."""
    adapt = connection.ops.adapt_datetimefield_value
    created = adapt(now)
    user_id = getattr(user, "pk", None)
    rows = [(ch.pk, adapt(c.timestamp), c.n, c.mean, c.range, c.sd, c.count, c.batch, c.operator,
             c.comment, c.source, False, "", created, user_id, c.key) for c in cleaned]
    ids = _insert_many(rows, cleaned)
    return [_sample(ch, pk, c, c.timestamp, now, user) for pk, c in zip(ids, cleaned, strict=True)]


def _sample(ch, pk, c, timestamp, created_at, user) -> Sample:
    sample = Sample(id=pk, characteristic=ch, timestamp=timestamp, n=c.n, mean=c.mean,
                    range=c.range, sd=c.sd, count=c.count, batch=c.batch, operator=c.operator,
                    comment=c.comment, source=c.source, created_at=created_at, key=c.key,
                    created_by=user if getattr(user, "pk", None) else None)
    sample._state.adding = False
    sample._state.db = connection.alias
    sample._values = c.values  # the response needs them; no need to read them back
    return sample


def write_one(ch: Characteristic, c, user, window_size: int):
    """PostgreSQL, one sample, in one round trip (psycopg's pipeline mode): the row lock that
    reads the characteristic and its newest limit version, the sample with its values — stamped
    by PostgreSQL's clock under the lock when no time was given, so concurrent writers append
    in time order — and the last `window_size` non-excluded samples of the newest stage, the
    new one included. (characteristic, newest version or None, the Sample, the window rows)."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [ch.pk, adapt(c.timestamp), c.n, c.mean, c.range, c.sd, c.count, c.batch,
              c.operator, c.comment, c.source, getattr(user, "pk", None),
              list(range(len(c.values))), [float(v) for v in c.values]]
    locked_rows, inserted, window_rows = plain_sql.together([
        (_LOCK_SQL, [ch.pk]),
        (_INSERT_ONE, params),
        (_WINDOW_OF_NEWEST_STAGE.format(last=int(window_size)), [ch.pk, ch.pk]),
    ])
    if not locked_rows:  # deleted meanwhile; the transaction rolls back
        raise Characteristic.DoesNotExist(f"Characteristic {ch.pk} no longer exists.")
    pk, timestamp, created_at = inserted[0]
    locked, newest = _locked_and_newest(locked_rows[0])
    return (locked, newest, _sample(locked, pk, c, timestamp, created_at, user),
            _rows_in_time_order(window_rows))


# One sample and its values; the time given, or PostgreSQL's clock read once (a volatile CTE is
# evaluated once) for both the timestamp and created_at.
_INSERT_ONE = (
    "WITH now AS (SELECT clock_timestamp() AS t), "
    f"s AS (INSERT INTO spc_sample ({_COLUMNS}) VALUES "
    "(%s, COALESCE(%s, (SELECT t FROM now)), %s, %s, %s, %s, %s, %s, %s, %s, %s, false, '', "
    "(SELECT t FROM now), %s, NULL) RETURNING id, timestamp, created_at), "
    "m AS (INSERT INTO spc_measurement (sample_id, position, value) "
    "SELECT s.id, v.position, v.value FROM s, "
    "unnest(%s::integer[], %s::double precision[]) AS v(position, value)) "
    "SELECT id, timestamp, created_at FROM s"
)
# The LIMIT is written into the statement, never a parameter: for an unknown LIMIT PostgreSQL's
# generic plan assumes a tenth of the characteristic's samples, so it keeps planning a custom
# plan on every run (~0.6–1.1 ms per sample, measured) instead of reusing the prepared one.
_WINDOW_OF_NEWEST_STAGE = (
    f"SELECT {_ROW_COLUMNS} FROM spc_sample "
    "WHERE characteristic_id = %s AND excluded = false AND timestamp >= COALESCE(("
    f"SELECT effective_from FROM {ControlLimits._meta.db_table} {NEWEST_VERSION}), "
    "'-infinity') ORDER BY timestamp DESC, id DESC LIMIT {last}"
)


def _insert_many(rows, cleaned) -> list[int]:
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            cursor.execute(
                f"INSERT INTO spc_sample ({_COLUMNS}) VALUES "
                + ", ".join([_ONE_ROW] * len(chunk)) + " RETURNING id",
                [value for row in chunk for value in row],
            )
            ids += [r[0] for r in cursor.fetchall()]
        values = [(pk, i, v) for pk, c in zip(ids, cleaned, strict=True)
                  for i, v in enumerate(c.values)]
        if values:
            cursor.executemany(
                "INSERT INTO spc_measurement (sample_id, position, value) VALUES (%s, %s, %s)",
                values)
    return ids


def _kept_between(columns: str, ch, start: datetime | None, end: datetime | None):
    """(SQL, params) selecting `columns` of the kept samples of `ch` in [start, end)."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"SELECT {columns} FROM spc_sample WHERE characteristic_id = %s AND excluded = %s"
    params: list = [ch.pk, False]
    if start is not None:
        sql += " AND timestamp >= %s"
        params.append(adapt(start))
    if end is not None:
        sql += " AND timestamp < %s"
        params.append(adapt(end))
    return sql, params


def window(ch, start: datetime | None, end: datetime | None, last: int) -> list[Row]:
    """The last `last` non-excluded samples of the stage [start, end), in time order."""
    sql, params = _kept_between(_ROW_COLUMNS, ch, start, end)
    sql += f" ORDER BY timestamp DESC, id DESC LIMIT {int(last)}"  # not a parameter: see below
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _rows_in_time_order(cursor.fetchall())


def _rows_in_time_order(newest_first) -> list[Row]:
    return [Row(r[0], _moment(r[1]), *r[2:]) for r in reversed(newest_first)]


def _moment(value) -> datetime:
    """A stored timestamp as an aware datetime: PostgreSQL hands one over (the session runs in
    UTC); SQLite keeps the naive UTC text Django wrote."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def stage_rows_from(ch, since: datetime | None, end: datetime | None,
                    fields=COLUMN_FIELDS[:6]) -> RowColumns:
    """The kept samples from `since` (inclusive; None: the first) to `end` (exclusive; None:
    the last), in time order, read in one statement straight into columns — only `fields` (the
    id first, then what judging them reads: spc.judging.read_fields), not their timestamps
    (parsing them was most of the cost of a long read) nor their carried state, which judging
    computes afresh from the point before them. Both databases read the covering index alone."""
    sql, params = _kept_between(", ".join(fields), ch, since, end)
    return RowColumns(_fetch_columns(sql + " ORDER BY timestamp, id", params, fields))


_FETCH = 100_000


def _fetch_columns(sql: str, params, fields) -> dict[str, np.ndarray]:
    """The rows of `sql` as one array per field (NULL as NaN), turned into numpy a block of
    rows at a time. PostgreSQL sends them in its binary format, through a psycopg cursor of its
    own on Django's connection (Django's cursors bind on the client where prepared statements
    are off, which binary results do not allow); measured at 1,000,000 rows: 0.65 s against
    0.95 s as text, and 2–4 s through COPY … (FORMAT BINARY), which psycopg hands over a row at
    a time."""
    blocks = []
    if connection.vendor == "postgresql":
        from psycopg import Cursor  # binds on the server, as binary results need

        connection.ensure_connection()
        cursor = Cursor(connection.connection)
        cursor.execute(sql, params, binary=True)
    else:
        cursor = connection.cursor()
        cursor.execute(sql, params)
    with cursor:
        while rows := cursor.fetchmany(_FETCH):
            blocks.append(np.array(rows, dtype=float))
    table = np.concatenate(blocks) if blocks else np.empty((0, len(fields)))
    columns = {f: table[:, i] for i, f in enumerate(fields)}
    columns["id"] = columns["id"].astype(np.int64)
    return columns


_IDS_PER_STATEMENT = 900  # within SQLite's oldest limit of 999 parameters


def stored_state(ids, fields) -> dict[str, np.ndarray]:
    """The carried state `fields` stored on the samples `ids`, one array per field in the order
    of `ids` (NaN where nothing is stored)."""
    ids = np.asarray(ids, dtype=np.int64)
    found: dict[int, tuple] = {}
    columns = ", ".join(("id", *fields))
    with connection.cursor() as cursor:
        for a in range(0, ids.size, _IDS_PER_STATEMENT):
            chunk = ids[a:a + _IDS_PER_STATEMENT].tolist()
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {columns} FROM spc_sample WHERE id IN ({marks})", chunk)
            found.update((r[0], r[1:]) for r in cursor.fetchall())
    missing = (None,) * len(fields)
    table = np.array([found.get(pk, missing) for pk in ids.tolist()], dtype=float)
    table = table.reshape(ids.size, len(fields))
    return {f: table[:, i] for i, f in enumerate(fields)}


_STATE_CHUNK = 50_000


def write_state(ids, state: dict) -> None:
    """Store the carried state (spc.judging.STATE_FIELDS columns) of the samples `ids` (a list
    or an array), in bulk: on PostgreSQL one UPDATE … FROM unnest(arrays) per 50,000 samples
    (two parameters per column, whatever the number of samples), on SQLite one UPDATE … FROM
    (VALUES …) per as many samples as its parameters allow (1,000,000 samples: 1.7 s, against
    3.4 s for an UPDATE per sample through executemany, which SQLite before 3.33 still takes)."""
    if not state or not len(ids):
        return
    ids = np.asarray(ids, dtype=np.int64).tolist()
    names = list(state)
    columns = [_stored(name, state[name]) for name in names]
    if connection.vendor == "sqlite" and len(ids) > 100 and \
            sqlite3.sqlite_version_info >= (3, 33):  # a new sample's state: the plain UPDATE
        _update_from_values(ids, names, columns)
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ["bigint", *("double precision" if not _is_int(n) else "bigint"
                                 for n in names)]
            sets = ", ".join(f"{n} = v.{n}" for n in names)
            unnest = ", ".join(f"%s::{t}[]" for t in types)
            sql = (f"UPDATE spc_sample s SET {sets} FROM unnest({unnest}) "
                   f"AS v(id, {', '.join(names)}) WHERE s.id = v.id")
            for a in range(0, len(ids), _STATE_CHUNK):
                cursor.execute(sql, [ids[a:a + _STATE_CHUNK],
                                     *(c[a:a + _STATE_CHUNK] for c in columns)])
        else:
            sql = f"UPDATE spc_sample SET {', '.join(f'{n} = %s' for n in names)} WHERE id = %s"
            cursor.executemany(sql, list(zip(*columns, ids, strict=True)))


def _update_from_values(ids: list, names: list, columns: list) -> None:
    """SQLite: the state of many samples per statement, joined by id to a VALUES list (as many
    rows as the connection's parameter limit allows; the driver's own cursor, so that Django
    does not rewrite each long statement's placeholders)."""
    raw = connection.connection
    width = len(names) + 1
    per = max(1, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    head = f"WITH v(id, {', '.join(names)}) AS (VALUES "
    tail = f") UPDATE spc_sample SET {', '.join(f'{n} = v.{n}' for n in names)} " \
        "FROM v WHERE spc_sample.id = v.id"
    cursor = raw.cursor()
    try:
        for a in range(0, len(ids), per):
            flat: list = []
            for row in zip(ids[a:a + per], *(c[a:a + per] for c in columns), strict=True):
                flat.extend(row)
            cursor.execute(head + ", ".join([one] * (len(flat) // width)) + tail, flat)
    finally:
        cursor.close()


def clear_state(sample_id: int) -> None:
    """An excluded sample carries nothing (the kept point before it carries on)."""
    sets = ", ".join(f"{n} = NULL" for n in STATE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE spc_sample SET {sets} WHERE id = %s", [sample_id])


def _is_int(name: str) -> bool:
    return name in ("stage_index", "cusum_upper_run", "cusum_lower_run")


def _stored(name: str, column) -> list:
    """A state column as database values: whole numbers for counters (None where none); floats
    as they are — a NaN reads back as NaN on PostgreSQL and is stored as NULL by SQLite, and
    either means "nothing carried" to spc.judging."""
    if _is_int(name):
        return [int(v) if v == v else None for v in column.tolist()]
    return column.tolist()


def database_now() -> datetime:
    """The time to stamp samples sent without one, read under the writer's lock: PostgreSQL's
    clock (one clock for every web process), or this process's on SQLite (one machine)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return timezone.now()
