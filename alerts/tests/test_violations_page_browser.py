"""The violations page in headless Chromium against the real server (uvicorn, openspc.asgi, its
own SQLite, the live channel): two browsers on the page, a supervisor acknowledges two
violations with a reason, and the operator's rows and top-bar badge change without a reload; a
new violation then raises a critical toast linking to its sample and a "new violations" bar.
Screenshots at 1366×900 and 1024×768, light and dark, in test-artifacts/."""

import json
import os
import urllib.request

import pytest

from conftest import ARTIFACTS, new_page
from openspc.tests.test_server import manage, server_env, serving

pytestmark = [pytest.mark.browser]
PASSWORD = "violations-browser-1"
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
plant = PlantFactory(code="VIOL", name="Violations plant")
area = NodeFactory(plant=plant, level=Level.AREA, name="Machining")
line = NodeFactory(plant=plant, parent=area, level=Level.LINE, name="Line 2")
start = timezone.now() - timedelta(hours=3)
made = {}
for name, values in (("Bore diameter", [10.2, 9.7, 14.1, 10.0, 9.9, 10.3, 5.2, 10.1]),
                     ("Flange width", [10.0, 10.4, 9.8, 13.6, 10.1, 9.9, 10.2, 10.0])):
    ch = CharacteristicFactory(node=line, name=name, chart_type="imr", subgroup_size=1)
    limit_versions.manual(ch, None, "known process", center=10.0, sigma=1.0,
                          effective_from=start - timedelta(minutes=1))
    record_samples(ch, [SampleRequest(values=[v], timestamp=start + timedelta(minutes=7 * i))
                        for i, v in enumerate(values)])
    made[name] = ch.pk
for name, role in (("op", Role.OPERATOR), ("sup", Role.SUPERVISOR), ("machine", Role.OPERATOR)):
    user = user_with_role(plant, role, name)
    user.set_password("PASSWORD")
    user.save()
