"""Input that once answered 500: each is a 400 with a message for the field, and writes nothing.

'²'.isdigit() is true but int('²') fails; a JSON integer of 400 digits overflows float(); a
20-digit id or page offset overflows the database driver.
"""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc.models import Characteristic, ChartType, ControlLimits, Sample, Violation
from spc.tests.factories import CharacteristicFactory

HUGE = 10**399  # 400 digits: valid JSON, beyond any float
BAD_IDS = ["²", "٣", "--5", "-1", "0", " 7", "+7", "1_000", "7.0", "", "9" * 30, "9223372036854775808"]


@pytest.fixture
def api(cast):
    client = APIClient()
    client.force_authenticate(cast.engineer)
    return client


@pytest.fixture
def line(cast):
    return NodeFactory(plant=cast.plant, name="Line 1", level=Level.LINE)


@pytest.fixture
def p_chart(line):
    return CharacteristicFactory(node=line, chart_type=ChartType.P, subgroup_size=50)


@pytest.fixture
def imr(line):
    return CharacteristicFactory(node=line)


def _samples(ch):
    return f"/api/v1/characteristics/{ch.pk}/samples/"


@pytest.mark.parametrize("url, name", [
    ("/api/v1/violations/", "plant"),
    ("/api/v1/violations/", "characteristic"),
    ("/api/v1/characteristics/", "plant"),
    ("/api/v1/characteristics/", "node"),
    ("/api/v1/reason-codes/", "plant"),
    ("/api/v1/hierarchy/", "plant"),
    ("/api/v1/hierarchy/tree/", "plant"),
])
@pytest.mark.parametrize("value", BAD_IDS)
def test_an_id_filter_that_is_not_a_plain_number_is_a_400(api, url, name, value):
    r = api.get(url, {name: value})
    assert r.status_code == 400, (value, r.content)
    assert r.json() == {name: ["Give a numeric id."]}


def test_an_id_filter_still_filters(api, cast, imr):
    CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    r = api.get("/api/v1/characteristics/", {"node": str(imr.node_id)})
    assert [c["id"] for c in r.json()["results"]] == [imr.pk]
    assert api.get("/api/v1/hierarchy/tree/").json() == {"plant": ["Give a numeric id."]}


@pytest.mark.parametrize("params, name", [
    ({"rule": "²"}, "rule"), ({"rule": "9" * 30}, "rule"),
    ({"from": "yesterday"}, "from"), ({"to": "²"}, "to"),
])
def test_a_bad_violation_filter_is_a_400_naming_it(api, params, name):
    r = api.get("/api/v1/violations/", params)
    assert r.status_code == 400 and list(r.json()) == [name], r.content


@pytest.mark.parametrize("body, field, text", [
    ({"count": "²", "sample_size": 50}, "count", "whole number"),
    ({"count": "--5", "sample_size": 50}, "count", "whole number"),
    ({"count": "٣", "sample_size": 50}, "count", "whole number"),
    ({"count": HUGE, "sample_size": 50}, "count", "out of range"),
    ({"count": "9" * 400, "sample_size": 50}, "count", "out of range"),
    ({"count": "9" * 5000, "sample_size": 50}, "count", "out of range"),
    ({"count": 1e300, "sample_size": 50}, "count", "out of range"),
    ({"count": 2**31, "sample_size": 2**31}, "count", "out of range"),
    ({"count": 3, "sample_size": "²"}, "sample_size", "whole number"),
    ({"count": 3, "sample_size": HUGE}, "sample_size", "out of range"),
])
def test_a_bad_count_or_sample_size_is_a_400_and_writes_nothing(api, p_chart, body, field, text):
    r = api.post(_samples(p_chart), body, format="json")
    assert r.status_code == 400, r.content
    assert text in " ".join(r.json()[field])
    assert not Sample.objects.exists()


