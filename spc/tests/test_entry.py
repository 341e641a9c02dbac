"""Data entry (/p/<plant>/c/<id>/enter/): every chart type records through the form, bad input
is refused with the pipeline's own message and nothing recorded or lost, a double submit
records once, and the result says which rule fired and why."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import explain, limit_versions
from spc.forms_entry import FORGED
from spc.models import ChartType, ReasonCode, Sample, Source, Violation
from spc.pipeline import record_samples
from spc.sample_input import SampleInvalid, SampleRequest, clean
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=3)
MINUTE = timedelta(minutes=1)
HTMX = {"HTTP_HX_REQUEST": "true"}


def characteristic(plant, chart_type=ChartType.IMR, center=10.0, sigma=1.0, limits=True, **kw):
    kw.setdefault("decimal_places", 3)
    ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE),
                               chart_type=chart_type, **kw)
    if limits:
        extra = {"sigma": sigma} if chart_type not in (ChartType.P, ChartType.C, ChartType.U) \
            else {}
        limit_versions.manual(ch, None, "known process", center=center,
                              effective_from=T0 - timedelta(days=1), **extra)
    return ch


def history(ch, values):
    record_samples(ch, [SampleRequest(values=v if isinstance(v, list) else [v],
                                      timestamp=T0 + i * MINUTE) for i, v in enumerate(values)])


def client_for(user, **kw) -> Client:
    client = Client(**kw)
    client.force_login(user)
    return client


def url(ch, plant=None) -> str:
    return f"/p/{(plant or ch.plant).code}/c/{ch.pk}/enter/"


def text(response) -> str:
    """The visible text of a response, tags dropped and spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def hidden(response, name) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', response.content.decode())
    return found.group(1) if found else ""


def form_data(client, ch, **typed) -> dict:
    """What the rendered form posts: its hidden fields, with `typed` filled in."""
    page = client.get(url(ch), **HTMX)
    data = {name: hidden(page, name) for name in ("characteristic", "form_chart", "form_n", "key")}
    data.update(typed)
    return data


def post(client, ch, **typed):
    return client.post(url(ch), form_data(client, ch, **typed), **HTMX)


def triggered(response) -> dict:
    return json.loads(response.headers.get("HX-Trigger", "{}"))


def pipeline_message(ch, **request) -> str:
    """What the pipeline (and so the API) says of this input."""
    with pytest.raises(SampleInvalid) as caught:
        clean(ch, SampleRequest(**request))
    return next(iter(caught.value.errors.values()))[0]


# --- the form -----------------------------------------------------------------------------


def test_the_page_shows_one_large_decimal_box_per_value_the_first_focused(cast):
    cast.operator.first_name, cast.operator.last_name = "Ana", "Lima"
    cast.operator.save()
    ch = characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=5, usl=10.5, lsl=9.5)
    page = client_for(cast.operator).get(url(ch))
    body = page.content.decode()
    assert page.status_code == 200 and "<html" in body
    boxes = re.findall(r'<input id="entry-value-\d"[^>]*>', body, re.S)
    assert len(boxes) == 5
    assert all('inputmode="decimal"' in b for b in boxes)
    assert "autofocus" in boxes[0] and not any("autofocus" in b for b in boxes[1:])
    assert hidden(page, "operator") == "Ana Lima"
    assert len(hidden(page, "key")) == 32 and hidden(page, "form_n") == "5"
    assert hidden(page, "form_chart") == "xbar_r" and hidden(page, "characteristic") == str(ch.pk)
    for attribute in ('data-usl="10.5"', 'data-lsl="9.5"', 'data-center="10.0"',
                      'data-sigma="1.0"', 'data-sigmas="10"', 'data-example="10.000"',
                      'data-usl-text="10.500"', 'data-lsl-text="9.500"'):
        assert attribute in body
    assert "Batch / lot" in body and "Comment" in body


