"""The sample reads and writes on the pipeline's hot path, in plain SQL.

Recording one sample must cost a few milliseconds in all, and Django's ORM spends ~0.5–1 ms
compiling each query and building each model instance — more than SQLite or PostgreSQL take
to run them. These few statements are written out once instead: the rows in a batch go in with
one multi-row INSERT … RETURNING per chunk (ids in the order given, as Django's own bulk_create
relies on) and one executemany for their measurements, and the rule window is read as tuples.
Both backends take the same SQL; values pass through Django's own adapters.
"""

from datetime import UTC, datetime

from django.db import connection

from spc.evaluation import Row
from spc.models import Sample

_SAMPLE_COLUMNS = ("characteristic_id", "timestamp", "n", "mean", "range", "sd", "count", "batch",
                   "operator", "comment", "source", "excluded", "exclusion_reason", "created_at",
                   "created_by_id")
_CHUNK = 500  # rows per INSERT: 15 columns × 500 stays under SQLite's 32,766 parameters


def _quoted(names) -> str:
    return ", ".join(connection.ops.quote_name(n) for n in names)


def insert(ch, cleaned, user, now: datetime) -> list[Sample]:
    """Store the cleaned samples and their measurements; the Sample objects, with ids."""
    adapt = connection.ops.adapt_datetimefield_value
    created = adapt(now)
    user_id = getattr(user, "pk", None)
    rows = [(ch.pk, adapt(c.timestamp), c.n, c.mean, c.range, c.sd, c.count, c.batch, c.operator,
             c.comment, c.source, False, "", created, user_id) for c in cleaned]
    ids: list[int] = []
    one = "(" + ", ".join(["%s"] * len(_SAMPLE_COLUMNS)) + ")"
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
