"""The permission matrix over every API endpoint: own plant → allowed or 403, other plant → 404."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from plants.models import Level
from plants.roles import Action
from plants.tests.factories import NodeFactory
from plants.tests.permission_matrix import ROLES, allowed
from spc import limit_versions
from spc.pipeline import record_sample
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory


def _world(plant):
    node = NodeFactory(plant=plant, level=Level.LINE)
    ch = CharacteristicFactory(node=node)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    sample = record_sample(ch, SampleRequest(values=[10.0])).sample
    outlier = record_sample(ch, SampleRequest(values=[30.0]))
    code = plant.reason_codes.first()
    excluded = record_sample(ch, SampleRequest(values=[10.1])).sample
    set_excluded(excluded, True, "setup", None)
    return {"node": node, "ch": ch, "sample": sample, "violation": outlier.violations[0],
            "code": code, "excluded": excluded}


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("h.csv", b"timestamp,value\n2026-01-05T08:00:00Z,10.1\n", "text/csv")


C = "/api/v1/characteristics"
# (name, method, action, url(world), body(world), success status)
API = [
    ("list characteristics", "get", Action.VIEW, lambda w: f"{C}/?node={w['node'].pk}", None, 200),
    ("characteristic", "get", Action.VIEW, lambda w: f"{C}/{w['ch'].pk}/", None, 200),
    ("edit characteristic", "patch", Action.CONFIGURE, lambda w: f"{C}/{w['ch'].pk}/",
     lambda w: {"description": "new"}, 200),
    ("create characteristic", "post", Action.CONFIGURE, lambda w: f"{C}/",
     lambda w: {"node": w["node"].pk, "name": "New", "chart_type": "imr"}, 201),
    ("list samples", "get", Action.VIEW, lambda w: f"{C}/{w['ch'].pk}/samples/", None, 200),
    ("record sample", "post", Action.ENTER_DATA, lambda w: f"{C}/{w['ch'].pk}/samples/",
     lambda w: {"values": [10.1]}, 201),
    ("bulk samples", "post", Action.ENTER_DATA, lambda w: f"{C}/{w['ch'].pk}/samples/bulk/",
     lambda w: {"samples": [{"values": [10.1]}]}, 201),
    ("correct sample", "patch", Action.EDIT,
     lambda w: f"{C}/{w['ch'].pk}/samples/{w['sample'].pk}/",
     lambda w: {"values": [10.2], "reason": "typo"}, 200),
    ("exclude sample", "post", Action.EDIT,
     lambda w: f"{C}/{w['ch'].pk}/samples/{w['sample'].pk}/exclude/",
     lambda w: {"reason": "bad probe"}, 200),
    ("limits", "get", Action.VIEW, lambda w: f"{C}/{w['ch'].pk}/limits/", None, 200),
    ("manual limits", "post", Action.CONFIGURE, lambda w: f"{C}/{w['ch'].pk}/limits/",
     lambda w: {"center": 10, "sigma": 1, "reason": "spec"}, 201),
    ("recalculate", "post", Action.CONFIGURE, lambda w: f"{C}/{w['ch'].pk}/limits/recalculate/",
     lambda w: {"reason": "again"}, 201),
    ("chart data", "get", Action.VIEW, lambda w: f"{C}/{w['ch'].pk}/chart-data/?last=50", None, 200),
    ("capability", "get", Action.VIEW, lambda w: f"{C}/{w['ch'].pk}/capability/", None, 400),
    ("acknowledge", "post", Action.EDIT,
     lambda w: f"/api/v1/violations/{w['violation'].pk}/acknowledge/",
     lambda w: {"reason_code": w["code"].pk}, 200),
    ("acknowledge many", "post", Action.EDIT, lambda w: "/api/v1/violations/acknowledge/",
     lambda w: {"ids": [w["violation"].pk], "reason_code": w["code"].pk}, 200),
    ("add node", "post", Action.ADMINISTER, lambda w: "/api/v1/hierarchy/",
     lambda w: {"plant": w["node"].plant_id, "name": "Cell 9", "level": Level.UNIT,
                "parent": w["node"].pk}, 201),
    ("restore sample", "post", Action.EDIT,
     lambda w: f"{C}/{w['ch'].pk}/samples/{w['excluded'].pk}/restore/",
     lambda w: {"reason": "fine after all"}, 200),
    ("import samples", "post", Action.ENTER_DATA, lambda w: f"{C}/{w['ch'].pk}/samples/import/",
     lambda w: {"file": _csv()}, 201),
    ("violations", "get", Action.VIEW,
     lambda w: f"/api/v1/violations/?characteristic={w['ch'].pk}", None, 200),
    ("reason codes", "get", Action.VIEW,
     lambda w: f"/api/v1/reason-codes/?plant={w['node'].plant_id}", None, 200),
    ("add reason code", "post", Action.CONFIGURE, lambda w: "/api/v1/reason-codes/",
     lambda w: {"plant": w["node"].plant_id, "name": "Coolant"}, 201),
    ("hierarchy list", "get", Action.VIEW,
     lambda w: f"/api/v1/hierarchy/?plant={w['node'].plant_id}", None, 200),
    ("tree", "get", Action.VIEW, lambda w: f"/api/v1/hierarchy/tree/?plant={w['node'].plant_id}",
     None, 200),
]


def _as(user) -> APIClient:
    """A client authenticated as machines are, by token: the real authentication path (it reads
    the characteristic of the URL with the user, plants.access checks it after)."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _call(client, endpoint, world):
    name, method, _, url, body, _ = endpoint
    data = body(world) if body else None
    fmt = "multipart" if name == "import samples" else "json"
    return getattr(client, method)(url(world), data, format=fmt)


