"""Live pages in headless Chromium against a real server (uvicorn serving openspc.asgi on a
database of its own, as `make run` does): a sample posted through the API appears on every open
chart without a reload, its violation pulses and toasts, an acknowledgment in one browser stops
the pulse in another, and a page that lost its server catches up when it is back — no reload,
no gap, no duplicate point."""

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ARTIFACTS, new_page
from openspc.tests.test_server import ROOT, VENV_BIN, _free_port, manage, server_env

pytestmark = [pytest.mark.browser]
PASSWORD = "live-browser-pass-1"
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
plant = PlantFactory(code="LIVE", name="Live plant")
other = PlantFactory(code="ELSE", name="Other plant")
node = NodeFactory(plant=plant, level=Level.LINE, name="Line 1")
ch = CharacteristicFactory(node=node, name="Bore", chart_type="imr", subgroup_size=1)
start = timezone.now() - timedelta(hours=1)
limit_versions.manual(ch, None, "known process", center=10.0, sigma=1.0,
                      effective_from=start - timedelta(minutes=1))
values = [10.3, 9.6, 10.4, 9.8, 10.1, 9.7, 10.2, 9.9, 10.5, 9.6, 10.0, 10.2]
record_samples(ch, [SampleRequest(values=[v], timestamp=start + timedelta(minutes=i))
                    for i, v in enumerate(values)])
for name, role, where in (("op", Role.OPERATOR, plant), ("sup", Role.SUPERVISOR, plant),
                          ("elsewhere", Role.OPERATOR, other), ("machine", Role.OPERATOR, plant)):
    user = user_with_role(where, role, name)
    user.set_password("PASSWORD")
    user.save()
