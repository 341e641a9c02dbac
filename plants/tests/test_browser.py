"""A person using the shell in headless Chromium: log in, switch plant, open the tree, theme."""

import os

import pytest

from conftest import ARTIFACTS
from plants import hierarchy
from plants.grants import grant_role
from plants.models import Level
from plants.roles import Role
from plants.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_switch_plant_expand_tree_and_toggle_theme(cast, live_server, browser_page):
    site = hierarchy.create_node(cast.plant, "Hamburg Works", Level.SITE)
    area = hierarchy.create_node(cast.plant, "Machining", Level.AREA, site)
    hierarchy.create_node(cast.plant, "Line 1 — Pistons", Level.LINE, area)
    hierarchy.create_node(cast.other_plant, "East Site", Level.SITE)
    grant_role(cast.engineer, cast.other_plant, Role.OPERATOR)
    page = browser_page

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "engineer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/p/{cast.plant.code}/")
    assert "Engineer" in page.inner_text("main")

    # the tree loads children lazily: open Site, then Area
    sidebar = page.locator("#sidebar")
    sidebar.get_by_text("Hamburg Works").click()
    sidebar.get_by_text("Machining").wait_for()
    sidebar.get_by_text("Machining").click()
    sidebar.get_by_text("Line 1 — Pistons").wait_for()

    # theme: toggling flips it and the choice survives a reload
    before = page.evaluate("document.documentElement.dataset.theme")
    page.click(".topbar [data-theme-toggle]")
    after = page.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"light", "dark"}
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == after
    page.screenshot(path=os.path.join(ARTIFACTS, "shell-plant-home.png"), full_page=True)

    # switch to the other plant with the top-bar switcher
    page.select_option("[data-plant-switcher]", f"/p/{cast.other_plant.code}/")
    page.wait_for_url(f"**/p/{cast.other_plant.code}/")
    assert "East Site" in page.inner_text("#sidebar")
    assert "Operator" in page.inner_text("main")

    assert page.console_errors == []


def test_an_admin_adds_a_node_through_the_dialog(cast, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/p/{cast.plant.code}/hierarchy/")
    page.click("text=Add node")
    page.fill("#node-dialog input[name=name]", "Machining")
    page.select_option("#node-dialog select[name=level]", str(Level.AREA))
    page.click("#node-dialog button[type=submit]")
    page.locator(".hierarchy-table").get_by_text("Machining").wait_for()
    assert page.locator(".toast.success").inner_text() == "Added 'Machining'."
    assert not page.locator("#node-dialog").evaluate("d => d.open")

    # a refused child (wrong level) keeps the dialog open with the error and the typed input
    page.click("text=Add node")
    page.fill("#node-dialog input[name=name]", "Bad child")
    page.select_option("#node-dialog select[name=level]", str(Level.SITE))
    page.select_option("#node-dialog select[name=parent]", label="Machining")
    page.click("#node-dialog button[type=submit]")
    page.locator("#node-dialog .error").wait_for()
    assert "lower level" in page.inner_text("#node-dialog")
    assert page.input_value("#node-dialog input[name=name]") == "Bad child"
    page.screenshot(path=os.path.join(ARTIFACTS, "hierarchy-dialog-error.png"))
    assert page.console_errors == []
