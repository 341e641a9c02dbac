"""A supervisor reads why a point was flagged and acknowledges it, in headless Chromium."""

import json
import os

import pytest

from conftest import ARTIFACTS
from plants.tests.factories import PASSWORD
from spc.models import Violation
from spc.tests.test_inspector import TREND, _characteristic, _record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/p/**")


def _errors(page) -> list[str]:
    """Console errors, but the live channel's: the WSGI live server serves no WebSocket."""
    return [e for e in page.console_errors if "/ws/" not in e]


def _shot(page, name):
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top of the shot
    page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=True)


def test_a_supervisor_reads_why_and_acknowledges(cast, live_server, browser_page):
    ch = _characteristic(cast.plant, decimal_places=3, name="Bore diameter", unit="mm")
    samples = _record(ch, TREND)
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    _log_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/p/{cast.plant.code}/c/{ch.pk}/samples/{samples[-1].pk}/")

    why = page.locator(".inspector-why")
    why.get_by_text("Rule 3 — six points in a row increasing: samples 4–9").wait_for()
    root = page.locator("[data-inspector]")
    assert json.loads(root.get_attribute("data-highlight")) == [s.pk for s in samples[3:]]
    assert root.get_attribute("data-sample") == str(samples[-1].pk)
    page.evaluate("document.documentElement.dataset.theme = 'light'")
    _shot(page, "inspector-light-1366.png")
    page.click(".topbar [data-theme-toggle]")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.locator("summary", has_text="Correct the values").click()
    _shot(page, "inspector-dark-1366.png")

    # a refused correction keeps the dialog of boxes open with the pipeline's message
    page.fill("input[name=values]", "12,5")
    page.locator("#correct-reason").fill("typo")
    page.locator("form", has=page.locator("#correct-reason")).locator("button[type=submit]").click()
    page.get_by_text("Value 1 is '12,5', which is not a number.").wait_for()
    assert page.locator("input[name=values]").input_value() == "12,5"

    # acknowledge with a reason code: the violations say who and why, the chips stop asking
    page.select_option("#ack-reason_code", label="Tool wear")
    page.fill("#ack-comment", "insert changed")
    page.get_by_role("button", name="Acknowledge 3 violations").click()
    page.get_by_text("Acknowledged 3 violations.").wait_for()
    assert page.locator(".why", has_text="Acknowledged by supervisor").count() == 3
    assert not Violation.objects.filter(sample=samples[-1], acknowledged_at__isnull=True).exists()

    # a note on the point
    page.fill("#note-text", "Insert changed at 09:40")
    page.get_by_role("button", name="Add note").click()
    page.locator(".note-list li > p", has_text="Insert changed at 09:40").wait_for()

    page.set_viewport_size({"width": 1024, "height": 768})
    page.evaluate("document.documentElement.dataset.theme = 'light'")
    _shot(page, "inspector-acknowledged-1024.png")
    assert _errors(page) == []


def test_an_operator_sees_the_explanation_without_supervisor_actions(cast, live_server,
                                                                     browser_page):
    ch = _characteristic(cast.plant, decimal_places=3)
    samples = _record(ch, TREND)
    page = browser_page
    _log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/p/{cast.plant.code}/c/{ch.pk}/samples/{samples[-1].pk}/")
    page.get_by_text("Rule 3 — six points in a row increasing: samples 4–9").wait_for()
    assert page.locator("#ack-reason_code").count() == 0
    assert page.locator(".inspector-edit").count() == 0
    assert page.locator("#note-text").count() == 1
    assert _errors(page) == []
