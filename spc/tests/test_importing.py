"""Import of historical samples from CSV and Excel files: real files, the real pipeline."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from plants.roles import Role
from plants.tests.factories import UserFactory, user_with_role
from spc.importing import ImportInvalid, import_file, parse
from spc.models import ChartType, Measurement, Sample, Source
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
IMR = {"chart_type": ChartType.IMR}
XBAR5 = {"chart_type": ChartType.XBAR_R, "subgroup_size": 5}
P50 = {"chart_type": ChartType.P, "subgroup_size": 50}


def _write(tmp_path, content, name="samples.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _import(path, ch, user=None):
    with path.open("rb") as handle:
        return import_file(handle, path.name, ch, user)


def _rejected(path, ch):
    """The (row, field, message) of each error; and nothing may have been written."""
    with pytest.raises(ImportInvalid) as caught:
        _import(path, ch)
    assert Sample.objects.count() == 0 and Measurement.objects.count() == 0
    return [(e["row"], e["field"], e["message"]) for e in caught.value.errors]


def test_a_csv_for_an_individuals_chart_keeps_the_timestamps_it_gives(tmp_path, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    ch = CharacteristicFactory(**IMR)
    path = _write(tmp_path, "timestamp,value,batch,operator,comment\n"
                            "2024-03-01 08:00:00,10.1,B-17,anna,\n"
                            "2024-03-01T08:10:00Z,10.3,B-17,anna,re-measured\n"
                            "2024-03-01T10:20:00+02:00,9.8,,,\n")
    result = _import(path, ch)
    samples = list(Sample.objects.order_by("timestamp"))
    assert [s.timestamp for s in samples] == [
        datetime(2024, 3, 1, 8, 0, tzinfo=BERLIN),  # naive: the server's TIME_ZONE
        datetime(2024, 3, 1, 8, 10, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 20, tzinfo=UTC),
    ]
    assert [s.mean for s in samples] == [10.1, 10.3, 9.8]
    assert [(s.batch, s.operator, s.comment) for s in samples][:2] == [
        ("B-17", "anna", ""), ("B-17", "anna", "re-measured")]
    assert {s.source for s in samples} == {Source.IMPORT}
    assert (result.samples, result.violations) == (3, 0)
    assert (result.first_timestamp, result.last_timestamp) == (samples[0].timestamp,
                                                              samples[-1].timestamp)


def test_an_xbar_r_csv_with_value1_to_value5_stores_every_subgroup_in_order(tmp_path):
    ch = CharacteristicFactory(**XBAR5)
    path = _write(tmp_path, "Timestamp,Value1,Value2,Value3,Value4,Value5\n"
                            "2024-03-01 08:00,10.0,10.2,9.9,10.1,10.3\n"
                            "2024-03-01 09:00,9.7,10.0,10.4,10.1,9.8\n")
    assert _import(path, ch).samples == 2
    first, second = Sample.objects.order_by("timestamp")
    assert first.n == 5 and first.mean == pytest.approx(10.1)
    assert second.range == pytest.approx(0.7)
    assert list(first.measurements.values_list("value", flat=True)) == [10.0, 10.2, 9.9, 10.1,
                                                                        10.3]


def test_a_semicolon_csv_with_a_bom_and_decimal_commas_reads_the_numbers(tmp_path):
    ch = CharacteristicFactory(**IMR)
    path = _write(tmp_path, "\ufeff Timestamp ; VALUE ;Operator\r\n"
                            "2024-03-01 08:00;10,25;Jörg\r\n"
                            "2024-03-01 08:05;9.75;Jörg\r\n")
    assert _import(path, ch).samples == 2
    assert list(Sample.objects.order_by("timestamp").values_list("mean", "operator")) == [
        (10.25, "Jörg"), (9.75, "Jörg")]


def test_an_xlsx_with_datetime_cells_imports_a_p_chart_with_counts_and_sample_sizes(tmp_path):
    ch = CharacteristicFactory(**P50)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Timestamp", " Count ", "Sample_Size", "Batch"])
    sheet.append([datetime(2024, 3, 1, 6, 0), 2, 50, 4711])
    sheet.append([datetime(2024, 3, 1, 14, 0), 5, 48, "B-2"])
    sheet.append([None, None, None, None])  # an empty row is skipped, not an error
    sheet.append([datetime(2024, 3, 1, 22, 0), 0, 52, None])
    workbook.save(tmp_path / "shifts.xlsx")
    result = _import(tmp_path / "shifts.xlsx", ch)
    assert result.samples == 3
    samples = Sample.objects.order_by("timestamp")
    assert [(s.count, s.n, s.batch) for s in samples] == [(2, 50, "4711"), (5, 48, "B-2"),
                                                          (0, 52, "")]
    assert samples[0].timestamp == timezone.make_aware(datetime(2024, 3, 1, 6, 0))


def test_variable_subgroups_may_leave_trailing_cells_empty_and_name_columns_x1_to_xn(tmp_path):
    ch = CharacteristicFactory(chart_type=ChartType.XBAR_S, subgroup_size=4,
                               variable_subgroup_size=True)
    path = _write(tmp_path, "timestamp,x1,x2,x3,x4\n"
                            "2024-03-01 08:00,1,2,3,4\n"
                            "2024-03-01 09:00,1,2,,\n")
    _import(path, ch)
    assert list(Sample.objects.order_by("timestamp").values_list("n", flat=True)) == [4, 2]


def test_a_c_chart_file_may_leave_out_the_sample_size(tmp_path):
    ch = CharacteristicFactory(chart_type=ChartType.C, subgroup_size=1)
    _import(_write(tmp_path, "timestamp,count\n2024-03-01 08:00,7\n"), ch)
    assert Sample.objects.get().count == 7


def test_parse_gives_import_requests_in_file_order_without_writing_anything(tmp_path):
    ch = CharacteristicFactory(**IMR)
    path = _write(tmp_path, "timestamp,value\n2024-03-02 08:00,2\n2024-03-01 08:00,1\n")
    requests = parse(path, path.name, ch)
    assert [(r.values, r.source) for r in requests] == [([2.0], Source.IMPORT),
                                                        ([1.0], Source.IMPORT)]
    assert Sample.objects.count() == 0


CSV_HEAD = "timestamp,value\n"
GOOD = "2024-03-01 08:00,10.0\n"


@pytest.mark.parametrize("chart, name, content, row, field, fragment", [
    (IMR, "bad_time.csv", CSV_HEAD + GOOD + "01.03.2024 08:00,10.0\n", 3, "timestamp", "ISO 8601"),
    (IMR, "no_time.csv", CSV_HEAD + ",10.0\n", 2, "timestamp", "empty"),
    (IMR, "text.csv", CSV_HEAD + GOOD * 2 + "2024-03-01 09:00,ten\n", 4, "value",
     "'ten' is not a number"),
    (IMR, "future.csv", CSV_HEAD + "2099-01-01 00:00,10.0\n", 2, "timestamp", "in the future"),
    (IMR, "no_ts_col.csv", "value,batch\n10.0,B1\n", 1, "timestamp", "required"),
    (IMR, "no_value.csv", "timestamp,batch\n2024-03-01 08:00,B1\n", 1, "value", "required"),
    (IMR, "typo.csv", "timestamp,value,operater\n" + "2024-03-01 08:00,1,anna\n", 1,
     "operater", "Unknown column 'operater'"),
    (IMR, "extra.csv", CSV_HEAD + "2024-03-01 08:00,10.0,oops\n", 2, "column C",
     "outside the columns"),
    (IMR, "empty.csv", "", 0, "file", "empty"),
    (IMR, "blank.csv", "\ufeff\n\n", 0, "file", "empty"),
    (IMR, "header_only.csv", CSV_HEAD, 0, "file", "no data rows"),
    (IMR, "old.xls", b"\xd0\xcf\x11\xe0 old excel", 0, "file", "save it as .xlsx"),
    (IMR, "notes.txt", CSV_HEAD + GOOD, 0, "file", "use a .csv or .xlsx"),
    (IMR, "broken.xlsx", CSV_HEAD + GOOD, 0, "file", "not a readable Excel workbook"),
    (IMR, "latin1.csv", (CSV_HEAD + GOOD + "2024-03-01 09:00,1,M\xfcller\n").encode("latin-1"),
     3, "file", "not UTF-8"),
    (XBAR5, "four.csv", "timestamp,value1,value2,value3,value4\n2024-03-01 08:00,1,2,3,4\n",
     1, "value5", "value1..value5 are needed"),
    (XBAR5, "gap.csv", "timestamp,value1,value2,value3,value4,value5\n"
                       "2024-03-01 08:00,1,,3,4,5\n", 2, "value2", "later value"),
    (XBAR5, "single.csv", CSV_HEAD + GOOD, 1, "value", "value1, value2"),
    (P50, "over.csv", "timestamp,count,sample_size\n2024-03-01 08:00,51,50\n", 2, "count",
     "cannot exceed"),
    (P50, "half.csv", "timestamp,count,sample_size\n2024-03-01 08:00,2.5,50\n", 2, "count",
     "whole number"),
    (P50, "no_size.csv", "timestamp,count\n2024-03-01 08:00,2\n", 1, "sample_size", "required"),
    (P50, "values.csv", "timestamp,value,count,sample_size\n2024-03-01 08:00,1,2,50\n", 1,
     "value", "not values"),
])
def test_bad_input_names_the_row_and_field_and_writes_nothing(
        tmp_path, chart, name, content, row, field, fragment):
    ch = CharacteristicFactory(**chart)
    errors = _rejected(_write(tmp_path, content, name), ch)
    assert [(r, f) for r, f, _ in errors] == [(row, field)]
    assert fragment in errors[0][2]


def test_parsing_errors_are_reported_for_every_row_not_only_the_first(tmp_path):
    ch = CharacteristicFactory(**IMR)
    path = _write(tmp_path, CSV_HEAD + "yesterday,1\n" + GOOD + "2024-03-01 09:00,\n"
                  + GOOD + "2024-02-30 10:00,1e\n")
    errors = _rejected(path, ch)
    assert [(r, f) for r, f, _ in errors] == [(2, "timestamp"), (4, "value"), (6, "timestamp"),
                                             (6, "value")]


def test_row_3_with_the_wrong_number_of_values_and_row_5_with_nan_text_are_both_reported(
        tmp_path):
    ch = CharacteristicFactory(**XBAR5)
    path = _write(tmp_path, "timestamp,value1,value2,value3,value4,value5\n"
                            "2024-03-01 08:00,1,2,3,4,5\n"
                            "2024-03-01 09:00,1,2,3,4,\n"
                            "2024-03-01 10:00,1,2,3,4,5\n"
                            "2024-03-01 11:00,1,2,NaN,4,5\n")
    errors = _rejected(path, ch)
    assert [(r, f) for r, f, _ in errors] == [(3, "values"), (5, "value3")]
    assert "exactly 5 values" in errors[0][2] and "'NaN' is not a number" in errors[1][2]


def test_the_command_imports_a_file_and_says_how_many_samples_and_violations(tmp_path, capsys):
    ch = CharacteristicFactory(**IMR)
    user = user_with_role(ch.plant, Role.OPERATOR)
    path = _write(tmp_path, CSV_HEAD + "2024-03-01T08:00:00+00:00,10\n"
                                       "2024-03-01T09:00:00+00:00,11\n")
    call_command("import_samples", ch.plant.code.lower(), str(ch.pk), str(path),
                 "--user", user.username)
    assert capsys.readouterr().out.strip() == (
        "Imported 2 samples (0 violations) from 2024-03-01 08:00:00+00:00 "
        "to 2024-03-01 09:00:00+00:00")
    assert {s.created_by for s in Sample.objects.all()} == {user}


def test_the_command_fails_with_one_line_per_error_and_writes_nothing(tmp_path):
    ch = CharacteristicFactory(**IMR)
    path = _write(tmp_path, CSV_HEAD + GOOD * 5 + "2024-13-01 08:00,abc\n")
    with pytest.raises(CommandError) as caught:
        call_command("import_samples", ch.plant.code, str(ch.pk), str(path))
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 error(s) in samples.csv; nothing was imported:"
    assert lines[1].startswith("row 7, timestamp: '2024-13-01 08:00' is not an ISO 8601")
    assert lines[2] == "row 7, value: 'abc' is not a number."
    assert Sample.objects.count() == 0


def test_the_command_refuses_a_characteristic_of_another_plant_or_a_user_without_a_role(
        tmp_path):
    ch = CharacteristicFactory(**IMR)
    other = CharacteristicFactory(**IMR)
    path = _write(tmp_path, CSV_HEAD + GOOD)
    with pytest.raises(CommandError, match=f"no characteristic {other.pk} at plant "
                                           f"{ch.plant.code}"):
        call_command("import_samples", ch.plant.code, str(other.pk), str(path))
    outsider = UserFactory()
    with pytest.raises(CommandError, match="may not enter data"):
        call_command("import_samples", ch.plant.code, str(ch.pk), str(path),
                     "--user", outsider.username)
    assert Sample.objects.count() == 0


def _twelve_thousand_rows(last_timestamp):
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [f"{(start + timedelta(minutes=i)).isoformat()},{rng.gauss(10, 1):.3f}"
            for i in range(11_999)]
    return CSV_HEAD + "\n".join(rows) + f"\n{last_timestamp},10.0\n"


def test_a_file_of_12000_rows_with_an_invalid_last_row_writes_nothing_at_all(tmp_path):
    ch = CharacteristicFactory(**IMR)
    # The first 10,000 rows are a valid batch that gets recorded; the last row fails in the
    # second batch, and the whole file is rolled back.
    errors = _rejected(_write(tmp_path, _twelve_thousand_rows("2099-01-01T00:00:00+00:00")), ch)
    assert [(r, f) for r, f, _ in errors] == [(12_001, "timestamp")]


def test_a_file_of_12000_rows_is_recorded_in_batches_as_one_import(tmp_path):
    ch = CharacteristicFactory(**IMR)
    result = _import(_write(tmp_path, _twelve_thousand_rows("2024-02-01T00:00:00+00:00")), ch)
    assert result.samples == Sample.objects.count() == 12_000
    assert result.first_timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert result.last_timestamp == datetime(2024, 2, 1, tzinfo=UTC)
