"""The chart page in headless Chromium: every chart type draws without a console error, the
inspector explains a rule-3 violation and highlights its six points, ranges and the
comparison page's shared time axis work."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from conftest import ARTIFACTS, new_page
from spc import limit_versions
from spc.models import ChartType, Violation
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory
from spc.tests.test_chart_page import KINDS, MINUTE, T0, build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def logged_in(page, live_server, user):
    """Give the page's browser context a session of `user` (no login form round trip)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                               "url": live_server.url}])
    return page


def open_chart(page, live_server, plant, ch, query=""):
    page.goto(f"{live_server.url}/p/{plant.code}/c/{ch.pk}/{query}")
    page.wait_for_selector("#control-chart[data-ready]")


def test_every_chart_type_draws_without_a_console_error(cast, live_server, chromium):
    made = {kind: build(kind, plant=cast.plant, count=30) for kind in KINDS}
    for theme, (width, height) in (("light", (1366, 900)), ("dark", (1024, 768))):
        page = logged_in(new_page(chromium, width, height, theme), live_server, cast.operator)
        for kind, ch in made.items():
            open_chart(page, live_server, cast.plant, ch)
            drawn = page.evaluate("""() => {
                const gd = document.getElementById('control-chart');
                return gd.data.filter(t => t.x && t.x.length).map(t => t.meta.series);
            }""")
            assert "p.violation" in drawn, kind
            assert ("p.upper" if kind == ChartType.CUSUM else "p.value") in drawn, kind
            if kind in (ChartType.XBAR_R, ChartType.XBAR_S, ChartType.IMR):
                assert "s.value" in drawn, kind
            if not ch.is_attribute:
                assert page.locator("#histogram .main-svg").count() > 0, kind
            page.screenshot(path=os.path.join(ARTIFACTS, f"chart-{kind}-{theme}-{width}.png"),
                            full_page=True)
        assert page.console_errors == []
        page.context.close()


def test_the_inspector_explains_rule_3_and_highlights_its_six_points(cast, live_server,
                                                                     chromium):
    ch = CharacteristicFactory(node__plant=cast.plant, chart_type=ChartType.IMR, subgroup_size=1)
    limit_versions.manual(ch, None, "known process", center=10.0, sigma=1.0,
                          effective_from=T0 - timedelta(days=1))
    values = [10.8, 9.2, 10.6, 9.5, 9.7, 9.9, 10.1, 10.3, 10.5]
    record_samples(ch, [SampleRequest(values=[v], timestamp=T0 + i * MINUTE)
                        for i, v in enumerate(values)])
    fired = Violation.objects.get(characteristic=ch, superseded_at__isnull=True, chart="primary")
    assert fired.rule == 3
    page = logged_in(new_page(chromium, 1366, 900), live_server, cast.supervisor)
    open_chart(page, live_server, cast.plant, ch)

    page.click(f"[data-inspect='{fired.sample_id}']")
    page.wait_for_selector("#inspector-body [data-highlight]")
    body = page.inner_text("#inspector-body")
    assert "Rule 3" in body and "samples 4–9" in body
    page.wait_for_function("document.getElementById('control-chart').dataset.highlighted === '6'")
    page.screenshot(path=os.path.join(ARTIFACTS, "chart-inspector-rule3.png"))
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('control-chart').dataset.highlighted")
    assert page.console_errors == []


def test_clicking_a_point_opens_its_inspector(cast, live_server, chromium):
    ch = build(ChartType.XBAR_R, plant=cast.plant, count=25)
    page = logged_in(new_page(chromium, 1366, 900), live_server, cast.operator)
    open_chart(page, live_server, cast.plant, ch)
    # the last point, far out: click it where Plotly drew it
    box = page.evaluate("""() => {
        const gd = document.getElementById('control-chart');
        const i = gd.data.findIndex(t => t.meta.series === 'p.violation');
        const t = gd.data[i], k = t.x.length - 1;
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.getBoundingClientRect();
        return {x: r.left + xa._offset + xa.d2p(t.x[k]), y: r.top + ya._offset + ya.d2p(t.y[k]),
                id: t.customdata[k]};
    }""")
    page.mouse.move(box["x"], box["y"])
    page.mouse.click(box["x"], box["y"])
    page.wait_for_selector(f"#inspector-body [data-sample='{box['id']}']")
    assert "Rule 1" in page.inner_text("#inspector-body")
    assert page.console_errors == []


def test_ranges_and_the_comparison_page(cast, live_server, chromium):
    a = build(ChartType.IMR, plant=cast.plant, count=120)
    b = build(ChartType.XBAR_R, plant=cast.plant, count=60)
    page = logged_in(new_page(chromium, 1366, 900), live_server, cast.operator)
    open_chart(page, live_server, cast.plant, a)
    page.click("text=Last 50")
    page.wait_for_selector("#control-chart[data-ready]")
    assert page.evaluate("document.getElementById('control-chart').data"
                         ".find(t => t.meta.series === 'p.value').x.length") == 50

    page.goto(f"{live_server.url}/p/{cast.plant.code}/compare/?c={a.pk}&c={b.pk}&last=all")
    page.wait_for_selector("#compare-2[data-ready]")
    ranges = page.evaluate("""() => [1, 2].map(i =>
        document.getElementById('compare-' + i)._fullLayout.xaxis.range.map(String))""")
    assert ranges[0] == ranges[1], "both charts start on one time span"
    # zoom the first: the second follows
    window = [(T0 + m * MINUTE).strftime("%Y-%m-%d %H:%M") for m in (10, 40)]
    page.evaluate("w => Plotly.relayout('compare-1', {'xaxis.range': w})", window)
    page.wait_for_function("""() => {
        const [a, b] = [1, 2].map(i => document.getElementById('compare-' + i)._fullLayout.xaxis.range);
        return String(a[0]) === String(b[0]) && String(a[1]) === String(b[1]);
    }""")
    page.screenshot(path=os.path.join(ARTIFACTS, "compare.png"))
    assert page.console_errors == []


def test_a_period_is_noted_by_dragging_across_the_chart(cast, live_server, chromium):
    ch = build(ChartType.IMR, plant=cast.plant, count=40)
    page = logged_in(new_page(chromium, 1366, 900), live_server, cast.operator)
    open_chart(page, live_server, cast.plant, ch)
    page.click("[data-note-period]")
    box = page.evaluate("""() => {
        const gd = document.getElementById('control-chart');
        const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return {left: r.left + xa._offset + xa._length * 0.3, right: r.left + xa._offset + xa._length * 0.6,
                y: r.top + ya._offset + ya._length * 0.5};
    }""")
    page.mouse.move(box["left"], box["y"])
    page.mouse.down()
    page.mouse.move((box["left"] + box["right"]) / 2, box["y"], steps=5)
    page.mouse.move(box["right"], box["y"], steps=5)
    page.mouse.up()
    page.wait_for_selector("#inspector-body input[name=start]")
    assert page.input_value("#inspector-body input[name=start]")
    page.fill("#inspector-body textarea[name=text], #inspector-body input[name=text]",
              "Material lot 4711")
    page.click("#inspector-body button:has-text('Add note')")
    page.wait_for_function("!document.getElementById('inspector').open")
    note = ch.annotations.get()
    assert note.text == "Material lot 4711" and note.sample_id is None and note.start < note.end
    page.wait_for_function("""() => (document.getElementById('control-chart').layout.shapes || [])
        .some(s => s.name === 'annotation')""")
    page.screenshot(path=os.path.join(ARTIFACTS, "chart-period-note.png"))
    assert page.console_errors == []
