"""The dashboard in Chromium: a card turns amber while the page is open, selecting a card shows
its live chart beside the list, and the layout holds at laptop and tablet sizes."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import ARTIFACTS, new_page
from plants.tests.factories import NodeFactory
from spc.models import Provider
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory
from spc.tests.test_chart_browser import logged_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_card_turns_amber_while_the_page_is_open(cast, live_server, chromium):
    line = NodeFactory(plant=cast.plant, name="Line 1")
    soon = CharacteristicFactory(node=line, name="Bore", provider=Provider.MANUAL,
                                 sampling_interval=timedelta(seconds=4))
    record_samples(soon, [SampleRequest(values=[10.0], timestamp=timezone.now())])
    later = CharacteristicFactory(node=line, name="Depth", provider=Provider.MANUAL,
                                  sampling_interval=timedelta(hours=1))
    record_samples(later, [SampleRequest(values=[5.0], timestamp=timezone.now())])
    CharacteristicFactory(node=line, name="Spindle load", provider=Provider.TAG)

    for theme, (width, height) in (("light", (1366, 900)), ("dark", (1024, 768))):
        page = logged_in(new_page(chromium, width, height, theme), live_server, cast.operator)
        page.goto(f"{live_server.url}/p/{cast.plant.code}/")
        card = page.locator(f"#todo-{soon.pk}")
        if card.get_attribute("data-state") == "idle":
            page.wait_for_function(
                f"document.getElementById('todo-{soon.pk}').dataset.state !== 'idle'",
                timeout=15_000)
        assert card.get_attribute("data-state") in ("due", "overdue")
        # the amber card moved above the grey one
        order = page.eval_on_selector_all(".todo-card", "els => els.map(e => e.dataset.name)")
        assert order.index("Bore") < order.index("Depth")
        assert page.locator(f"#tile-{soon.pk}").count() == 0
        assert page.locator(".status-tile").count() == 1

        page.click(f"#todo-{later.pk} [data-select]")
        page.wait_for_selector("#dashboard-chart h2:has-text('Depth')")
        page.wait_for_selector("#dashboard-chart #control-chart[data-ready]")
        page.screenshot(path=os.path.join(ARTIFACTS, f"dashboard-{theme}-{width}.png"),
                        full_page=True)
        assert page.console_errors == []
        page.context.close()
