"""PostgreSQL only: the pool's check (openspc.postgresql) and the round trips a sample POST takes.

A round trip costs ~0.3–0.5 ms on a busy two-core machine, more than the statements of a sample
take to run; these tests hold the count, which timing could not do reliably.
"""

import copy
import tempfile

import psycopg
import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from psycopg import pq
from psycopg_pool import ConnectionPool
from rest_framework.test import APIClient

from conftest import database_is_postgres
from openspc.postgresql import base as backend
from plants.tests.factories import PASSWORD
from spc import limit_versions
from spc.tests.factories import CharacteristicFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not database_is_postgres(), reason="runs in the PostgreSQL pass"),
]


@pytest.fixture
def checks(monkeypatch):
    """The connections psycopg_pool's own check is run on."""
    checked = []
    real = ConnectionPool.check_connection

    def spy(conn):
        checked.append(conn)
        real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(spy))
    return checked


@pytest.fixture
def raw():
    """A psycopg connection of its own to the test database."""
    with psycopg.connect(**connection.get_connection_params() | {"autocommit": True,
                                                                 "context": None}) as conn:
        yield conn


def test_the_test_database_connections_come_from_the_pool():
    assert connection.pool is not None
    assert connection.settings_dict["ENGINE"] == "openspc.postgresql"


def test_a_connection_given_back_moments_ago_is_handed_out_unchecked(raw, checks):
    setattr(raw, backend._RETURNED_AT, backend.monotonic())
    backend.check_unless_recent(raw)
    assert checks == []


def test_a_connection_idle_for_longer_is_checked(raw, checks):
    setattr(raw, backend._RETURNED_AT, backend.monotonic() - backend.RECENTLY - 0.1)
    backend.check_unless_recent(raw)
    assert checks == [raw]


def test_a_connection_never_given_back_or_inside_a_transaction_is_checked(raw, checks):
    backend.check_unless_recent(raw)  # straight from the pool's connect: no stamp
    setattr(raw, backend._RETURNED_AT, backend.monotonic())
    raw.autocommit = False
    raw.execute("SELECT 1")  # a transaction left open
    assert raw.info.transaction_status == pq.TransactionStatus.INTRANS
    with pytest.raises(psycopg.ProgrammingError):  # the pool drops a connection failing it
        backend.check_unless_recent(raw)
    raw.rollback()
    assert checks == [raw, raw]


@pytest.fixture
def own_pool():
    """A database connection of this backend with a pool of its own (4 connections, 3 s
    timeout), its connections named so that a test can cut them off."""
    settings = copy.deepcopy(connection.settings_dict)
    settings["OPTIONS"] = {**settings["OPTIONS"], "application_name": "pool-under-test",
                           "pool": {"min_size": 4, "max_size": 4, "timeout": 3}}
    wrapper = backend.DatabaseWrapper(settings, alias="pool_under_test")
    wrapper.pool.open(wait=True)
    try:
        yield wrapper
    finally:
        wrapper.close()
        wrapper.close_pool()


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_after_a_database_restart_the_next_request_gets_a_new_connection(own_pool, raw,
                                                                         monkeypatch):
    """Every pooled connection cut off by the server, as a restart does: the first one handed
    out fails its check, the pool replaces them all, and the request goes on within the pool's
    timeout (psycopg_pool alone tried them one by one, 1 s, 2 s, … apart, and gave up)."""
    before = _backend_pid(own_pool)
    own_pool.close()  # back to the pool
    monkeypatch.setattr(backend, "RECENTLY", 0.0)  # as if they had waited a while
    cut = raw.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE application_name = 'pool-under-test'").fetchone()[0]
    assert cut == 4
    after = _backend_pid(own_pool)
    assert after != before


class _RoundTrips:
    def __init__(self, trace):
        self.trace = trace

    def __call__(self) -> int:
        return sum("\tReadyForQuery\t" in line for line in self.lines().splitlines())

    def lines(self) -> str:
        self.trace.flush()
        self.trace.seek(0)
        return self.trace.read().decode()


@pytest.fixture
def round_trips():
    """Count the round trips of the request's connection: libpq's trace of the wire protocol,
    one ReadyForQuery per exchange (a statement, a pipeline sync, BEGIN, COMMIT)."""
    with tempfile.TemporaryFile() as trace:
        def start(sender, connection, **kwargs):
            pgconn = connection.connection.pgconn
            pgconn.trace(trace.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        connection_created.connect(start)
        try:
            yield _RoundTrips(trace)
        finally:
            connection_created.disconnect(start)
            if connection.connection is not None:
                connection.connection.pgconn.untrace()


def test_a_sample_posted_by_token_takes_three_round_trips(cast, round_trips):
    """The token's user, their plant roles and the characteristic in one; the row lock, the
    sample with its values and the rule window in one; COMMIT."""
    ch = CharacteristicFactory(node__plant=cast.plant)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": "operator", "password": PASSWORD})
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    url = f"/api/v1/characteristics/{ch.pk}/samples/"
    for v in [10.0, 10.2, 9.9, 10.1]:
        assert client.post(url, {"values": [v]}, format="json").status_code == 201
    connection.close()  # the next request takes a connection from the pool, traced
    assert client.post(url, {"values": [10.05]}, format="json").status_code == 201
    assert round_trips() == 3, round_trips.lines()