@pytest.mark.parametrize("value, text", [
    (HUGE, "too large"), (-HUGE, "too large"), ("9" * 400, "too large"), ("1e999", "too large"),
    (1e200, "too large"), ("²", "not a number"), ("٣", "not a number"),
])
def test_a_value_beyond_any_float_is_a_400_and_writes_nothing(api, imr, value, text):
    r = api.post(_samples(imr), {"values": [value]}, format="json")
    assert r.status_code == 400, r.content
    assert text in " ".join(r.json()["values"])
    assert not Sample.objects.exists()


def test_bulk_names_the_row_of_a_huge_value_and_writes_nothing(api, imr):
    r = api.post(f"{_samples(imr)}bulk/", {"samples": [{"values": [1.0]}, {"values": [HUGE]}]},
                 format="json")
    assert r.status_code == 400
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "values")]
    assert not Sample.objects.exists()


def test_a_correction_to_a_bad_count_is_a_400_and_changes_nothing(api, p_chart):
    sid = api.post(_samples(p_chart), {"count": 3, "sample_size": 50}, format="json").json()["id"]
    r = api.patch(f"{_samples(p_chart)}{sid}/", {"count": "²", "reason": "typo"}, format="json")
    assert r.status_code == 400 and "count" in r.json(), r.content
    assert Sample.objects.get(pk=sid).count == 3


@pytest.mark.parametrize("view", ["chart-data", "capability"])
@pytest.mark.parametrize("last", ["-1", "0", "²", "9" * 30])
def test_a_bad_last_is_a_400(api, imr, view, last):
    r = api.get(f"/api/v1/characteristics/{imr.pk}/{view}/", {"last": last})
    assert r.status_code == 400, r.content


@pytest.mark.parametrize("body, field", [
    ({"center": 1e308, "sigma": 1.0, "reason": "r"}, "center"),
    ({"center": 10, "sigma": 1e300, "reason": "r"}, "sigma"),
    ({"center": 10, "sigma": HUGE, "reason": "r"}, "sigma"),
])
def test_manual_limits_beyond_the_value_range_are_a_400(api, imr, body, field):
    r = api.post(f"/api/v1/characteristics/{imr.pk}/limits/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert not ControlLimits.objects.exists()


@pytest.mark.parametrize("name", ["first_n", "last_n"])
def test_a_recalculation_over_too_many_samples_is_a_400(api, imr, name):
    r = api.post(f"/api/v1/characteristics/{imr.pk}/limits/recalculate/",
                 {name: 10**20, "reason": "r"}, format="json")
    assert r.status_code == 400 and name in r.json(), r.content


@pytest.mark.parametrize("field, value", [
    ("usl", 1e308), ("lsl", -HUGE), ("target", 1e200), ("cusum_h", 0), ("cusum_k", -1),
    ("ewma_l", 0), ("ewma_l", 1e300), ("sampling_interval", "999999999 00:00:00"),
    ("sampling_interval", "-1 00:00:00"),
])
def test_a_characteristic_with_an_unusable_parameter_is_a_400(api, line, field, value):
    body = {"node": line.pk, "name": "Bore", "chart_type": "cusum", "subgroup_size": 1,
            field: value}
    r = api.post("/api/v1/characteristics/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert not Characteristic.objects.exists()


def test_acknowledging_ids_or_a_reason_code_beyond_any_id_is_a_400(api, imr):
    at = (timezone.now() - timedelta(hours=1)).isoformat()
    r = api.post(f"/api/v1/characteristics/{imr.pk}/limits/",
                 {"center": 10, "sigma": 1, "reason": "known", "effective_from": at}, format="json")
    assert r.status_code == 201, r.content
    violation = api.post(_samples(imr), {"values": [20]}, format="json").json()["violations"][0]
    for url, body in [
        ("/api/v1/violations/acknowledge/", {"ids": [2**63], "reason_code": 1}),
        ("/api/v1/violations/acknowledge/", {"ids": [True], "reason_code": 1}),
        ("/api/v1/violations/acknowledge/", {"ids": [violation["id"]], "reason_code": 10**30}),
        (f"/api/v1/violations/{violation['id']}/acknowledge/", {"reason_code": 10**30}),
    ]:
        r = api.post(url, body, format="json")
        assert r.status_code == 400, (body, r.content)
    assert not Violation.objects.filter(acknowledged_at__isnull=False).exists()


@pytest.mark.parametrize("params", [{"limit": "9" * 20}, {"offset": "9" * 20},
                                    {"limit": "²", "offset": "-3"}])
@pytest.mark.parametrize("url", ["/api/v1/plants/", "/api/v1/violations/",
                                 "/api/v1/characteristics/", "/api/v1/hierarchy/"])
def test_any_page_size_or_offset_answers_a_page(api, url, params):
    r = api.get(url, params)
    assert r.status_code == 200 and isinstance(r.json()["results"], list), r.content


def test_any_page_of_samples_answers_a_page(api, imr):
    assert api.get(_samples(imr), {"limit": "9" * 20, "offset": "9" * 20}).status_code == 200


@pytest.mark.parametrize("path", ["characteristics/abc/", "characteristics/1/nothing/",
                                  "characteristics/%0A/limits/", "nothing/"])
def test_a_path_the_api_does_not_have_is_a_json_404(api, path):
    for method in (api.get, api.post):
        r = method(f"/api/v1/{path}")
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}


def test_a_path_without_its_slash_is_still_redirected(api):
    assert api.get("/api/v1/plants").status_code == 301


def _upload(api, ch, name, content):
    return api.post(f"/api/v1/characteristics/{ch.pk}/samples/import/",
                    {"file": SimpleUploadedFile(name, content)}, format="multipart")


@pytest.mark.parametrize("cell", ["²", "٣", "9" * 400, "1e300", "2147483648"])
def test_an_imported_count_that_cannot_be_stored_is_reported_by_row(api, p_chart, cell):
    at = (timezone.now() - timedelta(days=1)).isoformat()
    r = _upload(api, p_chart, "h.csv", f"timestamp,count,sample_size\n{at},{cell},50\n".encode())
    assert r.status_code == 400, r.content
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "count")]
    assert not Sample.objects.exists()


