"""Two web processes, one Redis channel layer: a sample recorded through the HTTP API of one
reaches, within 500 ms, a page whose WebSocket is open on the other.

Both are real uvicorn processes serving openspc.asgi, on the PostgreSQL test database of this
run (committed rows: transactional) and the Redis of OPENSPC_REDIS_URL, with this run's secret
key so that a session made here is theirs too.
"""

import contextlib
import json
import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from conftest import database_is_postgres
from openspc.tests.test_server import _request, server_env, serving
from plants.models import Level
from plants.roles import Role
from plants.tests.factories import NodeFactory, PlantFactory, user_with_role
from spc import limit_versions
from spc.tests.factories import CharacteristicFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
WITHIN_S = 0.5


def _database_url() -> str:
    db = connection.settings_dict
    return (f"postgresql://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}"
            f"/{db['NAME']}")


@contextlib.contextmanager
def two_web_processes(tmp_path):
    env = {"DATABASE_URL": _database_url(), "SECRET_KEY": settings.SECRET_KEY,
           "REDIS_URL": os.environ.get("OPENSPC_REDIS_URL", "redis://127.0.0.1:6379/12"),
           "DB_POOL_SIZE": "2", "WEB_THREADS": "2"}
    with serving(server_env(tmp_path / "a", **env)) as a, \
            serving(server_env(tmp_path / "b", **env)) as b:
        yield a, b


def test_a_sample_posted_to_one_web_process_reaches_a_page_on_the_other(tmp_path):
    if not database_is_postgres():
        pytest.skip("the web processes share the PostgreSQL test database")
    plant = PlantFactory(code="TWO")
    ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE))
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    viewer = user_with_role(plant, Role.OPERATOR, "viewer")
    machine = Token.objects.create(user=user_with_role(plant, Role.OPERATOR, "machine")).key
    browser = Client()
    browser.force_login(viewer)
    session = browser.cookies["sessionid"].value
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    with two_web_processes(tmp_path) as (a, b), connect(
            f"ws://127.0.0.1:{a}/ws/live/", origin=f"http://127.0.0.1:{a}", proxy=None,
            additional_headers={"Cookie": f"sessionid={session}"}, open_timeout=10) as page:
        page.send(json.dumps({"subscribe": {"plant": "TWO", "characteristics": [ch.pk]},
                              "since": None}))
        page.send(json.dumps({"ping": True}))
        assert json.loads(page.recv(timeout=10))["kind"] == "pong"  # subscribed

        def post(value):
            status, _, body = _request(
                b, "POST", f"/api/v1/characteristics/{ch.pk}/samples/",
                body=json.dumps({"values": [value]}),
                headers={"Authorization": f"Token {machine}",
                         "Content-Type": "application/json"})
            assert status == 201, body
            return json.loads(body)["id"]

        post(10.1)  # the first request of each process also opens its connections
        assert json.loads(page.recv(timeout=10))["kind"] == "points"
        for value in (10.2, 9.9, 30.0):  # the last raises a violation: points, then the toast
            started = time.monotonic()
            sample_id = post(value)
            message = json.loads(page.recv(timeout=5))
            elapsed = time.monotonic() - started
            assert message["kind"] == "points"
            assert message["data"]["sample_id"] == [sample_id]
            assert elapsed < WITHIN_S, f"{elapsed * 1000:.0f} ms"
        assert json.loads(page.recv(timeout=5))["kind"] == "violation"
