"""The violations page /p/<plant>/violations/: what each row shows, the filters, pages, the
median time to acknowledge, who may acknowledge, bulk acknowledgment (all or nothing), the live
rows and the top bar's badge — and a bounded number of queries whatever the number of rows."""

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import LiveEvent
from alerts.templatetags.violations import span
from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import limit_versions
from spc.chart_data import chart_data
from spc.models import ChartType, ReasonCode, Sample, Violation
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
T0 = NOW - timedelta(days=3)
MINUTE = timedelta(minutes=1)
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "violations-results"}
URL = "/p/HOME/violations/"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def characteristic(plant, node=None, name=None, chart_type=ChartType.IMR, n=1):
    node = node or NodeFactory(plant=plant, level=Level.LINE)
    extra = {"name": name} if name else {}
    return CharacteristicFactory(node=node, plant=plant, chart_type=chart_type,
                                 subgroup_size=n, **extra)


def violation(ch, at, rule=1, severity="CRITICAL", chart="primary", requires_ack=True,
              raised=None, acked_after=None, by=None, code=None, comment="", mean=10.0):
    """A violation at a new sample of `ch` at `at`, raised at `raised` (default `at`) and, with
    `acked_after`, acknowledged that long after it was raised."""
    sample = Sample.objects.create(characteristic=ch, timestamp=at, n=1, mean=mean)
    v = Violation.objects.create(plant=ch.plant, characteristic=ch, sample=sample, rule=rule,
                                 chart=chart, severity=severity, points=[sample.pk],
                                 requires_ack=requires_ack)
    raised = raised or at
    changes = {"created_at": raised}
    if acked_after is not None:
        changes.update(acknowledged_at=raised + acked_after, acknowledged_by=by,
                       reason_code=code, comment=comment)
    Violation.objects.filter(pk=v.pk).update(**changes)
    v.refresh_from_db()
    return v


def shown_ids(response) -> list[int]:
    return [int(x) for x in re.findall(r'<tr id="violation-(\d+)"', response.content.decode())]


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


@pytest.fixture
def code(cast):
    return ReasonCode.objects.get_or_create(plant=cast.plant, name="Tool wear")[0]


# --- what a row shows ---------------------------------------------------------------------


def test_a_row_shows_time_characteristic_with_its_path_rule_severity_value_and_state(cast, code):
    area = NodeFactory(plant=cast.plant, name="Machining", level=Level.AREA)
    line = NodeFactory(plant=cast.plant, parent=area, name="Line 4", level=Level.LINE)
    ch = characteristic(cast.plant, line, "Bore")
    open_one = violation(ch, T0, rule=2, severity="WARNING", mean=10.25)
    done = violation(ch, T0 + MINUTE, acked_after=timedelta(minutes=7), by=cast.supervisor,
                     code=code, comment="changed insert")
    page = text(client_for(cast.operator).get(URL))
    row = page[page.index(f'id="violation-{open_one.pk}"'):]
    row = row[:row.index("</tr>")]
    assert f'href="/p/HOME/c/{ch.pk}/"' in row and "Bore" in row
    assert "Machining › Line 4" in row
    assert "9 points in a row on the same side of the center line" in row
    assert "Warning" in row and "ack. required" in row
    assert "X</span> 10.250" in row
    assert "Open" in row and "is-waiting" in row
    assert f'href="/p/HOME/c/{ch.pk}/samples/{open_one.sample_id}/"' in row
    row = page[page.index(f'id="violation-{done.pk}"'):]
    row = row[:row.index("</tr>")]
    assert "Acknowledged" in row and "supervisor" in row and "Tool wear" in row
    assert "changed insert" in row and "7 min" in row


def test_a_violation_without_required_acknowledgment_is_not_marked_as_awaiting(cast):
    ch = characteristic(cast.plant)
    v = violation(ch, T0, rule=7, severity="INFO", requires_ack=False)
    page = text(client_for(cast.operator).get(URL))
    row = page[page.index(f'id="violation-{v.pk}"'):]
    row = row[:row.index("</tr>")]
    assert "ack. required" not in row and "is-waiting" not in row
    assert "no ack. needed" in row


@pytest.mark.parametrize("kind,n", [(ChartType.IMR, 1), (ChartType.XBAR_R, 4), (ChartType.P, 50),
                                    (ChartType.XBAR_S, 4), (ChartType.C, 1)])