token = Token.objects.create(user=user).key
print(json.dumps({"ch": ch.pk, "token": token}))
""".replace("PASSWORD", PASSWORD)
RECORD_OFFLINE = """
from spc.models import Characteristic
from spc.pipeline import record_sample
from spc.sample_input import SampleRequest
ch = Characteristic.objects.get(pk=CHARACTERISTIC)
print([record_sample(ch, SampleRequest(values=[v])).sample.pk for v in (10.1, 9.9, 10.2)])
"""


class Site:
    """A uvicorn process on its own SQLite database, which can be stopped and started again on
    the same port (the database stays)."""

    def __init__(self, data: Path):
        self.env = server_env(data)
        self.data, self.port, self.proc = data, _free_port(), None
        manage(self.env, "migrate", "--noinput", "-v", "0")
        made = json.loads(manage(self.env, "shell", "-c", SETUP).strip().splitlines()[-1])
        self.ch, self.token = made["ch"], made["token"]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.log = (self.data / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(self.port),
             "--lifespan", "off", "openspc.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, (self.data / "server.log").read_text()
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                return
            assert time.monotonic() < deadline, "uvicorn did not listen within 60 s"
            time.sleep(0.2)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()

    def post_sample(self, value: float) -> int:
        request = urllib.request.Request(
            f"{self.url}/api/v1/characteristics/{self.ch}/samples/",
            data=json.dumps({"values": [value]}).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["id"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("live-site"))
    site.start()
    yield site
    site.stop()


def log_in(page, site, username):
    page.goto(f"{site.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/p/**")
    return page


def open_live_chart(page, site):
    page.goto(f"{site.url}/p/LIVE/c/{site.ch}/")
    page.wait_for_selector("#control-chart[data-ready]")
    page.wait_for_selector("[data-live-status][data-state='live']")


def series_ids(page, name) -> list[int]:
    return page.evaluate("""name => {
        const t = document.getElementById('control-chart').data.find(t => t.meta.series === name);
        return t ? Array.from(t.customdata) : [];
    }""", name)


def wait_series(page, name, sample_id, present=True, timeout=5000):
    page.wait_for_function("""([name, id, present]) => {
        const t = document.getElementById('control-chart').data.find(t => t.meta.series === name);
        return t && Array.from(t.customdata).includes(id) === present;
    }""", arg=[name, sample_id, present], timeout=timeout)


def test_a_sample_appears_live_and_an_acknowledgment_stops_the_pulse_everywhere(site, chromium):
    supervisor = log_in(new_page(chromium, 1366, 900), site, "sup")
    operator = log_in(new_page(chromium, 1024, 768, "dark"), site, "op")
    elsewhere_page = log_in(new_page(chromium, 1024, 768), site, "op")
    for page in (supervisor, operator):
        open_live_chart(page, site)
        page.evaluate("window.__notReloaded = true")
    elsewhere_page.wait_for_selector("[data-live-status][data-state='live']")

    sample = site.post_sample(16.5)  # beyond UCL 13: rule 1
    for page in (supervisor, operator):
        wait_series(page, "p.value", sample)
        wait_series(page, "p.violation", sample)
        wait_series(page, "p.pulse", sample)
        assert page.evaluate("window.__notReloaded") is True
    # every page of a user of the plant hears of the violation
    elsewhere_page.wait_for_selector(".toast:has-text('Rule 1 on Bore')")
    operator.screenshot(path=os.path.join(ARTIFACTS, "live-new-violation.png"))

    # the supervisor acknowledges from the inspector; the operator's pulse stops
    supervisor.wait_for_selector(f"[data-inspect='{sample}']")  # the list refreshed live
    supervisor.click(f"[data-inspect='{sample}']")
    supervisor.wait_for_selector("#inspector-body select[name=reason_code]")
    supervisor.select_option("#inspector-body select[name=reason_code]", index=1)
    supervisor.click("#inspector-body button:has-text('Acknowledge')")
    supervisor.wait_for_selector("#inspector-body :text('Acknowledged by')")
    wait_series(operator, "p.pulse", sample, present=False)
    wait_series(supervisor, "p.pulse", sample, present=False)
    assert sample in series_ids(operator, "p.violation")  # still a violation, no longer pulsing
    assert operator.evaluate(
        "document.getElementById('control-chart')._fullLayout.xaxis.type") == "date"
    operator.screenshot(path=os.path.join(ARTIFACTS, "live-acknowledged.png"))
    for page in (supervisor, operator, elsewhere_page):
        assert page.console_errors == []
        page.context.close()


def test_a_page_catches_up_after_its_server_was_away_without_duplicates(site, chromium):
    page = log_in(new_page(chromium, 1366, 900), site, "op")
    open_live_chart(page, site)
    page.evaluate("window.__notReloaded = true")
    before = series_ids(page, "p.value")

    site.stop()
    page.wait_for_selector("[data-live-status]:not([data-state='live'])")
    # samples recorded while no web server runs (another process: their events are only logged)
    out = manage(site.env, "shell", "-c", RECORD_OFFLINE.replace("CHARACTERISTIC", str(site.ch))).strip().splitlines()[-1]
    missed = json.loads(out)
    site.start()

    page.wait_for_selector("[data-live-status][data-state='live']", timeout=60_000)
    for sample in missed:
        wait_series(page, "p.value", sample, timeout=10_000)
    after = series_ids(page, "p.value")
    assert after == before + missed, "every missed point once, in order"
    live = site.post_sample(10.05)
    wait_series(page, "p.value", live)
    assert series_ids(page, "p.value").count(live) == 1
    assert page.evaluate("window.__notReloaded") is True
    assert [e for e in page.console_errors if "WebSocket" not in e] == []
    page.context.close()


def test_an_operator_of_another_plant_gets_404(site, chromium):
    page = log_in(new_page(chromium, 1024, 768), site, "elsewhere")
    response = page.goto(f"{site.url}/p/LIVE/c/{site.ch}/")
    assert response.status == 404
    page.context.close()


def test_a_dashboard_card_is_read_again_when_a_sample_arrives(site, chromium):
    manage(site.env, "shell", "-c",
           "from datetime import timedelta; from spc.models import Characteristic; "
           f"Characteristic.objects.filter(pk={site.ch}).update("
           "sampling_interval=timedelta(seconds=2), overdue_after=timedelta(hours=1))")
    page = log_in(new_page(chromium, 1366, 900), site, "op")
    page.goto(f"{site.url}/p/LIVE/")
    page.wait_for_selector("[data-live-status][data-state='live']")
    card = f"#todo-{site.ch}"
    page.wait_for_function(f"document.querySelector('{card}').dataset.state === 'due'",
                           timeout=10_000)
    page.evaluate("window.__notReloaded = true")
    site.post_sample(10.1)
    # the card comes back from the server with the new sample: not due for two seconds
    page.wait_for_function(f"document.querySelector('{card}').dataset.state === 'idle'",
                           timeout=5_000)
    assert "10.1" in page.inner_text(card)
    page.wait_for_function(f"document.querySelector('{card}').dataset.state === 'due'",
                           timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.console_errors == []
    page.context.close()