def test_htmx_gets_the_dialog_partial_alone_with_a_fresh_key_each_time(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    first, second = client.get(url(ch), **HTMX), client.get(url(ch), **HTMX)
    assert "<html" not in first.content.decode()
    assert first.content.decode().lstrip().startswith('<section class="entry" data-entry')
    assert hidden(first, "key") != hidden(second, "key")
    assert hidden(first, "operator") == "operator"  # no full name: the username


def test_attribute_charts_ask_for_a_count_and_a_size_prefilled_with_n(cast):
    p_fixed = characteristic(cast.plant, ChartType.P, center=0.1, subgroup_size=50)
    p_varying = characteristic(cast.plant, ChartType.P, center=0.1, subgroup_size=50,
                               variable_subgroup_size=True)
    c_chart = characteristic(cast.plant, ChartType.C, center=4.0)
    client = client_for(cast.operator)
    fixed = client.get(url(p_fixed), **HTMX).content.decode()
    assert re.search(r'<input[^>]*name="sample_size"[^>]*value="50"[^>]*readonly', fixed)
    assert re.search(r'<input[^>]*name="count"[^>]*autofocus', fixed)
    varying = client.get(url(p_varying), **HTMX).content.decode()
    assert 'name="sample_size"' in varying and "readonly" not in varying
    assert 'name="sample_size"' not in client.get(url(c_chart), **HTMX).content.decode()


def test_a_variable_subgroup_size_gets_spare_boxes(cast):
    ch = characteristic(cast.plant, ChartType.XBAR_S, subgroup_size=4, variable_subgroup_size=True)
    body = client_for(cast.operator).get(url(ch), **HTMX).content.decode()
    assert body.count('name="values"') == 6 and 'data-variable="true"' in body


def test_the_chart_page_offers_the_dialog(cast):
    ch = characteristic(cast.plant)
    body = client_for(cast.operator).get(f"/p/{cast.plant.code}/c/{ch.pk}/").content.decode()
    assert f'data-enter-url="{url(ch)}"' in body and ">Enter sample</a>" in body
    assert '<dialog id="entry-dialog"' in body and "openspc/entry.js" in body


# --- every chart type records through the form ------------------------------------------

TYPED = {
    ChartType.IMR: ({}, {"values": ["10.2"]}),
    ChartType.XBAR_R: ({"subgroup_size": 5}, {"values": ["10.1", "9.9", "10", "10.2", "9.8"]}),
    ChartType.XBAR_S: ({"subgroup_size": 4}, {"values": ["10.1", "9.9", "10", "10.2"]}),
    ChartType.EWMA: ({}, {"values": ["10.2"]}),
    ChartType.CUSUM: ({}, {"values": ["10.2"]}),
    ChartType.P: ({"subgroup_size": 100, "center": 0.1}, {"count": "9", "sample_size": "100"}),
    ChartType.NP: ({"subgroup_size": 100, "center": 10.0, "sigma": 3.0},
                   {"count": "9", "sample_size": "100"}),
    ChartType.C: ({"center": 4.0}, {"count": "3"}),
    ChartType.U: ({"subgroup_size": 5, "center": 1.0}, {"count": "6", "sample_size": "5"}),
}


@pytest.mark.parametrize("chart_type", list(ChartType))
def test_every_chart_type_records_through_the_form(cast, chart_type):
    kw, typed = TYPED[chart_type]
    ch = characteristic(cast.plant, chart_type, **kw)
    client = client_for(cast.operator)
    response = post(client, ch, batch="L-42", operator="Ana", comment="after tool change", **typed)
    assert response.status_code == 200
    sample = Sample.objects.get(characteristic=ch)
    assert (sample.batch, sample.operator, sample.comment) == ("L-42", "Ana", "after tool change")
    assert sample.source == Source.MANUAL and sample.created_by == cast.operator
    assert len(sample.key) == 32
    if ch.is_attribute:
        assert sample.count == int(typed["count"])
    else:
        assert [m.value for m in sample.measurements.all()] == [float(v) for v in typed["values"]]
    assert "In control" in text(response)
    assert triggered(response)["sampleRecorded"] == {
        "characteristic": ch.pk, "sample": sample.pk, "created": True, "in_control": True}
    assert 'data-entry-next' in response.content.decode()


def test_a_decimal_value_posted_without_htmx_answers_the_whole_page(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    response = client.post(url(ch), form_data(client, ch, values=["10.4"]))
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert "In control" in text(response) and Sample.objects.filter(characteristic=ch).count() == 1


def test_the_trial_phase_says_the_point_is_not_judged_yet(cast):
    ch = characteristic(cast.plant, limits=False)
    history(ch, [10.0, 10.2])
    response = post(client_for(cast.operator), ch, values=["25"])
    assert "not judged yet: the rules start at subgroup 20" in text(response)
    assert "In control" not in text(response)


# --- the result ---------------------------------------------------------------------------


def test_the_result_names_the_rule_that_fired_with_the_inspectors_sentence(cast):
    ch = characteristic(cast.plant, usl=13.5)
    history(ch, [10.0, 10.3, 9.8])
    response = post(client_for(cast.operator), ch, values=["14"])
    sample = Sample.objects.get(pk=triggered(response)["sampleRecorded"]["sample"])
    fired = Violation.objects.get(sample=sample, chart="primary")
    sentence = explain.explain(ch, [fired])[0].sentence
    assert sentence == ("Rule 1 — one point beyond the upper control limit (3σ): "
                        "sample 4 at 14.000 > UCL 13.000")
    shown = text(response)
    assert "Out of control — " in shown and sentence in shown
    assert "Critical" in shown and "Needs acknowledgment" in shown
    assert triggered(response)["sampleRecorded"]["in_control"] is False
    assert "Acknowledge now" not in shown  # an operator may not acknowledge


def test_a_supervisor_acknowledges_now_from_the_result(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.supervisor)
    response = post(client, ch, values=["14"])
    body = response.content.decode()
    assert "Acknowledge now" in body
    sample = Sample.objects.get(characteristic=ch)
    code = ReasonCode.objects.filter(plant=cast.plant, active=True).first()
    ack_url = f"{url(ch)}{sample.pk}/acknowledge/"
    assert f'hx-post="{ack_url}"' in body
    open_ids = list(Violation.objects.filter(sample=sample).values_list("pk", flat=True))
    done = client.post(ack_url, {"violations": open_ids, "reason_code": code.pk,
                                 "comment": "gauge slipped"}, **HTMX)
    assert done.status_code == 200
    assert "Acknowledged 1 violation." in text(done) and "Acknowledge now" not in text(done)
    assert "chartChanged" in triggered(done)
    assert Violation.objects.get(sample=sample).acknowledged_by == cast.supervisor


def test_acknowledging_without_a_reason_says_so(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.supervisor)
    post(client, ch, values=["14"])
    sample = Sample.objects.get(characteristic=ch)
    response = client.post(f"{url(ch)}{sample.pk}/acknowledge/",
                           {"violations": [v.pk for v in sample.violations.all()]}, **HTMX)
    assert response.status_code == 200
    assert "Choose the reason for the out-of-control event." in text(response)
    assert Violation.objects.get(sample=sample).acknowledged_at is None


def test_who_may_acknowledge_from_the_result(cast):
    ch = characteristic(cast.plant)
    post(client_for(cast.operator), ch, values=["14"])
    sample = Sample.objects.get(characteristic=ch)
    ack_url = f"{url(ch)}{sample.pk}/acknowledge/"
    assert client_for(cast.operator).post(ack_url, {}, **HTMX).status_code == 403
    assert client_for(cast.outsider).post(ack_url, {}, **HTMX).status_code == 404
    assert client_for(cast.supervisor).get(ack_url).status_code == 405


# --- bad input: a message, nothing recorded, nothing lost ----------------------------------


def refused(response, ch, message):
    assert response.status_code == 200
    assert message in text(response), text(response)
    assert not Sample.objects.filter(characteristic=ch).exists()
    assert "sampleRecorded" not in triggered(response)


def test_text_is_refused_with_the_pipelines_message_and_kept(cast):
    ch = characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=3)
    response = post(client_for(cast.operator), ch, values=["10.1", "abc", "9.9"], batch="L-7")
    refused(response, ch, pipeline_message(ch, values=["10.1", "abc", "9.9"]))
    assert "Value 2 is 'abc', which is not a number." in text(response)
    body = response.content.decode()
    assert re.search(r'class="entry-box is-bad">\s*<label for="entry-value-2"', body)
    assert [v for v in re.findall(r'value="([^"]*)" data-entry-value', body)] == \
        ["10.1", "abc", "9.9"]
    assert hidden(response, "batch") == "L-7"


def test_nan_and_infinity_are_refused(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    refused(post(client, ch, values=["nan"]), ch, "Value 1 is nan; only finite numbers are accepted.")
    refused(post(client, ch, values=["inf"]), ch, pipeline_message(ch, values=["inf"]))


def test_a_wrong_number_of_values_is_refused(cast):
    ch = characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=5, name="Bore")
    response = post(client_for(cast.operator), ch, values=["10.1", "9.9", "", "10.2", "10"])
    refused(response, ch, "Bore needs exactly 5 values per sample; got 4.")
    values = re.findall(r'value="([^"]*)" data-entry-value', response.content.decode())
    assert values == ["10.1", "9.9", "", "10.2", "10"]  # each where it was typed


def test_no_values_at_all_asks_for_them(cast):
    ch = characteristic(cast.plant)
    refused(post(client_for(cast.operator), ch, values=[""]), ch, "Enter the measured values.")


def test_a_count_above_the_sample_size_is_refused(cast):
    ch = characteristic(cast.plant, ChartType.P, center=0.1, subgroup_size=10,
                        variable_subgroup_size=True)
    response = post(client_for(cast.operator), ch, count="12", sample_size="10")
    refused(response, ch, "12 defectives cannot exceed the sample size 10.")
    assert hidden(response, "count") == "12"


def test_a_count_that_is_not_whole_is_refused(cast):
    ch = characteristic(cast.plant, ChartType.C, center=4.0)
    refused(post(client_for(cast.operator), ch, count="2.5"), ch,
            "The count must be a whole number, got '2.5'.")


def test_text_too_long_is_refused_with_the_pipelines_message(cast):
    ch = characteristic(cast.plant)
    refused(post(client_for(cast.operator), ch, values=["10"], batch="B" * 65), ch,
            "At most 64 characters (got 65).")


def test_another_plants_characteristic_answers_404(cast):
    theirs = characteristic(cast.other_plant)
    client = client_for(cast.operator)
    data = {"characteristic": theirs.pk, "form_chart": "imr", "form_n": "1", "key": "k1",
            "values": ["10"]}
    for address in (url(theirs), url(theirs, cast.plant)):
        assert client.get(address, **HTMX).status_code == 404
        assert client.post(address, data, **HTMX).status_code == 404
    assert not Sample.objects.exists()


def test_a_forged_characteristic_id_in_the_form_is_refused(cast):
    mine, other = characteristic(cast.plant), characteristic(cast.plant)
    theirs = characteristic(cast.other_plant)
    client = client_for(cast.operator)
    for forged in (other.pk, theirs.pk, "", "x"):
        data = form_data(client, mine, values=["10.1"])
        data["characteristic"] = forged
        response = client.post(url(mine), data, **HTMX)
        assert response.status_code == 200 and FORGED in text(response)
        assert re.findall(r'value="([^"]*)" data-entry-value', response.content.decode()) == \
            ["10.1"]
    assert not Sample.objects.exists()


def test_a_stale_form_is_reloaded_with_the_values_that_fit(cast):
    ch = characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=5, limits=False)
    client = client_for(cast.operator)
    data = form_data(client, ch, values=["1", "2", "3", "4", "5"], batch="L-9")
    ch.subgroup_size = 4
    ch.save()
    response = client.post(url(ch), data, **HTMX)
    refused(response, ch,
            "This characteristic now takes 4 values per subgroup — the form was reloaded.")
    body = response.content.decode()
    assert re.findall(r'value="([^"]*)" data-entry-value', body) == ["1", "2", "3", "4"]
    assert hidden(response, "form_n") == "4" and hidden(response, "batch") == "L-9"
    assert hidden(response, "key") == data["key"]
    # the reloaded form records
    again = client.post(url(ch), {**data, "form_n": "4", "values": ["1", "2", "3", "4"]}, **HTMX)
    assert "sampleRecorded" in triggered(again)