def test_the_value_of_each_row_is_the_point_the_chart_plots(cast, kind, n):
    ch = characteristic(cast.plant, chart_type=kind, n=n)
    if kind in (ChartType.P, ChartType.C):
        limit_versions.manual(ch, None, "known", center=0.1 if kind == ChartType.P else 3.0,
                              effective_from=T0 - MINUTE)
        counts = [5, 4, 6, 5, 30, 5, 4] if kind == ChartType.P else [3, 2, 4, 3, 16, 3, 2]
        requests = [SampleRequest(count=c, sample_size=n, timestamp=T0 + i * MINUTE)
                    for i, c in enumerate(counts)]
    else:
        limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - MINUTE)
        values = [10.0, 10.4, 9.7, 10.1, 16.0, 9.9, 4.0, 10.2]
        requests = [SampleRequest(values=[v + d for d in (0, .3, -.2, .5)][:n]
                                  if i != 5 else [v, v + 9, v - 9, v][:n],
                                  timestamp=T0 + i * MINUTE) for i, v in enumerate(values)]
    record_samples(ch, requests)
    data = chart_data(ch)
    at = {pk: i for i, pk in enumerate(data["sample_id"].tolist())}
    live = list(Violation.objects.filter(characteristic=ch, superseded_at__isnull=True))
    assert live, "the process was pushed out of control"
    page = text(client_for(cast.operator).get(URL))
    for v in live:
        columns = data[v.chart]
        expected = columns["value"][at[v.sample_id]]
        row = page[page.index(f'id="violation-{v.pk}"'):]
        row = row[:row.index("</tr>")]
        shown = re.search(r'<td class="num value"><span class="muted small">[^<]*</span> ([-\d.]+)', row)
        places = 4 if columns["statistic"] in ("p", "np", "c", "u") else ch.decimal_places
        fmt = f"{{:.{places}g}}" if places == 4 else f"{{:.{places}f}}"
        assert shown.group(1) == fmt.format(expected), (v.rule, v.chart, row)
        assert (v.chart == "secondary") == ("secondary chart" in row)


# --- who sees what --------------------------------------------------------------------------


def test_an_operator_sees_the_rows_but_no_checkboxes_or_buttons(cast, code):
    v = violation(characteristic(cast.plant), T0)
    page = client_for(cast.operator).get(URL).content.decode()
    assert f'id="violation-{v.pk}"' in page
    assert 'name="ids"' not in page and "data-select-all" not in page
    assert "ack-form" not in page and "Acknowledge selected" not in page


def test_a_supervisor_may_select_only_open_rows_with_the_plants_active_reason_codes(cast, code):
    ch = characteristic(cast.plant)
    ReasonCode.objects.create(plant=cast.plant, name="Retired", active=False)
    ReasonCode.objects.create(plant=cast.other_plant, name="Elsewhere")
    open_one = violation(ch, T0)
    done = violation(ch, T0 + MINUTE, acked_after=MINUTE, by=cast.supervisor, code=code)
    page = client_for(cast.supervisor).get(URL).content.decode()
    assert f'name="ids" value="{open_one.pk}"' in page
    assert f'name="ids" value="{done.pk}"' not in page
    assert "data-select-all" in page and "Acknowledge selected" in page
    assert "Tool wear" in page and "Retired" not in page and "Elsewhere" not in page


@pytest.mark.parametrize("path", ["", "rows/?id=1", "badge/"])
def test_another_plants_user_and_strangers_get_404_and_anonymous_users_log_in(cast, path):
    violation(characteristic(cast.plant), T0)
    assert client_for(cast.outsider).get(URL + path).status_code == 404
    assert client_for(cast.no_role).get(URL + path).status_code == 404
    response = Client().get(URL + path)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_another_plants_violations_never_show(cast):
    mine = violation(characteristic(cast.plant), T0)
    theirs = violation(characteristic(cast.other_plant), T0)
    assert shown_ids(client_for(cast.superuser).get(URL)) == [mine.pk]
    rows = client_for(cast.supervisor).get(f"{URL}rows/?id={mine.pk}&id={theirs.pk}")
    assert shown_ids(rows) == [mine.pk]


def test_superseded_violations_are_not_listed(cast):
    ch = characteristic(cast.plant)
    live = violation(ch, T0)
    old = violation(ch, T0 + MINUTE)
    Violation.objects.filter(pk=old.pk).update(superseded_at=NOW)
    assert shown_ids(client_for(cast.operator).get(URL)) == [live.pk]