made["token"] = Token.objects.create(user=user).key
print(json.dumps(made))
""".replace("PASSWORD", PASSWORD)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    env = server_env(tmp_path_factory.mktemp("violations-site"))
    manage(env, "migrate", "--noinput", "-v", "0")
    made = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    with serving(env) as port:
        made["url"] = f"http://127.0.0.1:{port}"
        yield made


def log_in(page, site, username):
    page.goto(f"{site['url']}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/p/**")
    page.goto(f"{site['url']}/p/VIOL/violations/")
    page.wait_for_selector("[data-live-status][data-state='live']")
    page.evaluate("window.__notReloaded = true")
    return page


def post_sample(site, characteristic, value) -> int:
    request = urllib.request.Request(
        f"{site['url']}/api/v1/characteristics/{characteristic}/samples/",
        data=json.dumps({"values": [value]}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {site['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["id"]


def badge(page) -> int:
    return int(page.inner_text("#violations-badge").split()[-1])


def shoot(page, name):
    for theme in ("light", "dark"):
        page.evaluate("theme => document.documentElement.dataset.theme = theme", theme)
        page.screenshot(path=os.path.join(ARTIFACTS, f"{name}-{theme}.png"), full_page=True)


def test_an_acknowledgment_in_one_browser_changes_the_rows_and_the_badge_in_another(
        site, chromium):
    supervisor = log_in(new_page(chromium, 1366, 900), site, "sup")
    operator = log_in(new_page(chromium, 1024, 768, "dark"), site, "op")
    rows = supervisor.locator("tr[data-violation]")
    total = rows.count()
    assert total >= 4 and badge(operator) == badge(supervisor) == total
    assert operator.locator("input[name=ids]").count() == 0
    assert operator.locator("[data-ack-form]").count() == 0
    shoot(supervisor, "violations-page-1366x900")
    shoot(operator, "violations-page-1024x768")

    # select all, then leave one out; the count follows
    submit = supervisor.locator("[data-ack-submit]")
    assert submit.is_disabled()
    supervisor.check("[data-select-all]")
    supervisor.wait_for_selector(f"[data-selected-count]:has-text('{total} selected')")
    keep = supervisor.locator("input[name=ids]").nth(2)
    kept_id = keep.get_attribute("value")
    keep.uncheck()
    for box in supervisor.locator("input[name=ids]").all()[3:]:
        box.uncheck()
    chosen = [b.get_attribute("value") for b in supervisor.locator("input[name=ids]:checked").all()]
    assert len(chosen) == 2 and kept_id not in chosen
    supervisor.wait_for_selector("[data-selected-count]:has-text('2 selected')")
    supervisor.select_option("select[name=reason_code]", label="Tool wear")
    supervisor.fill("input[name=comment]", "insert changed")
    supervisor.click("[data-ack-submit]")
    supervisor.wait_for_selector("#violations-results .alert.ok:has-text('Acknowledged 2 violations.')")

    for vid in chosen:  # the other browser, without a reload
        row = operator.locator(f"#violation-{vid}[data-state='acknowledged']")
        row.wait_for(timeout=5000)
        assert "sup" in row.inner_text() and "Tool wear" in row.inner_text()
        assert "insert changed" in row.inner_text()
    assert operator.locator(f"#violation-{kept_id}[data-state='open']").count() == 1
    operator.wait_for_function(f"() => document.querySelector('#violations-badge').textContent.trim().endsWith('{total - 2}')",
                               timeout=5000)
    supervisor.wait_for_function(f"() => document.querySelector('#violations-badge').textContent.trim().endsWith('{total - 2}')",
                                 timeout=5000)
    assert operator.locator("[data-awaiting]").inner_text() == str(total - 2)
    assert operator.evaluate("window.__notReloaded") is True
    shoot(operator, "violations-page-acknowledged-1024x768")

    # a new violation: a critical toast with the sample's inspector, a bar, a higher badge
    sample = post_sample(site, site["Bore diameter"], 17.0)
    toast = operator.locator("#toasts .toast.sev-critical").first
    toast.wait_for(timeout=5000)
    link = toast.locator("a")
    assert link.get_attribute("href") == f"/p/VIOL/c/{site['Bore diameter']}/samples/{sample}/"
    assert toast.locator(".toast-close").count() == 1
    operator.wait_for_selector("#violations-new:not([hidden])")
    raised = int(operator.inner_text("#violations-new [data-new-text]").split()[0])
    assert raised >= 1 and "new violation" in operator.inner_text("#violations-new")
    operator.wait_for_function(
        f"() => parseInt(document.querySelector('#violations-badge').textContent.trim()"
        f".split(/\\s+/).pop(), 10) > {total - 2}", timeout=5000)
    shoot(operator, "violations-page-new-violation-1024x768")
    operator.wait_for_timeout(9000)  # past the fade of a non-critical toast
    assert toast.is_visible(), "a critical toast stays until dismissed"
    toast.locator(".toast-close").click()
    toast.wait_for(state="detached", timeout=3000)
    operator.click("[data-show-new]")
    operator.wait_for_selector("#violations-new[hidden]", state="attached")
    assert operator.locator("tr[data-violation]").count() == total + raised
    assert operator.evaluate("window.__notReloaded") is True
    for page in (supervisor, operator):
        assert page.console_errors == []
        page.context.close()


def test_the_sound_for_critical_violations_is_a_choice_kept_by_the_browser(site, chromium):
    page = log_in(new_page(chromium, 1366, 900), site, "op")
    page.click(".user-menu summary")
    toggle = page.locator("[data-critical-sound]")
    assert not toggle.is_checked()  # off by default
    toggle.check()
    assert page.evaluate("localStorage.getItem('openspc-critical-sound')") == "on"
    later = page.context.new_page()  # another page of the same browser remembers it
    later.goto(f"{site['url']}/p/VIOL/violations/")
    later.click(".user-menu summary")
    assert later.locator("[data-critical-sound]").is_checked()
    later.uncheck("[data-critical-sound]")
    assert later.evaluate("localStorage.getItem('openspc-critical-sound')") == "off"
    assert page.console_errors == []
    page.context.close()
