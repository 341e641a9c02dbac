"""Data entry in headless Chromium against a real server (uvicorn serving openspc.asgi on a
database of its own, as `make run` does): from the chart page's "Enter sample" dialog a value
beyond USL turns its box red before anything is sent, Enter records it, the result names the
rule, and the point appears on every open chart of the browser without a reload. Then the
keyboard flow, text refused in place, an implausible value confirmed by a second press, a lost
response retried (recorded once), and the dialog's screenshots."""

import json
import os
import urllib.request

import pytest

from conftest import ARTIFACTS, new_page
from openspc.tests.test_server import manage
from spc.tests.test_live_browser import PASSWORD, Site, log_in, open_live_chart, wait_series

pytestmark = [pytest.mark.browser]
SETUP = """
import json
from datetime import timedelta
from django.utils import timezone
from rest_framework.authtoken.models import Token
from plants.models import Level
from plants.roles import Role
from plants.tests.factories import NodeFactory, PlantFactory, user_with_role
from spc import limit_versions
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory
plant = PlantFactory(code="LIVE", name="Entry plant")
node = NodeFactory(plant=plant, level=Level.LINE, name="Line 1")
start = timezone.now() - timedelta(hours=1)
made = {}
for name, kind, n, values in (
        ("Bore", "imr", 1, [[10.3], [9.6], [10.4], [9.8], [10.1], [9.7], [10.2], [9.9]]),
        ("Ring gap", "xbar_r", 3, [[10.1, 9.9, 10.0], [9.8, 10.2, 10.1], [10.0, 10.3, 9.9]])):
    ch = CharacteristicFactory(node=node, name=name, chart_type=kind, subgroup_size=n,
                               usl=12.5, lsl=7.5, decimal_places=3)
    limit_versions.manual(ch, None, "known process", center=10.0, sigma=1.0,
                          effective_from=start - timedelta(minutes=1))
    record_samples(ch, [SampleRequest(values=v, timestamp=start + timedelta(minutes=i))
                        for i, v in enumerate(values)])
    made[name] = ch.pk
for username, role in (("op", Role.OPERATOR), ("sup", Role.SUPERVISOR)):
    user = user_with_role(plant, role, username)
    user.set_password("PASSWORD")
    user.save()
made["token"] = Token.objects.create(user=user).key
print(json.dumps(made))
""".replace("PASSWORD", PASSWORD)