# --- filters --------------------------------------------------------------------------------


@pytest.fixture
def spread(cast, code):
    """Violations on two lines of one area and on another area, of several rules, severities,
    days and states."""
    area = NodeFactory(plant=cast.plant, name="Area A", level=Level.AREA)
    line1 = NodeFactory(plant=cast.plant, parent=area, name="L1", level=Level.LINE)
    line2 = NodeFactory(plant=cast.plant, parent=area, name="L2", level=Level.LINE)
    other_area = NodeFactory(plant=cast.plant, name="Area B", level=Level.AREA)
    a = characteristic(cast.plant, line1, "A")
    b = characteristic(cast.plant, line2, "B")
    c = characteristic(cast.plant, other_area, "C")
    day = timedelta(days=1)
    return {
        "area": area, "line1": line1, "other_area": other_area, "a": a, "b": b, "c": c,
        "a1": violation(a, T0, rule=1),
        "a2": violation(a, T0 + day, rule=2, severity="WARNING", acked_after=MINUTE,
                        by=cast.supervisor, code=code),
        "b1": violation(b, T0 + 2 * day, rule=1),
        "c7": violation(c, T0 + 2 * day + MINUTE, rule=7, severity="INFO"),
    }


def ids(*names, of):
    return sorted(of[n].pk for n in names)


@pytest.mark.parametrize("query,expected", [
    ("", ("a1", "a2", "b1", "c7")),
    ("node={area}", ("a1", "a2", "b1")),
    ("node={line1}", ("a1", "a2")),
    ("characteristic={b}", ("b1",)),
    ("node={area}&characteristic={c}", ()),
    ("rule=1", ("a1", "b1")),
    ("severity=INFO", ("c7",)),
    ("state=open", ("a1", "b1", "c7")),
    ("state=acknowledged", ("a2",)),
    ("state=all", ("a1", "a2", "b1", "c7")),
    ("from={day1}", ("a2", "b1", "c7")),
    ("to={day1}", ("a1", "a2")),
    ("from={day1}&to={day1}", ("a2",)),
    ("rule=1&state=open&node={area}", ("a1", "b1")),
])
def test_filters_keep_what_they_say(cast, spread, query, expected):
    day1 = timezone.localtime(T0 + timedelta(days=1)).date().isoformat()
    query = query.format(area=spread["area"].pk, line1=spread["line1"].pk, b=spread["b"].pk,
                         c=spread["c"].pk, day1=day1)
    response = client_for(cast.operator).get(f"{URL}?{query}")
    assert response.status_code == 200
    assert sorted(shown_ids(response)) == ids(*expected, of=spread)
    assert "This filter was left out" not in response.content.decode()


