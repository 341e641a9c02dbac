"""The chart page and the figures it draws: every chart type, what each series holds, ranges,
access, and the number of queries whatever the number of points."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from spc import charts, limit_versions
from spc.chart_data import chart_data
from spc.models import Annotation, ChartType, Sample, Violation
from spc.pipeline import record_samples
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=2)
MINUTE = timedelta(minutes=1)
RNG = np.random.default_rng(11)

# chart type → (n, how a sample is made from i)
KINDS = {
    ChartType.IMR: 1, ChartType.XBAR_R: 5, ChartType.XBAR_S: 4, ChartType.P: 50,
    ChartType.NP: 50, ChartType.C: 1, ChartType.U: 4, ChartType.EWMA: 1, ChartType.CUSUM: 1,
}


def _request(kind, n, i, shift=0.0):
    at = T0 + i * MINUTE
    if kind in (ChartType.P, ChartType.NP):
        return SampleRequest(count=int(RNG.binomial(n, 0.08)), sample_size=n, timestamp=at)
    if kind in (ChartType.C, ChartType.U):
        return SampleRequest(count=int(RNG.poisson(3 * n)), sample_size=n, timestamp=at)
    return SampleRequest(values=(RNG.normal(10 + shift, 1, n)).round(4).tolist(), timestamp=at)


def build(kind, plant=None, count=40, established=True, **kw):
    """A characteristic of `kind` with `count` samples; limits from the first 20 when
    `established`; the last point far out so it raises a violation."""
    n = KINDS[kind]
    extra = {"node__plant": plant} if plant is not None else {}
    ch = CharacteristicFactory(chart_type=kind, subgroup_size=n, target=10.0, usl=14.0,
                               lsl=6.0, **extra, **kw)
    requests = [_request(kind, n, i) for i in range(count - 1)]
    requests.append(_request(kind, n, count - 1, shift=12.0) if kind not in (
        ChartType.P, ChartType.NP, ChartType.C, ChartType.U) else
        SampleRequest(count=n if kind in (ChartType.P, ChartType.NP) else 40 * n,
                      sample_size=n, timestamp=T0 + (count - 1) * MINUTE))
    record_samples(ch, requests[:20])
    if established:
        limit_versions.recalculate(ch, None, "Phase I", first_n=20,
                                   effective_from=requests[0].timestamp)
    record_samples(ch, requests[20:])
    return ch


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


# --- the figure -------------------------------------------------------------------------------

def test_series_hold_what_the_chart_draws_for_asymmetric_hand_entered_limits():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, subgroup_size=1)
    limit_versions.manual(ch, None, "drawing", center=10.0, ucl=13.0, lcl=5.0, sigma=1.0,
                          effective_from=T0 - MINUTE)
    values = [10.0, 11.0, 13.5, 9.0, 5.5, 10.0]
    record_samples(ch, [SampleRequest(values=[v], timestamp=T0 + i * MINUTE)
                        for i, v in enumerate(values)])
    excluded = Sample.objects.filter(characteristic=ch).order_by("timestamp")[3]
    set_excluded(excluded, True, "gauge dropped", None)
    data = chart_data(ch)
    beyond = Sample.objects.get(characteristic=ch, mean=13.5)
    s = charts.series(data, unacked={beyond.pk})

    assert excluded.pk not in s["p.value"]["ids"] and s["p.excluded"]["ids"] == [excluded.pk]
    assert s["p.excluded"]["y"] == [9.0]  # hollow, at its own value
    hollow = next(t for t in charts.figure(data)["data"] if t["meta"]["series"] == "p.excluded")
    assert hollow["text"] == ["gauge dropped"] and "Excluded: %{text}" in hollow["hovertemplate"]
    assert beyond.pk in s["p.violation"]["ids"] and s["p.pulse"]["ids"] == [beyond.pk]
    # 5.5 lies inside LCL 5: no rule 1 there, as the drawn limit shows
    assert Sample.objects.get(characteristic=ch, mean=5.5).pk not in s["p.violation"]["ids"]
    # zones above the centre are (UCL − CL)/3 wide, below it (CL − LCL)/3
    assert s["p.z+1"]["y"][0] == pytest.approx(11.0) and s["p.z+2"]["y"][0] == pytest.approx(12.0)
    assert s["p.z-1"]["y"][0] == pytest.approx(10 - 5 / 3)
    assert s["p.ucl"]["y"] == [13.0] * 6  # excluded points keep the limits in force
    # the moving-range chart below, on the same points
    assert s["s.value"]["ids"] == [i for i in data["sample_id"].tolist() if i != excluded.pk][1:]


def test_limits_are_stepped_lines_with_only_their_changes():
    points = {"x": ["a", "b", "c", "d", "e"], "y": [1.0, 1.0, 2.0, 2.0, 2.0],
              "ids": [1, 2, 3, 4, 5]}
    assert charts._steps(points) == {"x": ["a", "c", "e"], "y": [1.0, 2.0, 2.0],
                                     "ids": [1, 3, 5]}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_chart_type_draws_its_figure(kind):
    ch = build(kind)
    figure = charts.figure(chart_data(ch))
    series = {t["meta"]["series"] for t in figure["data"]}
    secondary = kind in (ChartType.XBAR_R, ChartType.XBAR_S, ChartType.IMR)
    assert ("yaxis2" in figure["layout"]) == secondary
    assert any(s.startswith("s.") for s in series) == secondary
    if kind == ChartType.CUSUM:
        assert {"p.upper", "p.lower"} <= series and "p.value" not in series
    else:
        assert "p.value" in series
    assert ("p.raw" in series) == (kind == ChartType.EWMA)
    violated = next(t for t in figure["data"] if t["meta"]["series"] == "p.violation")
    assert violated["customdata"], "the last point, far out, is drawn as a violation"
    json.dumps(figure, allow_nan=False)  # plain JSON: no NaN reaches the browser


def test_a_new_limit_version_and_the_trial_stage_are_marked():
    ch = build(ChartType.IMR, count=30, established=False)
    limit_versions.recalculate(ch, None, "Phase I done", first_n=20,
                               effective_from=T0 + 20 * MINUTE)
    layout = charts.figure(chart_data(ch))["layout"]
    texts = [a["text"] for a in layout["annotations"]]
    assert "Trial limits (Phase I)" in texts
    assert any(t.startswith("limits v1") for t in texts)
    assert any(s.get("name") == "trial" for s in layout["shapes"])


def test_spec_limits_are_dashed_shapes_the_page_can_toggle():
    ch = build(ChartType.XBAR_R, count=25)
    shapes = charts.figure(chart_data(ch))["layout"]["shapes"]
    spec = [s for s in shapes if s.get("name") == "spec"]
    assert sorted(s["y0"] for s in spec) == [6.0, 14.0]
    assert all(s["line"]["dash"] == "dash" for s in spec)


def test_annotations_are_markers_and_spans():
    ch = build(ChartType.IMR, count=25)
    point = Sample.objects.filter(characteristic=ch).order_by("timestamp")[22]
    Annotation.objects.create(characteristic=ch, sample=point, text="new gauge")
    Annotation.objects.create(characteristic=ch, start=T0, end=T0 + 5 * MINUTE,
                              text="trial run")
    figure = charts.figure(chart_data(ch), annotations=list(ch.annotations.all()))
    notes = next(t for t in figure["data"] if t["meta"]["series"] == "p.note")
    assert notes["customdata"] == [point.pk] and notes["text"] == ["new gauge"]
    assert any(s.get("name") == "annotation" for s in figure["layout"]["shapes"])


def test_times_are_drawn_in_the_site_time_zone_across_a_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    stamps = np.array(["2026-03-29T00:30:00", "2026-03-29T01:30:00"], dtype="datetime64[us]")
    assert charts.local_times(stamps, berlin) == ["2026-03-29T01:30:00.000",
                                                  "2026-03-29T03:30:00.000"]
    same = np.array(["2026-07-01T10:00:00"], dtype="datetime64[us]")
    assert charts.local_times(same, berlin) == ["2026-07-01T12:00:00.000"]


def test_histogram_counts_every_value_and_scales_the_normal_curve():
    ch = build(ChartType.XBAR_R, count=25)
    values = RNG.normal(10, 1, 200).tolist()
    figure = charts.histogram(values, None, ch)
    bars, curve = figure["data"]
    assert sum(bars["x"]) == 200
    width = bars["y"][1] - bars["y"][0]
    # the curve's area equals the histogram's (count × bin width)
    area = np.trapezoid(curve["x"], curve["y"])
    assert area == pytest.approx(200 * width, rel=0.02)
    assert {s["label"]["text"] for s in figure["layout"]["shapes"]} == {"USL", "LSL", "Target"}


# --- the page ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_the_page_renders_every_chart_type(cast, kind):
    ch = build(kind, plant=cast.plant)
    response = client_for(cast.operator).get(f"/p/{cast.plant.code}/c/{ch.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert ch.name in html and 'data-figure-for="control-chart"' in html
    assert "Awaiting acknowledgment" in html  # the far-out last point, listed under the chart


def test_another_plants_characteristic_is_not_found(cast):
    mine = build(ChartType.IMR, plant=cast.plant, count=22)
    theirs = build(ChartType.IMR, plant=cast.other_plant, count=22)
    operator = client_for(cast.operator)
    for url in (f"/p/{cast.plant.code}/c/{theirs.pk}/", f"/p/{cast.plant.code}/c/{theirs.pk}/figure/",
                f"/p/{cast.other_plant.code}/c/{theirs.pk}/",
                f"/p/{cast.other_plant.code}/c/{mine.pk}/"):
        assert operator.get(url).status_code == 404, url
    assert client_for(cast.outsider).get(f"/p/{cast.plant.code}/c/{mine.pk}/").status_code == 404


def test_ranges_and_bad_ranges(cast):
    ch = build(ChartType.IMR, plant=cast.plant, count=120)
    c = client_for(cast.operator)
    base = f"/p/{cast.plant.code}/c/{ch.pk}/"
    assert c.get(base + "figure/?last=50").json()["points"] == 50
    assert c.get(base + "figure/?last=all").json()["points"] == 120
    day = timezone.localtime(T0).date().isoformat()
    assert c.get(base + f"figure/?from={day}&to={day}").json()["points"] > 0
    bad = c.get(base + "figure/?last=7")
    assert bad.status_code == 400 and "last 50, 100 or 500" in bad.json()["error"]
    assert c.get(base + "figure/?from=yesterday").status_code == 400
    assert "end date is before" in c.get(base + "figure/?from=2026-02-02&to=2026-01-01").json()["error"]
    page = c.get(base + "?last=7")
    assert page.status_code == 200 and "Showing the last 100 samples" in page.content.decode()


def test_panels_answer_their_partials(cast):
    ch = build(ChartType.XBAR_R, plant=cast.plant, count=30)
    c = client_for(cast.operator)
    base = f"/p/{cast.plant.code}/c/{ch.pk}/panels/?last=100&part="
    assert 'id="capability-panel"' in c.get(base + "capability").content.decode()
    violations = c.get(base + "violations").content.decode()
    assert 'id="violations-panel"' in violations and "Rule 1" in violations
    assert c.get(base + "nothing").status_code == 404


def test_queries_do_not_grow_with_the_points(cast, django_assert_max_num_queries):
    small = build(ChartType.XBAR_R, plant=cast.plant, count=25)
    large = build(ChartType.XBAR_R, plant=cast.plant, count=400)
    Violation.objects.filter(characteristic=large).update(acknowledged_at=timezone.now())
    c = client_for(cast.operator)
    c.get(f"/p/{cast.plant.code}/c/{small.pk}/")  # session, caches
    with django_assert_max_num_queries(22) as small_queries:
        c.get(f"/p/{cast.plant.code}/c/{small.pk}/?last=all")
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        c.get(f"/p/{cast.plant.code}/c/{large.pk}/?last=all")


# --- the comparison page ----------------------------------------------------------------------

def test_the_comparison_page_draws_each_characteristic_in_its_own_colour(cast):
    a = build(ChartType.IMR, plant=cast.plant, count=22)
    b = build(ChartType.XBAR_R, plant=cast.plant, count=22)
    response = client_for(cast.operator).get(f"/p/{cast.plant.code}/compare/?c={a.pk}&c={b.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-sync="compare"') == 2
    figures = [json.loads(part.split(">", 1)[1].split("</script>", 1)[0])
               for part in html.split('<script type="application/json" data-figure-for="compare-')[1:]]
    colours = [next(t for t in f["data"] if t["meta"]["series"] == "p.value")["line"]["color"]
               for f in figures]
    assert colours == list(charts.COMPARE_COLOURS[:2])


def test_the_comparison_page_refuses_what_it_cannot_show(cast):
    mine = build(ChartType.IMR, plant=cast.plant, count=22)
    theirs = build(ChartType.IMR, plant=cast.other_plant, count=22)
    c = client_for(cast.operator)
    base = f"/p/{cast.plant.code}/compare/"
    other = c.get(f"{base}?c={mine.pk}&c={theirs.pk}").content.decode()
    assert f"No characteristic {theirs.pk} in this plant." in other
    assert theirs.name not in other.split("<main", 1)[1]
    assert "is not a characteristic number" in c.get(f"{base}?c=x²").content.decode()
    assert "at most 4" in c.get(base + "?" + "&".join(f"c={i}" for i in range(5))).content.decode()
    assert "Choose two characteristics" in c.get(base).content.decode()
    assert client_for(cast.outsider).get(base).status_code == 404
