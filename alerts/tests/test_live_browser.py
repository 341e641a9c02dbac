"""live.js in headless Chromium against the real server (uvicorn, openspc.asgi, its own SQLite,
the Redis channel layer so that other processes can publish): the status in the top bar, a
violation toast with its link, an htmx out-of-band fragment swapped in, and — the server
stopped, a violation recorded meanwhile, the server started again — the page reconnects by
itself and gets exactly the message it missed, once.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import ARTIFACTS
from openspc.tests.test_server import ROOT, VENV_BIN, _free_port, manage, server_env

pytestmark = [pytest.mark.browser, pytest.mark.redis]
SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from plants.models import Level
from plants.roles import Role
from plants.tests.factories import NodeFactory, PlantFactory, user_with_role
from spc import limit_versions
from spc.tests.factories import CharacteristicFactory
plant = PlantFactory(code="LIVE")
ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE), name="Piston diameter")
limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
user = user_with_role(plant, Role.OPERATOR, "watcher")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(json.dumps({"characteristic": ch.pk, "session": session.session_key}))
"""
VIOLATION = """
from spc.models import Characteristic
from spc.pipeline import record_sample
from spc.sample_input import SampleRequest
record_sample(Characteristic.objects.get(pk={pk}), SampleRequest(values=[30.0]))
"""
FRAGMENT = """
from alerts.live import send_html
from plants.models import Plant
send_html(Plant.objects.get(code="LIVE"),
          '<div id="toasts" hx-swap-oob="beforeend"><div class="toast" id="pushed">Pushed</div></div>')
"""
# The plant page (a dashboard of the plant's characteristics) also hears their points: only the
# plant's own messages are counted here.
LISTEN = ("window.heard = []; document.addEventListener('openspc:live', function (e) { "
          "if (e.detail.kind === 'violation' || e.detail.kind === 'html') "
          "window.heard.push(e.detail.kind); });")


class Uvicorn:
    """The web process on a fixed port, so that it can stop and start again on it."""

    def __init__(self, env):
        self.env, self.port, self.proc = env, _free_port(), None

    def start(self):
        log = open(os.path.join(self.env["OPENSPC_DATA_DIR"], "server.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(self.port),
             "--lifespan", "off", "openspc.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while not self._answers():
            assert self.proc.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def server(tmp_path):
    env = server_env(tmp_path, REDIS_URL=os.environ.get("OPENSPC_REDIS_URL",
                                                          "redis://127.0.0.1:6379/12"))
    manage(env, "migrate", "--noinput", "-v", "0")
    made = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    web = Uvicorn(env)
    web.start()
    yield web, env, made
    if web.proc.poll() is None:
        web.stop()


def test_a_plant_page_shows_toasts_and_fragments_and_catches_up_after_the_server_restarts(
        server, browser_page):
    web, env, made = server
    page = browser_page
    page.context.add_cookies([{"name": "sessionid", "value": made["session"],
                               "url": f"http://127.0.0.1:{web.port}"}])
    page.add_init_script(LISTEN)
    page.goto(f"http://127.0.0.1:{web.port}/p/LIVE/")
    status = page.locator("[data-live-status]")
    status.filter(has_text="live").wait_for(timeout=30_000)

    manage(env, "shell", "-c", VIOLATION.format(pk=made["characteristic"]))
    toast = page.locator("#toasts .toast").first
    toast.wait_for(timeout=30_000)
    assert toast.inner_text().startswith("Rule 1 on Piston diameter — ")
    # a critical violation: its toast stays, with the sample's inspector and a close button
    assert toast.locator("a").get_attribute("href").startswith(
        f"/p/LIVE/c/{made['characteristic']}/samples/")
    assert "sev-critical" in toast.get_attribute("class")
    manage(env, "shell", "-c", FRAGMENT)
    page.locator("#toasts #pushed").wait_for(timeout=30_000)
    assert page.evaluate("window.heard") == ["violation", "html"]
    seen = page.evaluate("window.openspcLive.lastId()")

    web.stop()
    status.filter(has_text="reconnecting").wait_for(timeout=30_000)
    manage(env, "shell", "-c", VIOLATION.format(pk=made["characteristic"]))  # while away
    web.start()
    status.filter(has_text="live").wait_for(timeout=30_000)
    page.wait_for_function("window.heard.length === 3", timeout=30_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.heard") == ["violation", "html", "violation"]
    assert page.evaluate("window.openspcLive.lastId()") > seen
    page.screenshot(path=os.path.join(ARTIFACTS, "live-toasts.png"))
    unexpected = [e for e in page.console_errors if "/ws/live/" not in e]
    assert unexpected == []