class EntrySite(Site):
    """The live test's server, with characteristics of its own: Bore (I-MR) and Ring gap
    (X̄-R, n = 3), both centred on 10 with σ 1 and spec limits 7.5 … 12.5."""

    def __init__(self, data):
        from openspc.tests.test_server import _free_port, server_env

        self.env = server_env(data)
        self.data, self.port, self.proc = data, _free_port(), None
        manage(self.env, "migrate", "--noinput", "-v", "0")
        made = json.loads(manage(self.env, "shell", "-c", SETUP).strip().splitlines()[-1])
        self.bore, self.ring, self.token = made["Bore"], made["Ring gap"], made["token"]
        self.ch = self.bore
        self.url = f"http://127.0.0.1:{self.port}"

    def samples(self, ch) -> list[dict]:
        request = urllib.request.Request(
            f"{self.url}/api/v1/characteristics/{ch}/samples/?limit=500",
            headers={"Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["results"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = EntrySite(tmp_path_factory.mktemp("entry-site"))
    site.start()
    yield site
    site.stop()


def open_dialog(page):
    page.click("[data-enter-url]")
    page.wait_for_selector("#entry-dialog[open] [data-entry-form]")
    # the first box (or the count) takes the focus as the form arrives: typing goes there
    page.wait_for_function("document.activeElement && document.activeElement.matches("
                           "'#entry-dialog [data-entry-value], #entry-dialog [data-entry-count]')")


def box(page, at=1):
    return page.locator(f"#entry-dialog #entry-value-{at}")


def is_red(locator) -> bool:
    return locator.evaluate("""el => {
        const c = getComputedStyle(el).borderTopColor.match(/\\d+/g).map(Number);
        return c[0] > 150 && c[1] < 120 && c[2] < 120;
    }""")


def test_a_value_beyond_usl_is_red_recorded_with_enter_and_drawn_on_every_open_chart(site, chromium):
    page = log_in(new_page(chromium, 1366, 900), site, "op")
    open_live_chart(page, site)
    other_tab = page.context.new_page()  # the same browser: a second tab on the chart
    other_tab.console_errors = []
    other_tab.on("pageerror", lambda e: other_tab.console_errors.append(str(e)))
    open_live_chart(other_tab, site)
    for p in (page, other_tab):
        p.evaluate("window.__notReloaded = true")
    before = len(site.samples(site.bore))

    open_dialog(page)
    first = box(page)
    assert first.evaluate("el => el === document.activeElement"), "the first box has the focus"
    first.type("13.4")
    note = page.locator("#entry-dialog .entry-box .entry-note").first
    assert note.inner_text() == "above USL 12.500"
    assert is_red(first), "red before anything is sent"
    assert len(site.samples(site.bore)) == before
    page.keyboard.press("Enter")

    page.wait_for_selector("#entry-dialog [data-entry-result]")
    result = page.inner_text("#entry-dialog [data-entry-result]")
    assert "Out of control — " in result
    assert "Rule 1 — one point beyond the upper control limit (3σ): sample 9 at 13.400 > UCL " \
           "13.000" in result
    sample = int(page.get_attribute("#entry-dialog [data-entry-result]", "data-sample"))
    for p in (page, other_tab):
        wait_series(p, "p.value", sample, timeout=500 if p is other_tab else 5000)
        wait_series(p, "p.violation", sample)
        assert p.evaluate("window.__notReloaded") is True
    assert [s["id"] for s in site.samples(site.bore)].count(sample) == 1
    page.screenshot(path=os.path.join(ARTIFACTS, "entry-result-rule1.png"))

    # Enter next: a fresh form, focused, ready for the next subgroup
    page.keyboard.press("Enter")
    page.wait_for_selector("#entry-dialog [data-entry-form]")
    assert box(page).evaluate("el => el === document.activeElement && el.value === ''")
    assert page.console_errors == [] and other_tab.console_errors == []
    page.context.close()


def test_the_keyboard_flow_text_refused_and_an_implausible_value_confirmed(site, chromium):
    page = log_in(new_page(chromium, 1024, 768), site, "op")
    page.goto(f"{site.url}/p/LIVE/c/{site.ring}/")
    open_dialog(page)
    before = len(site.samples(site.ring))
    page.keyboard.type("10.1")
    page.keyboard.press("Enter")  # moves on
    assert box(page, 2).evaluate("el => el === document.activeElement")
    page.keyboard.type("abc")
    note = page.locator("#entry-dialog .entry-box").nth(1).locator(".entry-note")
    assert note.inner_text() == "a number, e.g. 10.000"
    assert is_red(box(page, 2))
    page.keyboard.press("Enter")
    page.keyboard.type("9,9")  # a decimal comma is read as a point
    page.keyboard.press("Enter")  # on the last box: records — refused, "abc" is no number
    page.wait_for_selector("#entry-dialog [data-entry-status]:not([hidden])")
    assert box(page, 2).evaluate("el => el === document.activeElement")
    assert len(site.samples(site.ring)) == before

    box(page, 2).fill("")
    box(page, 2).type("100.2")  # more than 10σ from the center 10: a typo?
    assert "more than 10σ from the center 10.000" in note.inner_text()
    box(page, 3).press("Enter")
    submit = page.locator("#entry-dialog [data-entry-submit]")
    assert submit.inner_text() == "Record 100.2 anyway?"
    page.screenshot(path=os.path.join(ARTIFACTS, "entry-dialog-implausible-1024.png"))
    assert len(site.samples(site.ring)) == before
    box(page, 3).press("Enter")  # the second press records it
    page.wait_for_selector("#entry-dialog [data-entry-result]")
    recorded = site.samples(site.ring)
    assert len(recorded) == before + 1
    assert recorded[0]["values"] == [10.1, 100.2, 9.9]
    assert page.console_errors == []
    page.context.close()


def test_a_lost_response_keeps_the_values_and_the_retry_records_once(site, chromium):
    page = log_in(new_page(chromium, 1366, 900), site, "op")
    page.goto(f"{site.url}/p/LIVE/c/{site.bore}/")
    open_dialog(page)
    before = len(site.samples(site.bore))
    lost = []

    def lose_the_answer(route):
        route.fetch()  # the server records the sample …
        lost.append(True)
        route.abort()  # … and the answer never arrives

    page.route("**/enter/", lambda route: lose_the_answer(route)
               if route.request.method == "POST" and not lost else route.continue_())
    box(page).type("10.25")
    page.keyboard.press("Enter")
    status = page.locator("#entry-dialog [data-entry-status]")
    status.wait_for(state="visible")
    assert "could not be reached" in status.inner_text()
    assert box(page).input_value() == "10.25"
    assert len(site.samples(site.bore)) == before + 1  # recorded, though the browser never heard

    page.click("#entry-dialog [data-entry-submit]")  # the retry
    page.wait_for_selector("#entry-dialog [data-entry-result]")
    assert "recorded already" in page.inner_text("#entry-dialog [data-entry-result]")
    assert len(site.samples(site.bore)) == before + 1
    page.context.close()


def test_a_double_tap_records_once(site, chromium):
    page = log_in(new_page(chromium, 1024, 768), site, "op")
    page.goto(f"{site.url}/p/LIVE/c/{site.bore}/")
    open_dialog(page)
    before = len(site.samples(site.bore))
    box(page).type("10.05")
    page.locator("#entry-dialog [data-entry-submit]").dblclick()
    page.wait_for_selector("#entry-dialog [data-entry-result]")
    page.wait_for_timeout(300)
    assert len(site.samples(site.bore)) == before + 1
    page.context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_the_dialog_with_a_red_field(site, chromium, theme):
    for width, height in ((1366, 900), (1024, 768)):
        page = log_in(new_page(chromium, width, height, theme), site, "op")
        page.goto(f"{site.url}/p/LIVE/c/{site.ring}/")
        open_dialog(page)
        for at, value in ((1, "10.12"), (2, "12.71"), (3, "9.87")):
            box(page, at).type(value)
        page.fill("#entry-dialog input[name=batch]", "L-2291")
        assert [box(page, at).input_value() for at in (1, 2, 3)] == ["10.12", "12.71", "9.87"]
        assert is_red(box(page, 2)) and not is_red(box(page, 1))
        page.screenshot(path=os.path.join(ARTIFACTS, f"entry-dialog-red-{theme}-{width}.png"))
        page.goto(f"{site.url}/p/LIVE/c/{site.ring}/enter/")  # the page of its own
        page.locator("#entry-value-1").type("10.2a")
        assert page.locator(".entry-note").first.inner_text() == "a number, e.g. 10.000"
        page.screenshot(path=os.path.join(ARTIFACTS, f"entry-page-{theme}-{width}.png"))
        assert page.console_errors == []
        page.context.close()
