"""The REST API as a machine client uses it: token, characteristics, samples, limits, violations."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from plants.models import Level
from plants.tests.factories import PASSWORD, NodeFactory
from spc.models import Characteristic, ControlLimits, ReasonCode, Sample, Violation
from spc.tests.factories import CharacteristicFactory

T0 = timezone.now() - timedelta(days=1)


@pytest.fixture
def api(cast):
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": "engineer", "password": PASSWORD})
    assert token.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    return client


@pytest.fixture
def line(cast):
    return NodeFactory(plant=cast.plant, name="Line 1", level=Level.LINE)


def _imr(cast, **kw):
    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE), **kw)
    return ch


def _established(cast, api):
    ch = _imr(cast)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/limits/",
                 {"center": 10.0, "sigma": 1.0, "reason": "known", "effective_from": T0.isoformat()},
                 format="json")
    assert r.status_code == 201, r.content
    return ch


def test_the_token_of_a_deactivated_user_is_refused(cast, api):
    assert api.get("/api/v1/plants/").status_code == 200
    cast.engineer.is_active = False
    cast.engineer.save()
    r = api.get("/api/v1/plants/")
    assert r.status_code == 401 and r.json() == {"detail": "User inactive or deleted."}
    assert api.get("/api/v1/plants/", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_a_token_is_issued_for_good_credentials_and_can_be_revoked(cast):
    client = APIClient()
    assert client.post("/api/v1/auth/token/", {"username": "engineer", "password": "x"}).status_code == 400
    key = client.post("/api/v1/auth/token/", {"username": "engineer", "password": PASSWORD}).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/plants/").status_code == 200
    assert client.post("/api/v1/auth/token/revoke/").json() == {"revoked": True}
    assert client.get("/api/v1/plants/").status_code == 401


def test_an_engineer_creates_one_characteristic_of_each_chart_type(api, line):
    sizes = {"xbar_r": 5, "xbar_s": 8, "imr": 1, "p": 50, "np": 50, "c": 1, "u": 10,
             "ewma": 1, "cusum": 1}
    for chart, n in sizes.items():
        r = api.post("/api/v1/characteristics/", {
            "node": line.pk, "name": f"{chart} char", "chart_type": chart, "subgroup_size": n,
            "usl": 12, "lsl": 8, "unit": "mm",
            "rules": [{"rule": 2, "enabled": False}, {"rule": 7, "requires_ack": False}]},
            format="json")
        assert r.status_code == 201, (chart, r.content)
        body = r.json()
        assert body["plant"] == line.plant_id and body["phase"] == "trial"
        rules = {s["rule"]: s for s in body["rule_settings"]}
        if chart not in ("ewma", "cusum"):
            assert rules[2]["enabled"] is False and rules[7]["requires_ack"] is False
        assert rules[1]["severity"] == "CRITICAL"
    assert Characteristic.objects.count() == 9


@pytest.mark.parametrize("body, field", [
    ({"chart_type": "xbar_r", "subgroup_size": 1}, "subgroup_size"),
    ({"chart_type": "imr", "subgroup_size": 1, "usl": 5, "lsl": 6}, "usl"),
    ({"chart_type": "bogus", "subgroup_size": 1}, "chart_type"),
])
def test_an_inconsistent_characteristic_is_refused(api, line, body, field):
    r = api.post("/api/v1/characteristics/", {"node": line.pk, "name": "x", **body}, format="json")
    assert r.status_code == 400 and field in r.json()
    assert not Characteristic.objects.exists()


def test_six_increasing_values_fire_rule_3_on_the_sixth_through_the_api(cast, api):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    for v in [9.0, 9.2, 9.4, 9.6, 9.8]:
        r = api.post(url, {"values": [v]}, format="json")
        assert r.status_code == 201 and r.json()["violations"] == []
    r = api.post(url, {"values": [10.0], "batch": "B7", "operator": "Ana"}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert [(v["rule"], v["severity"], len(v["points"])) for v in body["violations"]] == [
        (3, "WARNING", 6)]
    assert body["violations"][0]["points"][-1] == body["id"]
    assert (body["values"], body["batch"], body["source"]) == ([10.0], "B7", "API")


def _assert_nothing_written():
    assert Sample.objects.count() == 0


@pytest.mark.parametrize("body, field, text", [
    ({"values": ["NaN"]}, "values", "finite"),
    ({"values": ["Infinity"]}, "values", "finite"),
    ({"values": ["ten"]}, "values", "not a number"),
    ({"values": [1.0, 2.0]}, "values", "exactly 1 value"),
    ({"values": [1.0], "timestamp": (timezone.now() + timedelta(days=3)).isoformat()},
     "timestamp", "future"),
    ({"values": [1.0], "timestamp": "yesterday"}, "timestamp", ""),
    ({"count": 3}, "count", "measured values"),
])
def test_bad_input_gets_a_field_error_and_writes_nothing(cast, api, body, field, text):
    ch = _imr(cast)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", body, format="json")
    assert r.status_code == 400, r.content
    assert text in " ".join(r.json()[field])
    _assert_nothing_written()


def test_a_json_nan_literal_is_refused(cast, api):
    ch = _imr(cast)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", '{"values": [NaN]}',
                 content_type="application/json")
    assert r.status_code == 400
    _assert_nothing_written()


@pytest.mark.parametrize("body, field", [
    ({"count": -1, "sample_size": 50}, "count"),
    ({"count": 51, "sample_size": 50}, "count"),
    ({"count": 1, "sample_size": 0}, "sample_size"),
    ({"count": "many", "sample_size": 50}, "count"),
])
def test_bad_attribute_counts_are_refused(cast, api, body, field):
    ch = _imr(cast, chart_type="p", subgroup_size=50)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", body, format="json")
    assert r.status_code == 400 and field in r.json()
    _assert_nothing_written()


def test_a_characteristic_of_another_plant_is_404_and_untouched(cast, api):
    foreign = CharacteristicFactory(node=NodeFactory(plant=cast.other_plant, level=Level.LINE))
    for method, url, body in [
        ("post", f"/api/v1/characteristics/{foreign.pk}/samples/", {"values": [1.0]}),
        ("get", f"/api/v1/characteristics/{foreign.pk}/", None),
        ("get", f"/api/v1/characteristics/{foreign.pk}/chart-data/", None),
        ("patch", f"/api/v1/characteristics/{foreign.pk}/", {"name": "mine now"}),
    ]:
        assert getattr(api, method)(url, body, format="json").status_code == 404
    assert api.get("/api/v1/characteristics/").json()["results"] == []
    _assert_nothing_written()


def test_a_50_mb_body_is_refused_with_413(cast, api):
    ch = _imr(cast)
    body = json.dumps({"samples": [{"values": [1.0]}] * 10}) + " " * (50 * 1024 * 1024)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/bulk/", body,
                 content_type="application/json")
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
    _assert_nothing_written()


def test_bulk_is_all_or_nothing_with_errors_by_row(cast, api):
    ch = _imr(cast)
    rows = [{"values": [1.0], "timestamp": (T0 + timedelta(minutes=i)).isoformat()}
            for i in range(10)]
    rows[3] = {"values": ["x"]}
    rows[7] = {"values": [1.0, 2.0]}
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/bulk/", {"samples": rows}, format="json")
    assert r.status_code == 400
    assert sorted({e["row"] for e in r.json()["errors"]}) == [3, 7]
    _assert_nothing_written()
    rows[3] = rows[7] = {"values": [1.5]}
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/bulk/", {"samples": rows}, format="json")
    assert r.status_code == 201 and r.json()["created"] == 10
    stored = list(Sample.objects.order_by("timestamp").values_list("timestamp", flat=True))
    assert stored[0] == T0


def test_more_than_10000_samples_in_one_call_are_refused(cast, api):
    ch = _imr(cast)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/bulk/",
                 {"samples": [{"values": [1.0]}] * 10_001}, format="json")
    assert r.status_code == 400 and "10000" in r.json()["samples"][0]
    _assert_nothing_written()


def test_exclusion_and_restore_through_the_api_re_judge_later_points(cast, api):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    ids = [api.post(url, {"values": [v]}, format="json").json()["id"]
           for v in [9.0, 9.2, 9.4, 9.6, 9.8, 10.0]]
    assert api.post(f"{url}{ids[2]}/exclude/", {}, format="json").status_code == 400  # reason
    r = api.post(f"{url}{ids[2]}/exclude/", {"reason": "probe slipped"}, format="json")
    assert r.status_code == 200
    assert r.json()["excluded"] is True
    assert api.get(f"{url}{ids[5]}/").json()["violations"] == []
    api.post(f"{url}{ids[2]}/restore/", {"reason": "probe was fine"}, format="json")
    assert [v["rule"] for v in api.get(f"{url}{ids[5]}/").json()["violations"]] == [3]


def test_recalculation_makes_a_new_version_and_lists_removed_points(cast, api):
    ch = _imr(cast)
    values = [10.0, 10.4, 9.6, 10.2, 9.8] * 5
    values[10] = 30.0
    api.post(f"/api/v1/characteristics/{ch.pk}/samples/bulk/",
             {"samples": [{"values": [v], "timestamp": (T0 + timedelta(minutes=i)).isoformat()}
                          for i, v in enumerate(values)]}, format="json")
    url = f"/api/v1/characteristics/{ch.pk}/limits/recalculate/"
    assert api.post(url, {"first_n": 25, "exclude_ooc": True}, format="json").status_code == 400
    r = api.post(url, {"first_n": 25, "exclude_ooc": True, "reason": "Phase I"}, format="json")
    assert r.status_code == 201, r.content
    assert len(r.json()["removed_sample_ids"]) == 1 and r.json()["version"] == 1
    versions = api.get(f"/api/v1/characteristics/{ch.pk}/limits/").json()
    assert [v["version"] for v in versions] == [1]
    assert api.get(f"/api/v1/characteristics/{ch.pk}/").json()["phase"] == "established"
    assert ControlLimits.objects.get().created_by.username == "engineer"


def test_acknowledgment_records_the_logged_in_user_not_a_name_from_the_body(cast, api):
    ch = _established(cast, api)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", {"values": [30.0]}, format="json")
    violation_id = r.json()["violations"][0]["id"]
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool change")
    r = api.post(f"/api/v1/violations/{violation_id}/acknowledge/",
                 {"reason_code": code.pk, "comment": "insert replaced",
                  "acknowledged_by": "someone-else"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["acknowledged_by"] == "engineer"
    again = api.post(f"/api/v1/violations/{violation_id}/acknowledge/",
                     {"reason_code": code.pk}, format="json")
    assert again.status_code == 400 and "already acknowledged" in str(again.json())
    listed = api.get(f"/api/v1/violations/?acknowledged=true&plant={cast.plant.pk}").json()
    assert [v["id"] for v in listed["results"]] == [violation_id]


def test_another_plants_reason_code_cannot_be_used(cast, api):
    ch = _established(cast, api)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", {"values": [30.0]}, format="json")
    violation_id = r.json()["violations"][0]["id"]
    foreign = ReasonCode.objects.get(plant=cast.other_plant, name="Tool change")
    r = api.post(f"/api/v1/violations/{violation_id}/acknowledge/", {"reason_code": foreign.pk},
                 format="json")
    assert r.status_code == 400 and "reason_code" in r.json()
    assert Violation.objects.get().acknowledged_at is None


def test_the_openapi_schema_and_docs_page_are_served_without_a_cdn(cast, client):
    client.force_login(cast.operator)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/characteristics/{id}/samples/bulk/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    # every script and stylesheet is served from this site (the CSRF token may spell "cdn")
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "swagger-ui" in docs


def test_a_csv_upload_imports_historical_samples_with_their_timestamps(cast, api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ch = _imr(cast)
    csv = "timestamp,value,batch\n2026-01-05T08:00:00Z,10.1,L1\n2026-01-05T08:15:00Z,10.3,L1\n"
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/import/",
                 {"file": SimpleUploadedFile("history.csv", csv.encode(), "text/csv")},
                 format="multipart")
    assert r.status_code == 201, r.content
    assert r.json()["samples"] == 2
    stamps = [s.isoformat() for s in Sample.objects.order_by("timestamp")
              .values_list("timestamp", flat=True)]
    assert stamps == ["2026-01-05T08:00:00+00:00", "2026-01-05T08:15:00+00:00"]
    assert set(Sample.objects.values_list("source", flat=True)) == {"IMPORT"}


def test_a_bad_csv_upload_reports_rows_and_writes_nothing(cast, api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ch = _imr(cast)
    csv = "timestamp,value\n2026-01-05T08:00:00Z,10.1\nnot a time,10.3\n"
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/import/",
                 {"file": SimpleUploadedFile("history.csv", csv.encode(), "text/csv")},
                 format="multipart")
    assert r.status_code == 400
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "timestamp")]
    _assert_nothing_written()


def test_recording_one_sample_takes_a_bounded_number_of_queries(cast, api,
                                                                django_assert_max_num_queries):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    for v in [10.0, 10.2, 9.9, 10.1, 9.8] * 4:
        api.post(url, {"values": [v]}, format="json")
    # the token's user with their plant roles, the characteristic; BEGIN, the newest limit
    # version (PostgreSQL: with the row lock), the sample and its values (SQLite: two
    # statements), the rule window, a violation if one fires, COMMIT
    with django_assert_max_num_queries(9):
        assert api.post(url, {"values": [10.05]}, format="json").status_code == 201


def test_the_201_body_equals_the_stored_sample_as_listed(cast, api):
    """The POST answer is built without a serializer; it must say what GET …/samples/ says of
    the stored row, violations included."""
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    created = api.post(url, {"values": [14.25], "batch": "B-7", "operator": "ann",
                             "comment": "after the tool change"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert [(v["rule"], v["severity"]) for v in body["violations"]] == [(1, "CRITICAL")]
    listed = api.get(url).json()["results"][0]
    assert body == listed


def test_a_sample_posted_with_a_timestamp_keeps_it_exactly(cast, api):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    moment = "2026-03-04T05:06:07.123456+02:00"
    body = api.post(url, {"values": [10.0], "timestamp": moment}, format="json").json()
    assert body["timestamp"] == "2026-03-04T03:06:07.123456Z"
    stored = Sample.objects.get(pk=body["id"])
    assert stored.timestamp.isoformat() == "2026-03-04T03:06:07.123456+00:00"
    assert list(stored.measurements.values_list("position", "value")) == [(0, 10.0)]


@pytest.mark.parametrize("pk", ["0", "99999999", "99999999999999999999999"])
def test_an_unknown_or_impossible_characteristic_id_is_404(cast, api, pk):
    r = api.post(f"/api/v1/characteristics/{pk}/samples/", {"values": [1.0]}, format="json")
    assert r.status_code == 404
    assert api.get(f"/api/v1/characteristics/{pk}/chart-data/").status_code == 404
    assert not Sample.objects.exists()


def test_a_characteristic_deleted_before_its_sample_is_written_answers_404(cast, api,
                                                                            monkeypatch):
    """Deleted between the view's check and the pipeline's lock: 404 like a moment earlier,
    and nothing written."""
    from spc import pipeline

    ch = _imr(cast)
    real = pipeline.record_samples

    def delete_first(characteristic, requests, user=None):
        Characteristic.objects.filter(pk=characteristic.pk).delete()
        return real(characteristic, requests, user)

    monkeypatch.setattr("spc.api.views.record_samples", delete_first)
    r = api.post(f"/api/v1/characteristics/{ch.pk}/samples/", {"values": [1.0]}, format="json")
    assert r.status_code == 404 and r.json() == {"detail": "No such object."}
    assert not Sample.objects.exists()


def test_a_sample_sent_again_with_its_key_answers_200_with_the_stored_one(cast, api):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    first = api.post(url, {"values": [10.2], "key": "gauge-7:1001"}, format="json")
    again = api.post(url, {"values": [10.2], "key": "gauge-7:1001"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    bulk = api.post(f"{url}bulk/", {"samples": [
        {"values": [10.3], "key": "gauge-7:1002"}, {"values": [10.2], "key": "gauge-7:1001"}]},
        format="json")
    assert bulk.status_code == 201, bulk.content
    assert (bulk.json()["created"], bulk.json()["existing"]) == (1, 1)
    assert [s["created"] for s in bulk.json()["samples"]] == [True, False]
    assert bulk.json()["samples"][1]["id"] == first.json()["id"]
    assert ch.samples.count() == 2
    bad = api.post(url, {"values": [10.2], "key": "k" * 101}, format="json")
    assert bad.status_code == 400 and "key" in bad.json()


def test_the_subgroup_size_cannot_change_once_samples_exist(cast, api):
    ch = _established(cast, api)
    detail = f"/api/v1/characteristics/{ch.pk}/"
    api.post(f"{detail}samples/", {"values": [10.2]}, format="json")
    r = api.patch(detail, {"subgroup_size": 2, "chart_type": "xbar_r"}, format="json")
    assert r.status_code == 400 and "subgroup_size" in r.json()
    ch.refresh_from_db()
    assert (ch.chart_type, ch.subgroup_size) == ("imr", 1)


def test_turning_a_rule_off_through_the_api_supersedes_its_live_violations(cast, api):
    ch = _established(cast, api)
    url = f"/api/v1/characteristics/{ch.pk}/samples/bulk/"
    r = api.post(url, {"samples": [{"values": [10.5], "timestamp": (T0 + timedelta(minutes=i + 1))
                                    .isoformat()} for i in range(9)]}, format="json")
    assert r.status_code == 201 and r.json()["violations"] == 1  # rule 2 at the ninth
    r = api.patch(f"/api/v1/characteristics/{ch.pk}/", {"rules": [{"rule": 2, "enabled": False}]},
                  format="json")
    assert r.status_code == 200, r.content
    assert not Violation.objects.filter(characteristic=ch, superseded_at=None).exists()
    assert Violation.objects.filter(characteristic=ch, rule=2).count() == 1
