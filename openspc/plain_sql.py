"""Model instances from plain SQL, for the few queries on the hot path of every request.

Django's ORM compiles each query anew (~0.3–0.6 ms), and `Model.objects.raw()` still asks every
column for its database converters on every query (~0.3 ms for a wide model). Here the column
list and the converters of a model are worked out once per model and database, then each query
is one `SELECT` of those columns and `Model.from_db` per row — the same instances, with the same
conversions (datetimes, JSON, booleans) Django itself applies.
"""

from django.db import connections

_COLUMNS: dict[tuple[str, type], tuple[str, list[str], list[tuple]]] = {}


def _columns(model, alias: str):
    key = (alias, model)
    known = _COLUMNS.get(key)
    if known is None:
        connection = connections[alias]
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        select = ", ".join(quote(f.column) for f in fields)
        names = [f.attname for f in fields]
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                converters.append((i, found, col))
        known = _COLUMNS[key] = (f"SELECT {select} FROM {quote(model._meta.db_table)}", names,
                                 converters)
    return known


def fetch(model, where: str, params, using: str = "default") -> list:
    """Instances of `model` from `SELECT <its columns> FROM <its table> <where>`; `where` holds
    the rest of the statement (WHERE, ORDER BY, LIMIT) with %s placeholders."""
    select, names, converters = _columns(model, using)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {where}", params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        if converters:
            row = list(row)
            for i, funcs, col in converters:
                value = row[i]
                for func in funcs:
                    value = func(value, col, connection)
                row[i] = value
        out.append(model.from_db(using, names, row))
    return out