def test_a_form_for_another_chart_type_is_reloaded(cast):
    ch = characteristic(cast.plant, ChartType.IMR, limits=False)
    client = client_for(cast.operator)
    data = form_data(client, ch, values=["3"])
    ch.chart_type, ch.subgroup_size = ChartType.C, 1
    ch.save()
    response = client.post(url(ch), data, **HTMX)
    refused(response, ch, "This characteristic is now a c (defects) chart and takes a count of "
                          "defects — the form was reloaded.")
    assert 'name="count"' in response.content.decode()


def test_a_form_without_its_key_is_reloaded_not_recorded(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    for key in ("", "k" * 101):
        response = client.post(url(ch), {**form_data(client, ch, values=["10"]), "key": key},
                               **HTMX)
        refused(response, ch, "This form was incomplete — it was reloaded.")
        assert len(hidden(response, "key")) == 32


def test_an_implausible_value_needs_confirmation(cast):
    ch = characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=2, center=74.0, sigma=0.01)
    client = client_for(cast.operator)
    data = form_data(client, ch, values=["74.01", "740.12"])
    response = client.post(url(ch), data, **HTMX)
    refused(response, ch, "740.12 is more than 10σ from the center 74.000 — a typo?")
    assert re.search(r'<label class="entry-confirm" data-entry-confirm>', response.content.decode())
    confirmed = client.post(url(ch), {**data, "confirmed": "on"}, **HTMX)
    assert "sampleRecorded" in triggered(confirmed)
    assert Sample.objects.get(characteristic=ch).mean == pytest.approx(407.065)