def test_filters_stay_in_the_links_and_the_htmx_request_gets_only_the_results(cast, spread):
    query = f"node={spread['area'].pk}&rule=1"
    response = client_for(cast.operator).get(f"{URL}?{query}", **HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="violations-results"')
    assert "<html" not in page and f'data-query="{query.replace("&", "&amp;")}"' in page
    full = client_for(cast.operator).get(f"{URL}?{query}").content.decode()
    assert f'<option value="{spread["area"].pk}" selected>' in full


@pytest.mark.parametrize("query,message", [
    ("node={foreign_node}", "Node: There is no such node in this plant."),
    ("node=abc", "Node: There is no such node in this plant."),
    ("characteristic={foreign}", "Characteristic: There is no such characteristic in this plant."),
    ("rule=9", "Rule: Rules are numbered 1 to 8."),
    ("rule=x", "Rule: Rules are numbered 1 to 8."),
    ("severity=HIGH", "Severity: Severity is Critical, Warning or Info."),
    ("state=maybe", "State: State is open, acknowledged or all."),
    ("from=yesterday", "From: Dates look like 2026-12-01."),
    ("from=2026-05-02&to=2026-05-01", "To: The end date is before the start date."),
    ("page=0", "Page: Pages are numbered from 1."),
    ("page=x", "Page: Pages are numbered from 1."),
    ("page=99999999999999999999999", "Page: There is no such page."),
])
def test_a_bad_filter_says_so_and_is_left_out(cast, spread, query, message):
    foreign = characteristic(cast.other_plant)
    query = query.format(foreign_node=foreign.node_id, foreign=foreign.pk)
    response = client_for(cast.operator).get(f"{URL}?{query}")
    assert response.status_code == 200
    page = text(response)
    assert f"{message} This filter was left out." in page
    if not query.startswith(("to", "from=2026")):
        assert sorted(shown_ids(response)) == ids("a1", "a2", "b1", "c7", of=spread)


# --- pages ----------------------------------------------------------------------------------


def test_pages_of_fifty_newest_first_in_a_stable_order_without_gaps(cast):
    ch = characteristic(cast.plant)
    made = [violation(ch, T0 + (i // 3) * MINUTE) for i in range(120)]  # ties of three
    expected = [v.pk for v in sorted(made, key=lambda v: (v.sample.timestamp, v.pk), reverse=True)]
    client = client_for(cast.operator)
    pages = [shown_ids(client.get(f"{URL}?page={p}")) for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [50, 50, 20]
    assert pages[0] + pages[1] + pages[2] == expected
    second = text(client.get(f"{URL}?page=2"))
    assert "51–100 of 120 · page 2 of 3" in second
    assert 'href="?page=1"' in second and 'href="?page=3"' in second
    past = client.get(f"{URL}?page=7")
    assert shown_ids(past) == pages[2]
    assert "There is no page 7: showing page 3, the last." in text(past)


# --- median time to acknowledge -----------------------------------------------------------


def test_the_median_time_to_acknowledge_of_the_filtered_set(cast, code, spread):
    ch, other = spread["a"], spread["c"]
    for minutes in (12, 3, 30):
        violation(ch, T0 + minutes * MINUTE, acked_after=timedelta(minutes=minutes),
                  by=cast.supervisor, code=code)
    violation(other, T0, acked_after=timedelta(hours=5), by=cast.supervisor, code=code)
    client = client_for(cast.operator)
    # characteristic A: 1 (spread's a2), 3, 12, 30 minutes → (3 + 12) / 2 = 7.5 min
    page = text(client.get(f"{URL}?characteristic={ch.pk}"))
    assert "median time to acknowledge <strong data-median>7 min</strong>" in page
    # the whole plant: 1, 3, 12, 30, 300 minutes → 12 min
    assert "<strong data-median>12 min</strong>" in text(client.get(URL))
    # 5 h alone
    page = text(client.get(f"{URL}?characteristic={other.pk}"))
    assert "<strong data-median>5 h 00 min</strong>" in page
    # nothing acknowledged: no median
    assert "<strong data-median>—</strong>" in text(client.get(f"{URL}?characteristic={spread['b'].pk}"))


def test_the_median_is_exact_to_the_second(cast, code):
    from alerts.violation_table import median_time_to_ack

    ch = characteristic(cast.plant)
    for seconds in (90, 30, 45, 600):
        violation(ch, T0, acked_after=timedelta(seconds=seconds), by=cast.supervisor, code=code)
    qs = Violation.objects.filter(characteristic=ch)
    assert median_time_to_ack(qs, 4) == timedelta(seconds=67.5)
    assert median_time_to_ack(qs.exclude(acknowledged_at=T0 + timedelta(seconds=600)), 3) == \
        timedelta(seconds=45)


@pytest.mark.parametrize("seconds,shown", [(None, "—"), (0, "0 s"), (59, "59 s"), (60, "1 min"),
                                           (3599, "59 min"), (3600, "1 h 00 min"),
                                           (86400 + 7200, "1 d 2 h")])
def test_durations_read_as_people_say_them(seconds, shown):
    assert span(None if seconds is None else timedelta(seconds=seconds)) == shown


# --- queries --------------------------------------------------------------------------------


def _many(cast, code, count):
    chs = [characteristic(cast.plant, name=f"C{i}") for i in range(3)]
    chs.append(characteristic(cast.plant, name="MR", chart_type=ChartType.IMR))
    for i in range(count):
        ch = chs[i % len(chs)]
        violation(ch, T0 + i * MINUTE, chart="secondary" if ch.name == "MR" else "primary",
                  acked_after=MINUTE * (i % 7) if i % 2 else None,
                  by=cast.supervisor if i % 2 else None, code=code if i % 2 else None)


def test_the_page_reads_the_same_number_of_queries_for_ten_or_three_hundred_violations(
        cast, code, django_assert_max_num_queries):
    client = client_for(cast.supervisor)
    _many(cast, code, 10)
    client.get(URL)  # session and the like, once
    with django_assert_max_num_queries(25) as few:
        assert client.get(URL).status_code == 200
    _many(cast, code, 300)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(shown_ids(client.get(URL))) == 50
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"{URL}?state=acknowledged&page=2", **HTMX)


def test_the_badge_is_one_count(cast, django_assert_num_queries):
    from alerts.templatetags.violations import awaiting_count

    violation(characteristic(cast.plant), T0)
    with django_assert_num_queries(1):
        assert awaiting_count(cast.plant) == 1


# --- acknowledging ------------------------------------------------------------------------


def _post(client, ids, code, comment="", query="", **extra):
    data = {"ids": [str(i) for i in ids], "comment": comment}
    if code is not None:
        data["reason_code"] = str(getattr(code, "pk", code))
    return client.post(f"{URL}acknowledge/{query}", data, **extra)


def test_a_supervisor_acknowledges_several_at_once(cast, code, django_capture_on_commit_callbacks):
    ch = characteristic(cast.plant)
    chosen = [violation(ch, T0 + i * MINUTE) for i in range(3)]
    left = violation(ch, T0 + 5 * MINUTE)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_for(cast.supervisor), [v.pk for v in chosen], code,
                         "new insert", "?state=open", **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "Acknowledged 3 violations." in page
    assert shown_ids(response) == [left.pk]  # the filters of the page still hold
    for v in chosen:
        v.refresh_from_db()
        assert (v.acknowledged_by, v.reason_code, v.comment) == (cast.supervisor, code, "new insert")
    left.refresh_from_db()
    assert left.acknowledged_at is None
    [event] = LiveEvent.objects.filter(kind="acknowledged")
    assert sorted(event.payload["violation_ids"]) == sorted(v.pk for v in chosen)


def test_without_htmx_an_acknowledgment_goes_back_to_the_page_with_its_message(cast, code):
    v = violation(characteristic(cast.plant), T0)
    client = client_for(cast.supervisor)
    response = _post(client, [v.pk], code, query="?rule=1")
    assert response.status_code == 302 and response["Location"] == f"{URL}?rule=1"
    assert "Acknowledged 1 violation." in client.get(response["Location"]).content.decode()


def _unchanged(*violations):
    for v in violations:
        v.refresh_from_db()
        assert v.acknowledged_at is None and v.reason_code is None


def test_without_htmx_a_refused_acknowledgment_shows_the_whole_page_with_why(cast, code):
    v = violation(characteristic(cast.plant), T0)
    response = _post(client_for(cast.supervisor), [v.pk], None)
    assert response.status_code == 200
    page = text(response)
    assert "<html" in page and "Choose the reason for the out-of-control event." in page
    _unchanged(v)


def test_a_bulk_acknowledgment_with_another_plants_violation_changes_nothing_and_says_so(cast, code):
    mine = [violation(characteristic(cast.plant), T0 + i * MINUTE) for i in range(2)]
    theirs = violation(characteristic(cast.other_plant), T0)
    response = _post(client_for(cast.supervisor), [mine[0].pk, theirs.pk, mine[1].pk], code,
                     **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert f"No violation {theirs.pk} at Home Plant." in page
    assert "Nothing was acknowledged." in page
    _unchanged(*mine, theirs)
    # the selection and the reason stay as they were posted
    assert f'value="{mine[0].pk}" form="ack-form" aria-label="Select violation {mine[0].pk}" checked' in page
    assert f'<option value="{code.pk}" selected>' in page


@pytest.mark.parametrize("case", ["acknowledged", "superseded", "foreign code", "inactive code",
                                  "no code", "text code", "huge code", "no ids", "text id", "negative id",
                                  "huge id", "long comment"])
def test_a_bad_acknowledgment_changes_nothing_and_says_why(cast, code, case):
    ch = characteristic(cast.plant)
    fine = violation(ch, T0)
    other = violation(ch, T0 + MINUTE)
    ids, reason, comment = [fine.pk, other.pk], code.pk, ""
    expected = ""
    if case == "acknowledged":
        Violation.objects.filter(pk=other.pk).update(acknowledged_at=NOW, reason_code=code)
        expected = f"Violation {other.pk} is already acknowledged"
    elif case == "superseded":
        Violation.objects.filter(pk=other.pk).update(superseded_at=NOW)
        expected = f"Violation {other.pk} was superseded by a re-evaluation."
    elif case == "foreign code":
        reason = ReasonCode.objects.create(plant=cast.other_plant, name="Theirs").pk
        expected = "Choose an active reason code of the violation's plant."
    elif case == "inactive code":
        reason = ReasonCode.objects.create(plant=cast.plant, name="Old", active=False).pk
        expected = "Choose an active reason code of the violation's plant."
    elif case in ("no code", "text code", "huge code"):
        reason = {"no code": None, "text code": "tool", "huge code": "9" * 30}[case]
        expected = "Choose the reason for the out-of-control event."
    elif case == "no ids":
        ids, expected = [], "Select the violations to acknowledge."
    elif case in ("text id", "negative id", "huge id"):
        bad = {"text id": "abc", "negative id": "-4", "huge id": "9" * 30}[case]
        ids, expected = [fine.pk, bad], f"These are no violation ids: {bad[:20]}."
    else:
        comment, expected = "x" * 2001, "Keep the comment under 2,000 characters."
    response = _post(client_for(cast.supervisor), ids, reason, comment, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert expected in page and "Nothing was acknowledged." in page
    fine.refresh_from_db()
    assert fine.acknowledged_at is None


def test_who_may_post(cast, code):
    v = violation(characteristic(cast.plant), T0)
    assert _post(client_for(cast.operator), [v.pk], code, **HTMX).status_code == 403
    assert _post(client_for(cast.outsider), [v.pk], code, **HTMX).status_code == 404
    assert _post(Client(), [v.pk], code).status_code == 302
    assert client_for(cast.supervisor).get(f"{URL}acknowledge/").status_code == 405
    _unchanged(v)
    assert _post(client_for(cast.engineer), [v.pk], code, **HTMX).status_code == 200
    v.refresh_from_db()
    assert v.acknowledged_by == cast.engineer


def test_a_post_without_the_csrf_token_is_refused(cast, code):
    v = violation(characteristic(cast.plant), T0)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.supervisor)
    assert _post(client, [v.pk], code).status_code == 403
    _unchanged(v)


# --- live rows and the badge --------------------------------------------------------------


def test_the_rows_endpoint_gives_the_asked_rows_and_the_summary_of_the_filters(cast, code):
    ch = characteristic(cast.plant)
    done = violation(ch, T0, acked_after=timedelta(minutes=4), by=cast.supervisor, code=code)
    violation(ch, T0 + MINUTE)
    response = client_for(cast.supervisor).get(f"{URL}rows/?state=all&id={done.pk}&id=x")
    assert response.status_code == 200
    page = text(response)
    assert shown_ids(response) == [done.pk]
    assert page.lstrip().startswith("<template>")
    assert "Acknowledged" in page and 'name="ids"' not in page
    assert '<strong data-total>2</strong>' in page and "<strong data-median>4 min</strong>" in page


def test_the_badge_counts_live_violations_awaiting_acknowledgment_on_every_plant_page(cast, code):
    ch = characteristic(cast.plant)
    for _ in range(3):
        violation(ch, T0 + _ * MINUTE)
    violation(ch, T0 + 5 * MINUTE, requires_ack=False)
    violation(ch, T0 + 6 * MINUTE, acked_after=MINUTE, by=cast.supervisor, code=code)
    gone = violation(ch, T0 + 7 * MINUTE)
    Violation.objects.filter(pk=gone.pk).update(superseded_at=NOW)
    violation(characteristic(cast.other_plant), T0)
    client = client_for(cast.operator)
    badge = text(client.get(f"{URL}badge/"))
    assert badge.startswith('<a id="violations-badge"') and "has-open" in badge
    assert '3 violations awaiting acknowledgment' in badge and "</span> 3</a>" in badge
    assert f'href="{URL}?state=open"' in badge
    for page in (URL, f"/p/HOME/c/{ch.pk}/"):
        assert 'id="violations-badge"' in client.get(page).content.decode()
    Violation.objects.update(acknowledged_at=NOW)
    assert "has-open" not in text(client.get(f"{URL}badge/"))


def test_the_page_knows_which_new_violations_could_belong_to_it(cast, spread):
    client = client_for(cast.operator)
    page = client.get(URL).content.decode()
    assert 'data-follows-new="true" data-watched=""' in page
    page = client.get(f"{URL}?node={spread['area'].pk}").content.decode()
    assert f'data-watched="{spread["a"].pk},{spread["b"].pk}"' in page
    assert 'data-follows-new="false"' in client.get(f"{URL}?state=acknowledged").content.decode()
    assert 'data-follows-new="false"' in client.get(f"{URL}?to=2020-01-01").content.decode()
