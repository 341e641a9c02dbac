"""Import of historical samples from a CSV or Excel (.xlsx) file: a thin source of the pipeline.

A file becomes one SampleRequest per data row (source = IMPORT, the given timestamps kept) and
goes through `record_samples` like every other sample. Errors name the row as the user sees it
in the file (the header is row 1, the first data row is row 2; row 0 is the file as a whole) and
the column or field. A file is imported all or nothing, however many batches it takes.

Accepted layout: a header row, then one row per sample. Columns (case-insensitive, surrounding
spaces ignored): `timestamp` (required: ISO 8601 text or an Excel date/time cell; naive times
are in the server's TIME_ZONE); for variables charts `value` (individuals) or `value1..valueN` /
`x1..xN` (subgroups); for attribute charts `count` and `sample_size` (optional for c charts);
optionally `batch`, `operator`, `comment`. Any other column is an error.
"""

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db import transaction
from django.utils import timezone

from spc.engine import MAX_N
from spc.models import Characteristic, ChartType, Source
from spc.pipeline import MAX_BATCH, BatchInvalid, record_samples
from spc.sample_input import SampleInvalid, SampleRequest, clean

FILE = 0  # the row number of errors about the file as a whole
HEADER = 1
TEXT_COLUMNS = ("batch", "operator", "comment")
_NUMBERED = re.compile(r"(?:value|x)([0-9]{1,4})")  # value1…value9999; more is no value column
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INDIVIDUALS = (ChartType.IMR, ChartType.EWMA, ChartType.CUSUM)