@pytest.mark.parametrize("endpoint", API, ids=[e[0] for e in API])
@pytest.mark.parametrize("role", ROLES)
def test_api_endpoint_at_own_plant_is_allowed_or_403(cast, endpoint, role):
    world = _world(cast.plant)
    response = _call(_as(cast.user(role)), endpoint, world)
    expected = endpoint[5] if allowed(role, endpoint[2]) else 403
    assert response.status_code == expected, response.content


# Lists filter silently and creation validates the plant in the body (400): see the test below.
FOREIGN_404 = [e for e in API if e[0] not in (
    "list characteristics", "add node", "create characteristic", "violations", "reason codes",
    "add reason code", "hierarchy list")]


@pytest.mark.parametrize("endpoint", FOREIGN_404, ids=[e[0] for e in FOREIGN_404])
def test_api_endpoint_at_another_plant_is_404_for_every_role(cast, endpoint):
    world = _world(cast.other_plant)
    for role in ROLES:
        assert _call(_as(cast.user(role)), endpoint, world).status_code == 404, role
        browser = APIClient()  # the session of a logged-in browser
        browser.force_login(cast.user(role))
        assert _call(browser, endpoint, world).status_code == 404, (role, "session")


def test_listing_and_creating_in_another_plant_reveals_and_writes_nothing(cast):
    world = _world(cast.other_plant)
    client = APIClient()
    client.force_authenticate(cast.admin)
    assert client.get(f"{C}/?node={world['node'].pk}").json()["results"] == []
    r = client.post(f"{C}/", {"node": world["node"].pk, "name": "sneaky", "chart_type": "imr"},
                    format="json")
    assert r.status_code == 400 and "node" in r.json()
    r = client.post("/api/v1/hierarchy/", {"plant": cast.other_plant.pk, "name": "x", "level": 3},
                    format="json")
    assert r.status_code == 400 and "plant" in r.json()


def test_lists_show_nothing_of_another_plant(cast):
    world = _world(cast.other_plant)
    client = APIClient()
    client.force_authenticate(cast.admin)
    plant = cast.other_plant.pk
    assert client.get(f"/api/v1/violations/?characteristic={world['ch'].pk}").json()["results"] == []
    assert client.get(f"/api/v1/reason-codes/?plant={plant}").json() == []
    assert client.get(f"/api/v1/hierarchy/?plant={plant}").json()["results"] == []
    assert client.get(f"/api/v1/hierarchy/tree/?plant={plant}").status_code == 404
    assert [p["code"] for p in client.get("/api/v1/plants/").json()["results"]] == ["HOME"]


def test_only_a_superuser_creates_plants(cast):
    client = APIClient()
    client.force_authenticate(cast.admin)
    assert client.post("/api/v1/plants/", {"name": "New", "code": "NEW"}).status_code == 403
    client.force_authenticate(cast.superuser)
    assert client.post("/api/v1/plants/", {"name": "New", "code": "NEW"}).status_code == 201


def test_anonymous_api_calls_are_401(cast):
    world = _world(cast.plant)
    for endpoint in API:
        assert _call(APIClient(), endpoint, world).status_code == 401
