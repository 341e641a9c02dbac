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


def fetch(model, where: str, params, using: str = "default") -> list:
    """Instances of `model` from `SELECT <its columns> FROM <its table> <where>`; `where` holds
    the rest of the statement (WHERE, ORDER BY, LIMIT, FOR UPDATE) with %s placeholders."""
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(model, using=using)} FROM {table} {where}", params)
        rows = cursor.fetchall()
    return [instance(model, row, using) for row in rows]