def test_a_value_beyond_a_spec_limit_but_plausible_records_without_asking(cast):
    ch = characteristic(cast.plant, center=74.0, sigma=0.01, usl=74.05, lsl=73.95)
    response = post(client_for(cast.operator), ch, values=["74.06"])
    assert "sampleRecorded" in triggered(response)


# --- submitting twice records once ---------------------------------------------------------


def test_submitting_twice_records_once_and_answers_the_same_result(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    data = form_data(client, ch, values=["14"])
    first = client.post(url(ch), data, **HTMX)
    second = client.post(url(ch), data, **HTMX)
    assert Sample.objects.filter(characteristic=ch).count() == 1
    sample = Sample.objects.get(characteristic=ch)
    assert sample.key == data["key"]
    assert triggered(first)["sampleRecorded"]["created"] is True
    assert triggered(second)["sampleRecorded"] == {**triggered(first)["sampleRecorded"],
                                                   "created": False}
    assert "recorded already — it was not recorded a second time" in text(second)
    rule = "Rule 1 — one point beyond the upper control limit (3σ): sample 1"
    assert rule in text(first) and rule in text(second)


def test_the_next_form_has_a_new_key(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator)
    data = form_data(client, ch, values=["10"])
    client.post(url(ch), data, **HTMX)
    nxt = client.get(url(ch), **HTMX)
    assert hidden(nxt, "key") != data["key"]
    client.post(url(ch), {**data, "key": hidden(nxt, "key"), "values": ["10.1"]}, **HTMX)
    assert Sample.objects.filter(characteristic=ch).count() == 2


# --- who may enter -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "supervisor", "engineer", "admin", "superuser"])
def test_operators_and_above_may_enter(cast, who):
    ch = characteristic(cast.plant)
    client = client_for(cast.user(who))
    assert client.get(url(ch)).status_code == 200
    assert "sampleRecorded" in triggered(post(client, ch, values=["10"]))


@pytest.mark.parametrize("who", ["outsider", "no_role"])
def test_users_without_a_role_at_the_plant_get_404(cast, who):
    ch = characteristic(cast.plant)
    client = client_for(cast.user(who))
    assert client.get(url(ch)).status_code == 404
    assert client.post(url(ch), {"values": ["10"]}).status_code == 404


def test_anonymous_users_are_sent_to_log_in(cast):
    ch = characteristic(cast.plant)
    response = Client().get(url(ch))
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_other_methods_are_not_allowed(cast):
    ch = characteristic(cast.plant)
    assert client_for(cast.operator).put(url(ch)).status_code == 405


def test_a_post_without_the_csrf_token_is_refused(cast):
    ch = characteristic(cast.plant)
    client = client_for(cast.operator, enforce_csrf_checks=True)
    page = client.get(url(ch), **HTMX)
    data = {name: hidden(page, name) for name in ("characteristic", "form_chart", "form_n", "key")}
    assert client.post(url(ch), {**data, "values": ["10"]}, **HTMX).status_code == 403
    token = hidden(page, "csrfmiddlewaretoken")
    assert client.post(url(ch), {**data, "values": ["10"], "csrfmiddlewaretoken": token},
                       **HTMX).status_code == 200
    assert Sample.objects.filter(characteristic=ch).count() == 1


# --- queries ------------------------------------------------------------------------------


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
        assert response.status_code == 200
    return len(captured)


def test_the_form_and_the_result_read_a_bounded_number_of_queries(cast):
    short, long = characteristic(cast.plant), characteristic(cast.plant)
    history(short, [10.0, 10.2, 9.9])
    history(long, [10.0 + (i % 3) * 0.1 for i in range(200)] + [10.0, 10.2, 9.9])
    client = client_for(cast.supervisor)
    client.get(url(short))  # the session is warm either way
    # session, user, roles, plant, characteristic, active limits; the session's save (3)
    assert count_queries(lambda: client.get(url(short), **HTMX)) <= 9
    # the form's (9), the pipeline's (11), the result's: violations, values, the span (5),
    # reason codes — whatever the history
    recorded = [count_queries(lambda ch=ch: post(client, ch, values=["14"])) - 9
                for ch in (short, long)]
    assert recorded[0] == recorded[1] <= 28, recorded
