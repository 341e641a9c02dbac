"""The sample reads and writes on the pipeline's hot path, in plain SQL.

Recording one sample must cost a few milliseconds in all, and Django's ORM spends ~0.5–1 ms
compiling each query and building each model instance — more than SQLite or PostgreSQL take
to run them. These few statements are written out once instead: the rows in a batch go in with
one multi-row INSERT … RETURNING per chunk (ids in the order given, as Django's own bulk_create
relies on) and one executemany for their measurements, and the rule window is read as tuples.
Both backends take the same SQL and Django's own adapters, but for two PostgreSQL statements
that save a round trip each: the row lock that also reads the characteristic and its newest
limit version, and a single sample inserted together with its values.
"""

from datetime import UTC, datetime

from django.db import connection

from openspc import plain_sql
from spc.evaluation import NEWEST_VERSION, Row
from spc.models import Characteristic, ControlLimits, Sample

_SAMPLE_COLUMNS = ("characteristic_id", "timestamp", "n", "mean", "range", "sd", "count", "batch",
                   "operator", "comment", "source", "excluded", "exclusion_reason", "created_at",
                   "created_by_id")
_CHUNK = 500  # rows per INSERT: 15 columns × 500 stays under SQLite's 32,766 parameters


def _quoted(names) -> str:
    return ", ".join(connection.ops.quote_name(n) for n in names)


def lock_for_writing(ch: Characteristic) -> tuple[Characteristic, ControlLimits | None]:
    """Serialize the writers of one characteristic; (the characteristic as it is now, its newest
    limit version or None).

    PostgreSQL: a row lock, and both read under it in the same statement. SQLite needs no lock —
    its write transactions start IMMEDIATE and so run one at a time — and reads the version."""
    if not connection.features.has_select_for_update:
        found = plain_sql.fetch(ControlLimits, NEWEST_VERSION, [ch.pk])
        return ch, (found[0] if found else None)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [ch.pk])
        row = cursor.fetchone()
    if row is None:
        raise Characteristic.DoesNotExist(f"Characteristic {ch.pk} no longer exists.")
    width = plain_sql.width(Characteristic)
    locked = plain_sql.instance(Characteristic, row)
    version = row[width:]
    return locked, (plain_sql.instance(ControlLimits, version) if version[0] is not None else None)


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
             c.comment, c.source, False, "", created, user_id) for c in cleaned]
    if len(rows) == 1 and connection.vendor == "postgresql":
        ids = [_insert_one_with_values(rows[0], cleaned[0].values)]
    else:
        ids = _insert_many(rows, cleaned)
    samples = []
    for pk, c in zip(ids, cleaned, strict=True):
        sample = Sample(id=pk, characteristic=ch, timestamp=c.timestamp, n=c.n, mean=c.mean,
                        range=c.range, sd=c.sd, count=c.count, batch=c.batch,
                        operator=c.operator, comment=c.comment, source=c.source,
                        created_at=now, created_by=user if user_id else None)
        sample._state.adding = False
        sample._state.db = connection.alias
        sample._values = c.values  # the response needs them; no need to read them back
        samples.append(sample)
    return samples


_ONE_ROW = "(" + ", ".join(["%s"] * len(_SAMPLE_COLUMNS)) + ")"
# PostgreSQL: one sample and its values in one statement (a round trip less per sample).
_INSERT_ONE_WITH_VALUES = (
    f"WITH s AS (INSERT INTO spc_sample ({', '.join(_SAMPLE_COLUMNS)}) VALUES {_ONE_ROW} "
    "RETURNING id), "
    "m AS (INSERT INTO spc_measurement (sample_id, position, value) "
    "SELECT s.id, v.position, v.value FROM s, "
    "unnest(%s::integer[], %s::double precision[]) AS v(position, value)) "
    "SELECT id FROM s"
)


def _insert_one_with_values(row, values) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ONE_WITH_VALUES,
                       [*row, list(range(len(values))), [float(v) for v in values]])
        return cursor.fetchone()[0]


def _insert_many(rows, cleaned) -> list[int]:
    ids: list[int] = []
    one = _ONE_ROW
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            cursor.execute(
                f"INSERT INTO spc_sample ({_quoted(_SAMPLE_COLUMNS)}) VALUES "
                + ", ".join([one] * len(chunk)) + " RETURNING id",
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


def window(ch, start: datetime | None, end: datetime | None, last: int) -> list[Row]:
    """The last `last` non-excluded samples of the stage [start, end), in time order."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = ("SELECT id, timestamp, n, mean, range, sd, count FROM spc_sample "
           "WHERE characteristic_id = %s AND excluded = %s")
    params: list = [ch.pk, False]
    if start is not None:
        sql += " AND timestamp >= %s"
        params.append(adapt(start))
    if end is not None:
        sql += " AND timestamp < %s"
        params.append(adapt(end))
    sql += " ORDER BY timestamp DESC, id DESC LIMIT %s"
    params.append(last)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    fetched.reverse()
    return [Row(r[0], _moment(r[1]), *r[2:]) for r in fetched]


def _moment(value) -> datetime:
    """A stored timestamp as an aware datetime: PostgreSQL hands one over (the session runs in
    UTC); SQLite keeps the naive UTC text Django wrote."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
