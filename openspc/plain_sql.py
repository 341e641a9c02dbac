"""Model instances from plain SQL, for the few queries on the hot path of every request.

Django's ORM compiles each query anew (~0.3–0.6 ms), and `Model.objects.raw()` still asks every
column for its database converters on every query (~0.3 ms for a wide model). Here the column
list and the converters of a model are worked out once per model and database, then each query
is one `SELECT` of those columns and `Model.from_db` per row — the same instances, with the same
conversions (datetimes, JSON, booleans) Django itself applies.
"""

from django.db import connections

_COLUMNS: dict[tuple[str, type], tuple[list[str], list[str], list[tuple]]] = {}


def _known(model, using: str):
    key = (using, model)
    known = _COLUMNS.get(key)
    if known is None:
        connection = connections[using]
        fields = model._meta.concrete_fields
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                converters.append((i, found, col))
        known = _COLUMNS[key] = ([f.column for f in fields], [f.attname for f in fields],
                                 converters)
    return known


def columns(model, alias: str | None = None, using: str = "default") -> str:
    """The select list of `model`'s columns (qualified by `alias`), in the order `instance`
    reads them."""
    quote = connections[using].ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(c) for c in _known(model, using)[0])


def width(model, using: str = "default") -> int:
    return len(_known(model, using)[0])


def instance(model, row, using: str = "default"):
    """A `model` instance from the first `width(model)` values of `row` (as `columns` lists
    them), converted as the ORM converts them."""
    _, names, converters = _known(model, using)
    values = list(row[:len(names)])
    connection = connections[using]
    for i, funcs, col in converters:
        value = values[i]
        for func in funcs:
            value = func(value, col, connection)
        values[i] = value
    return model.from_db(using, names, values)


def select(model, where: str, using: str = "default") -> str:
    """`SELECT <its columns> FROM <its table> <where>`; `where` holds the rest of the statement
    (WHERE, ORDER BY, LIMIT, FOR UPDATE) with %s placeholders."""
    table = connections[using].ops.quote_name(model._meta.db_table)
    return f"SELECT {columns(model, using=using)} FROM {table} {where}"


def fetch(model, where: str, params, using: str = "default") -> list:
    """Instances of `model` from `select(model, where)`."""
    with connections[using].cursor() as cursor:
        cursor.execute(select(model, where, using), params)
        rows = cursor.fetchall()
    return [instance(model, row, using) for row in rows]


def together(statements, using: str = "default") -> list[list[tuple]]:
    """Run `[(sql, params), …]` — statements that return rows — and return each one's rows.

    On PostgreSQL they go in one round trip (psycopg's pipeline mode, when libpq has it): each
    round trip costs ~0.3–0.5 ms on a busy two-core machine, more than these statements take to
    run. Elsewhere (SQLite has no round trips) one after another."""
    connection = connections[using]
    if not can_pipeline(connection):
        results = []
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
        return results
    connection.ensure_connection()
    cursors = [connection.cursor() for _ in statements]
    try:
        # Errors surface when the pipeline syncs, outside Django's cursor: map them as it would.
        with connection.wrap_database_errors, connection.connection.pipeline():
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                cursor.execute(sql, params)
        # (not cursor.description: psycopg builds a Column for each of the ~60 columns to answer)
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def can_pipeline(connection) -> bool:
    """PostgreSQL with a libpq that has pipeline mode (psycopg's binary build has)."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    return psycopg.Pipeline.is_supported()
