"""The kiosk: a wall display of a node's live charts, opened by a logged-in user or by a
read-only kiosk link that an Admin issues and revokes in Django admin."""

import re

import pytest
from django.test import Client

from plants import kiosk
from plants.models import KioskLink
from plants.tests.factories import NodeFactory
from spc.models import ChartType, Violation
from spc.tests.test_chart_page import build, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def line(cast):
    node = NodeFactory(plant=cast.plant)
    calm = build(ChartType.IMR, plant=cast.plant, count=22, node=node, name="Calm")
    wild = build(ChartType.IMR, plant=cast.plant, count=22, node=node, name="Awry")
    Violation.objects.filter(characteristic=calm).update(acknowledged_at="2026-01-01T00:00Z")
    Violation.objects.filter(characteristic=calm).delete()
    return node, calm, wild


def test_a_kiosk_link_opens_the_node_without_a_login_until_it_is_revoked(cast, line):
    node, calm, wild = line
    link, token = kiosk.issue(node, "Line 1 wall", cast.admin)
    url = kiosk.path_for(link, token)
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    # out of control first, then the rest by name
    assert html.index('data-name="Awry"') < html.index('data-name="Calm"')
    assert f'data-kiosk="{token}"' in html and "sidebar" not in html  # no navigation chrome
    assert KioskLink.objects.get(pk=link.pk).last_seen_at is not None
    assert link.token_hash != token and token not in str(KioskLink.objects.values().get())

    other_node = NodeFactory(plant=cast.plant)
    assert anonymous.get(url.replace(f"/kiosk/{node.pk}/", f"/kiosk/{other_node.pk}/")).status_code == 404
    assert anonymous.get(url.replace(cast.plant.code, cast.other_plant.code)).status_code == 404
    assert anonymous.get(url + "x").status_code == 404
    kiosk.revoke(link)
    assert anonymous.get(url).status_code == 404


def test_without_a_link_the_kiosk_needs_a_login_and_the_plant(cast, line):
    node, calm, wild = line
    url = f"/p/{cast.plant.code}/kiosk/{node.pk}/"
    assert Client().get(url).status_code == 302
    assert client_for(cast.operator).get(url).status_code == 200
    assert client_for(cast.outsider).get(url).status_code == 404
    other = NodeFactory(plant=cast.other_plant)
    assert client_for(cast.operator).get(f"/p/{cast.plant.code}/kiosk/{other.pk}/").status_code == 404


def test_options_are_clamped(cast, line):
    node, *_ = line
    html = client_for(cast.operator).get(
        f"/p/{cast.plant.code}/kiosk/{node.pk}/?rotate=1&per_page=99&points=abc").content.decode()
    assert 'data-rotate="5"' in html and 'data-per-page="12"' in html
    assert 'data-max-points="60"' in html


def test_a_plant_admin_issues_and_revokes_links_in_django_admin(cast, line):
    node, *_ = line
    cast.admin.is_staff = True
    cast.admin.save()
    admin = client_for(cast.admin)
    response = admin.post("/admin/plants/kiosklink/add/", {"node": node.pk, "label": "Wall"},
                          follow=True)
    assert response.status_code == 200
    shown = re.search(r"(/p/[^\s'\"<]+/kiosk/\d+/\?key=[\w-]+)", response.content.decode())
    assert shown, "the link is shown once when it is issued"
    assert Client().get(shown.group(1)).status_code == 200
    link = KioskLink.objects.get()
    admin.post("/admin/plants/kiosklink/", {"action": "revoke_links",
                                             "_selected_action": [link.pk]})
    assert Client().get(shown.group(1)).status_code == 404

    # another plant's admin neither sees it nor issues links for this plant's nodes
    cast.outsider.is_staff = True
    cast.outsider.save()
    outsider = client_for(cast.outsider)
    assert "Wall" not in outsider.get("/admin/plants/kiosklink/").content.decode()
    outsider.post("/admin/plants/kiosklink/add/", {"node": node.pk, "label": "Sneaky"})
    assert not KioskLink.objects.filter(label="Sneaky").exists()