class ImportInvalid(ValueError):
    """A file that cannot be imported: errors = [{"row": int, "field": str, "message": str}].

    `row` is the row number in the file as the user sees it (header = 1); 0 means the file itself.
    """

    def __init__(self, errors: list[dict]):
        self.errors = sorted(errors, key=lambda e: e["row"])
        shown = "; ".join(self.lines()[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} error(s), nothing was imported: {shown}{more}")

    def lines(self) -> list[str]:
        """One line per error: "row 7, timestamp: …" (or "file: …" for the file as a whole)."""
        return [f"{e['field']}: {e['message']}" if e["row"] == FILE
                else f"row {e['row']}, {e['field']}: {e['message']}" for e in self.errors]


@dataclass
class ImportResult:
    samples: int
    violations: int
    first_timestamp: datetime
    last_timestamp: datetime


@dataclass
class _Layout:
    """Where each field is in the header: column indexes by canonical name."""

    timestamp: int
    values: list[tuple[int, str]]  # (column index, column name) in value order
    count: int | None
    sample_size: int | None
    text: dict[str, int]
    width: int
    individual: bool
    sample_size_required: bool


@dataclass
class _Row:
    row: int
    request: SampleRequest


def parse(file, filename: str, characteristic: Characteristic) -> list[SampleRequest]:
    """The sample requests of a file, in file order; raises ImportInvalid on any parsing error.

    `file` is a binary file object, bytes, or a path. Only the reading is checked here (header,
    timestamps, numbers); what the characteristic accepts is checked when recording.
    """
    _, rows, errors = _read(file, filename, characteristic)
    if errors:
        raise ImportInvalid(errors)
    return [r.request for r in rows]


def import_file(file, filename: str, characteristic: Characteristic, user=None) -> ImportResult:
    """Parse a file and record all its samples in one transaction; raises ImportInvalid."""
    layout, rows, errors = _read(file, filename, characteristic)
    if errors:
        # Report what recording would reject too, so one round of fixes is enough.
        raise ImportInvalid(errors + _check(characteristic, rows, layout))
    # Time order makes every batch follow the one before (same result, no re-evaluation);
    # the sort is stable, so samples with equal timestamps keep the file's order.
    rows.sort(key=lambda r: r.request.timestamp)
    samples = violations = 0
    with transaction.atomic():
        for start in range(0, len(rows), MAX_BATCH):
            batch = rows[start:start + MAX_BATCH]
            if errors:  # the import fails anyway: only validate the rest, for the report
                errors += _check(characteristic, batch, layout)
                continue
            try:
                recorded = record_samples(characteristic, [r.request for r in batch], user)
            except BatchInvalid as exc:
                errors += [error for index, fields in sorted(exc.errors.items())
                           for error in _field_errors(batch[index].row, fields, layout)]
                continue
            samples += len(recorded)
            violations += sum(len(r.violations) for r in recorded)
        if errors:
            raise ImportInvalid(errors)  # rolls back the batches already recorded
    return ImportResult(samples, violations, rows[0].request.timestamp,
                        rows[-1].request.timestamp)


def _check(ch: Characteristic, rows: list[_Row], layout: _Layout | None) -> list[dict]:
    """The pipeline's validation of rows, as import errors (nothing is written)."""
    now, errors = timezone.now(), []
    for r in rows:
        try:
            clean(ch, r.request, now)
        except SampleInvalid as exc:
            errors += _field_errors(r.row, exc.errors, layout)
    return errors


def _field_errors(row: int, fields: dict[str, list[str]], layout: _Layout | None) -> list[dict]:
    def name(field):
        individual = field == "values" and layout is not None and layout.individual
        return layout.values[0][1] if individual else field

    return [_error(row, name(field), message) for field, messages in fields.items()
            for message in messages]


def _error(row: int, field: str, message: str) -> dict:
    return {"row": row, "field": field, "message": message}


# --- reading the file -------------------------------------------------------------------------

def _read(file, filename: str, ch: Characteristic):
    """(layout, parsed rows, errors): the rows that parsed, and errors for all that did not."""
    extension = os.path.splitext(filename or "")[1].lower()
    if extension == ".xls":
        return None, [], [_error(FILE, "file", "Old Excel .xls files cannot be read: open the "
                                 "file in Excel and save it as .xlsx (Excel Workbook) or CSV.")]
    if extension not in (".csv", ".xlsx"):
        shown = f"'{extension}'" if extension else "without an extension"
        return None, [], [_error(FILE, "file", f"Files {shown} cannot be imported: "
                                 "use a .csv or .xlsx file.")]
    data = _bytes(file)
    if extension == ".csv":
        records, decimal_comma, errors = _csv_records(data)
    else:
        records, errors = _xlsx_records(data), []
        decimal_comma = False
        if isinstance(records, str):
            records, errors = [], [_error(FILE, "file", records)]
    if errors:
        return None, [], errors
    rows = [(number, cells) for number, cells in records if any(_present(c) for c in cells)]
    if not rows:
        return None, [], [_error(FILE, "file", "The file is empty.")]
    (header_row, header), data_rows = rows[0], rows[1:]
    layout, errors = _layout(ch, header_row, header)
    if errors:
        return None, [], errors
    if not data_rows:
        return layout, [], [_error(FILE, "file", "The file has a header row but no data rows.")]
    parsed, errors = [], []
    for number, cells in data_rows:
        request, row_errors = _request(layout, number, cells, decimal_comma)
        if row_errors:
            errors += row_errors
        else:
            parsed.append(_Row(number, request))
    return layout, parsed, errors


def _bytes(file) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as handle:
            return handle.read()
    data = file.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def _csv_records(data: bytes):
    """([(row number, cells)], decimal comma?, errors) of a UTF-8 CSV file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return [], False, [_error(line, "file", "The file is not UTF-8 text (first bad byte on "
                                  "this line): save it as 'CSV UTF-8' and import it again.")]
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        for number, cells in enumerate(reader, start=1):
            records.append((number, cells))
    except csv.Error as exc:
        return [], False, [_error(len(records) + 1, "file", f"Unreadable CSV: {exc}.")]
    return records, delimiter == ";", []


def _xlsx_records(data: bytes):
    """[(row number, cells)] of the first worksheet, or a message when it cannot be read."""
    import openpyxl

    message = "The file is not a readable Excel workbook (.xlsx); is it damaged, or another format?"
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds: zip, XML, key and value errors
        return message
    try:
        if not workbook.worksheets:
            return message
        sheet = workbook.worksheets[0]
        return [(number, list(cells))
                for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1)]
    except Exception:  # a damaged worksheet fails only while it is read
        return message
    finally:
        workbook.close()


def _present(cell) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


# --- the header -------------------------------------------------------------------------------

def _normalize(name) -> str:
    return re.sub(r"[\s-]+", "_", str(name).strip().lower()) if _present(name) else ""


def _layout(ch: Characteristic, row: int, header: list):
    names = [_normalize(cell) for cell in header]
    errors, index = [], {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in index:
            errors.append(_error(row, name, f"The column '{name}' appears twice."))
        index[name] = i
    individual = ch.chart_type in _INDIVIDUALS and ch.subgroup_size == 1
    numbered = {name: int(m.group(1)) for name in index if (m := _NUMBERED.fullmatch(name))}
    value_names = set(numbered) | ({"value"} & set(index))
    kind = f"{ch.name} is charted as {ch.get_chart_type_display()}"
    sample_size_required = ch.is_attribute and ch.chart_type != ChartType.C
    values = []
    if ch.is_attribute:
        for name in sorted(value_names, key=index.get):
            errors.append(_error(row, name, f"{kind}: give a count and a sample size, not values."))
        for name in ("count", "sample_size"):
            if name not in index and (name == "count" or sample_size_required):
                errors.append(_error(row, name, f"The '{name}' column is required: {kind}."))
        allowed = ["count", "sample_size"]
    else:
        for name in ("count", "sample_size"):
            if name in index:
                errors.append(_error(row, name, f"{kind}: give measured values, not '{name}'."))
        values, value_errors = _value_columns(ch, row, index, numbered, individual, kind)
        errors += value_errors
        allowed = ["value" if individual else "value1, value2, …"]
    if "timestamp" not in index:
        errors.append(_error(row, "timestamp", "The 'timestamp' column is required: a "
                             "historical import keeps the time of each sample."))
    known = {"timestamp", "count", "sample_size", *value_names, *TEXT_COLUMNS}
    allowed = ", ".join(["timestamp", *allowed, *TEXT_COLUMNS])
    errors += [_error(row, name, f"Unknown column '{name}'; the columns are: {allowed}.")
               for name in index if name not in known]
    if errors:
        return None, errors
    return _Layout(
        timestamp=index["timestamp"], values=values, count=index.get("count"),
        sample_size=index.get("sample_size"),
        text={name: index[name] for name in TEXT_COLUMNS if name in index},
        width=len(names), individual=individual, sample_size_required=sample_size_required,
    ), []


def _value_columns(ch, row, index, numbered, individual, kind):
    if individual:
        names = (["value"] if "value" in index else []) + sorted(numbered, key=numbered.get)
        if not names:
            return [], [_error(row, "value", f"The 'value' column is required: {kind}.")]
        if len(names) > 1 or numbered.get(names[0], 1) != 1:
            return [], [_error(row, name, f"{kind}, one value per sample: give it in one "
                               "column named 'value'.") for name in names[1:] or names]
        return [(index[names[0]], names[0])], []
    if "value" in index:
        return [], [_error(row, "value", f"{kind}, several values per sample: name the "
                           "columns value1, value2, … (or x1, x2, …).")]
    by_position = {}
    for name, position in sorted(numbered.items(), key=lambda item: index[item[0]]):
        if position in by_position:
            return [], [_error(row, name, f"'{name}' and '{by_position[position]}' are the "
                               "same value column.")]
        by_position[position] = name
    size = ch.subgroup_size
    if not by_position:
        needed = "value1, value2, …" if ch.variable_subgroup_size else f"value1..value{size}"
        return [], [_error(row, "value1", f"The value columns are required: {kind}; name them "
                           f"{needed} (or x1, x2, …).")]
    last = max(by_position)
    missing = [p for p in range(1, last + 1) if p not in by_position]
    if missing:
        return [], [_error(row, f"value{missing[0]}", f"The column value{missing[0]} is missing "
                           f"(the file has value columns up to {by_position[last]}).")]
    if ch.variable_subgroup_size:
        if not 2 <= last <= MAX_N:
            return [], [_error(row, by_position[last], f"{kind}, 2 to {MAX_N} values per "
                               f"sample; the file has {last} value column(s).")]
    elif last != size:
        field = by_position[size + 1] if last > size else f"value{last + 1}"
        return [], [_error(row, field, f"{kind}, {size} values per sample: the columns "
                           f"value1..value{size} are needed; the file has {last}.")]
    return [(index[by_position[p]], by_position[p]) for p in range(1, last + 1)], []


# --- one data row -----------------------------------------------------------------------------

def _request(layout: _Layout, row: int, cells: list, decimal_comma: bool):
    errors = []
    cells = [c.strip() if isinstance(c, str) else c for c in cells]
    cells = [c if _present(c) else None for c in cells]
    for i, cell in enumerate(cells[layout.width:], start=layout.width):
        if cell is not None:
            errors.append(_error(row, f"column {_letter(i)}", "This cell is outside the "
                                 "columns named in the header row."))
    cells += [None] * (layout.width - len(cells))
    request = SampleRequest(source=Source.IMPORT)
    timestamp = _timestamp(cells[layout.timestamp])
    if isinstance(timestamp, str):
        errors.append(_error(row, "timestamp", timestamp))
    else:
        request.timestamp = timestamp
    if layout.values:
        values, given = [], [cells[i] is not None for i, _ in layout.values]
        last = max((k for k, present in enumerate(given) if present), default=-1)
        if last < 0:
            errors.append(_error(row, layout.values[0][1], "No value is given."))
        for i, name in layout.values[:last + 1]:
            if cells[i] is None:
                errors.append(_error(row, name, "This value is empty, but a later value in the "
                                     "row is given."))
                continue
            number = _float(cells[i], decimal_comma)
            if isinstance(number, str):
                errors.append(_error(row, name, number))
            else:
                values.append(number)
        request.values = values
    else:
        for name in ("count", "sample_size"):
            i = getattr(layout, name)
            if i is None:
                continue
            if cells[i] is None:
                if name == "count" or layout.sample_size_required:
                    errors.append(_error(row, name, "This cell is empty."))
                continue
            number = _whole(cells[i], decimal_comma)
            if isinstance(number, str):
                errors.append(_error(row, name, number))
            else:
                setattr(request, name, number)
    for name, i in layout.text.items():
        setattr(request, name, _text(cells[i]))
    return request, errors


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _timestamp(cell):
    """An aware datetime, or the error message."""
    if cell is None:
        return "The timestamp is empty: a historical import keeps the time of each sample."
    if isinstance(cell, datetime):
        value = cell
    elif isinstance(cell, date):
        value = datetime.combine(cell, time())
    elif isinstance(cell, str):
        try:
            value = datetime.fromisoformat(cell)
        except ValueError:
            return (f"'{cell}' is not an ISO 8601 date and time "
                    "(for example 2024-03-01 08:30:00 or 2024-03-01T08:30:00+01:00).")
    else:
        return (f"{cell!r} is not a date and time: use an Excel date/time cell or ISO 8601 "
                "text (for example 2024-03-01 08:30:00).")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    try:
        value.astimezone(UTC)  # it is stored in UTC: 0001-01-01 at +01:00 is before year 1
    except OverflowError:
        return f"'{cell}' is out of the range of dates (years 1 to 9999 in UTC)."
    return value


def _float(cell, decimal_comma: bool):
    """A finite float, or the error message."""
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        return f"{cell!r} is not a number."
    if isinstance(cell, str):
        text = cell
        if decimal_comma and text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            return f"'{cell}' is not a number."
        cell = float(text)
    try:
        number = float(cell)
    except OverflowError:  # a whole number beyond any float (an .xlsx cell can hold one)
        number = math.inf
    if not math.isfinite(number):
        return f"'{cell}' is not a finite number."
    return number


def _whole(cell, decimal_comma: bool):
    """An int, or the error message."""
    number = _float(cell, decimal_comma)
    if isinstance(number, str):
        return number
    if number != int(number):
        return f"'{cell}' is not a whole number."
    return int(number)


def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