def test_an_imported_time_before_the_year_1_in_utc_is_reported_by_row(api, imr):
    r = _upload(api, imr, "h.csv", b"timestamp,value\n0001-01-01T00:00:00+14:00,10\n")
    assert r.status_code == 400, r.content
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "timestamp")]
    assert not Sample.objects.exists()


def test_an_imported_xlsx_cell_beyond_any_float_is_reported_by_row(api, imr):
    import io
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["timestamp", "value"])
    book.active.append([timezone.now().replace(tzinfo=None) - timedelta(days=1), 123456789])
    saved, patched = io.BytesIO(), io.BytesIO()
    book.save(saved)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():  # openpyxl cannot write the number; Excel's XML can hold it
            data = source.read(item.filename)
            target.writestr(item, data.replace(b"<v>123456789</v>", f"<v>{HUGE}</v>".encode()))
    r = _upload(api, imr, "h.xlsx", patched.getvalue())
    assert r.status_code == 400, r.content
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "value")]
    assert not Sample.objects.exists()


def test_a_value_column_with_a_huge_number_is_an_unknown_column(api, imr):
    r = _upload(api, imr, "h.csv", b"timestamp,value,value99999999999\n2024-01-01T00:00:00,1,2\n")
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["value99999999999"]


def test_the_schema_documents_every_error_status(client):
    schema = json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content)
    samples = schema["paths"]["/api/v1/characteristics/{id}/samples/"]
    assert {"400", "401", "403", "404", "413", "415"} <= set(samples["post"]["responses"])
    assert {"200", "400", "401", "403", "404"} <= set(samples["get"]["responses"])
    violations = schema["paths"]["/api/v1/violations/"]["get"]
    assert {"plant", "characteristic", "rule", "from", "to"} <= {
        p["name"] for p in violations["parameters"]}


def test_a_username_longer_than_any_user_can_have_is_a_400(cast):
    r = APIClient().post("/api/v1/auth/token/", {"username": "u" * 300, "password": "x"},
                         format="json")
    assert r.status_code == 400 and "username" in r.json(), r.content
