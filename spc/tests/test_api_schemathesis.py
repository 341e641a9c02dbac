"""The whole REST API fuzzed from its own OpenAPI schema (/api/v1/schema/) by schemathesis.

Every operation gets generated requests, valid and invalid, as a plant Engineer by token, with
data to hit: characteristics of both kinds with samples (one excluded), a limit version,
violations and reason codes, and another plant's characteristic.
Checks: no server error, and every response conforms to the schema (status code, content type,
body). The application runs in-process, inside the test's transaction.

Generated ids are steered to the objects that exist, and writes to a characteristic get, half
the time, a body of the right shape with fuzzed numbers and times, so the pipeline's own paths
(recording, re-judging, limits) are fuzzed too, not only the shape checks.

100 examples per operation, derandomized: about 1½ minutes on SQLite and 2½ on PostgreSQL on
the 2-core test machine. `OPENSPC_FUZZ_EXAMPLES=400 OPENSPC_FUZZ_SEED=random` fuzzes harder.
"""

import os
import sys
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from django.core.signals import got_request_exception
from django.test.client import ClientHandler
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import limit_versions, sample_edits
from spc.models import ChartType, ReasonCode, Violation
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

EXAMPLES = int(os.environ.get("OPENSPC_FUZZ_EXAMPLES", "100"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


class DjangoApp:
    """Django as a WSGI application for the test: its test handler, which keeps the test's
    database connection (and so its transaction) across requests, and re-raises a view's
    exception instead of answering a bare 500, so a failure shows its traceback."""

    def __init__(self):
        self.handler = ClientHandler(enforce_csrf_checks=True)

    def __call__(self, environ, start_response):
        raised = []

        def store(**kwargs):
            raised.append(sys.exc_info())

        got_request_exception.connect(store, dispatch_uid="schemathesis-app")
        try:
            response = self.handler(environ)
        finally:
            got_request_exception.disconnect(dispatch_uid="schemathesis-app")
        if raised:
            raise raised[0][1].with_traceback(raised[0][2])
        headers = [*response.items(),
                   *(("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values())]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return response


schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", DjangoApp())

# The ids that exist in the current test (filled by the `world` fixture): generated ids are
# mostly steered to them, so requests reach real objects and not only 404s.
KNOWN: dict[str, list] = {}


def _known(name, generated):
    ids = KNOWN.get(name)
    if not ids:
        return st.just(generated)
    return st.one_of(st.sampled_from(ids), st.sampled_from(ids), st.just(generated))


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    path = context.operation.path
    if "{sid}" in path:
        pairs = KNOWN.get("samples") or []
        if not pairs:
            return st.just(path_parameters)
        known = st.sampled_from([{"id": c, "sid": s} for c, s in pairs])
        return st.one_of(known, known, st.just(path_parameters))
    if "{id}" in path:
        kind = "violation" if path.startswith("/api/v1/violations/") else "characteristic"
        return _known(kind, path_parameters.get("id")).map(
            lambda pk: {**path_parameters, "id": pk})
    return st.just(path_parameters)


_QUERY_IDS = {"plant": "plant", "node": "node", "characteristic": "characteristic"}


@schema.hook
def flatmap_query(context, query):
    if not isinstance(query, dict):
        return st.just(query)
    strategy = st.just(query)
    for name, kind in _QUERY_IDS.items():
        if name in query:
            strategy = strategy.flatmap(
                lambda q, name=name, kind=kind: _known(kind, q[name]).map(
                    lambda pk: {**q, name: pk}))
    return strategy


_BODY_IDS = {"plant": "plant", "node": "node", "parent": "node", "reason_code": "reason_code"}


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    strategy = st.just(body)
    for name, kind in _BODY_IDS.items():
        if name in body:
            strategy = strategy.flatmap(
                lambda b, name=name, kind=kind: _known(kind, b[name]).map(
                    lambda pk: {**b, name: pk}))
    if isinstance(body.get("ids"), list) and KNOWN.get("violation"):
        strategy = strategy.flatmap(lambda b: st.one_of(
            st.just({**b, "ids": KNOWN["violation"]}), st.just(b)))
    return strategy


# Plausible bodies, so that writes get past the shape checks into the pipeline with fuzzed
# numbers: for each characteristic id of the current test, what a sample of it holds.
SHAPES: dict[int, tuple[str, int]] = {}
_VALUE = st.one_of(st.floats(8, 12), st.integers(-10**6, 10**6),
                   st.floats(-1e100, 1e100, allow_nan=False, allow_infinity=False))
_PAST = st.one_of(st.none(), st.integers(60, 5 * 86_400).map(
    lambda s: (timezone.now() - timedelta(seconds=s)).isoformat()))


def _sample(shape):
    kind, n = shape
    if kind == "values":
        body = st.fixed_dictionaries({"values": st.lists(_VALUE, min_size=n, max_size=n)})
    elif kind == "p":
        body = st.fixed_dictionaries({"count": st.integers(0, 60), "sample_size": st.integers(1, 60)})
    else:
        body = st.fixed_dictionaries({"count": st.integers(0, 10**6)})
    return st.tuples(body, _PAST).map(
        lambda b: b[0] if b[1] is None else {**b[0], "timestamp": b[1]})


def _limits():
    positive = st.floats(1e-6, 1e6)
    return st.one_of(
        st.fixed_dictionaries({"center": _VALUE, "sigma": positive, "reason": st.just("fuzz")}),
        st.tuples(_VALUE, positive, positive).map(lambda c: {
            "center": c[0], "ucl": c[0] + c[1], "lcl": c[0] - c[2], "reason": "fuzz"}))


_PLAUSIBLE = {
    ("POST", "/api/v1/characteristics/{id}/samples/"): _sample,
    ("POST", "/api/v1/characteristics/{id}/samples/bulk/"): lambda shape: st.lists(
        _sample(shape), min_size=1, max_size=4).map(lambda rows: {"samples": rows}),
    ("PATCH", "/api/v1/characteristics/{id}/samples/{sid}/"): lambda shape: _sample(shape).map(
        lambda b: {**{k: v for k, v in b.items() if k != "timestamp"}, "reason": "fuzz"}),
    ("POST", "/api/v1/characteristics/{id}/limits/"): lambda shape: _limits(),
}


@schema.hook
def flatmap_case(context, case):
    plausible = _PLAUSIBLE.get((case.method.upper(), context.operation.path))
    shape = SHAPES.get(case.path_parameters.get("id"))
    if plausible is None or shape is None:
        return st.just(case)
    return st.one_of(st.just(case), plausible(shape).map(lambda body: _with_body(case, body)))


def _with_body(case, body):
    derived = case.derive()
    derived.body = body
    derived.media_type = "application/json"
    return derived


def _record(ch, user, requests):
    return record_samples(ch, [SampleRequest(**r) for r in requests], user)


@pytest.fixture
def world(cast):
    """A plant with a line, characteristics of each kind with samples and limits, a violation
    and reason codes; the engineer's token. Another plant's characteristic, for 404s."""
    t0 = timezone.now() - timedelta(days=2)
    line = NodeFactory(plant=cast.plant, name="Line 1", level=Level.LINE)
    imr = CharacteristicFactory(node=line, name="Bore", usl=12, lsl=8, target=10)
    xbar = CharacteristicFactory(node=line, name="Shaft", chart_type=ChartType.XBAR_R,
                                 subgroup_size=5, usl=12, lsl=8)
    p = CharacteristicFactory(node=line, name="Scrap", chart_type=ChartType.P, subgroup_size=50)
    c = CharacteristicFactory(node=line, name="Scratches", chart_type=ChartType.C,
                              subgroup_size=1)
    foreign = CharacteristicFactory(node=NodeFactory(plant=cast.other_plant, level=Level.LINE))
    at = [{"timestamp": t0 + timedelta(minutes=10 * i)} for i in range(25)]
    samples = []
    for ch, requests in [
        (imr, [{"values": [10 + (i % 5 - 2) * 0.3], **at[i]} for i in range(25)]),
        (xbar, [{"values": [10, 10.2, 9.8, 10.1, 9.9 + i % 3 * 0.1], **at[i]} for i in range(25)]),
        (p, [{"count": i % 4, "sample_size": 50, **at[i]} for i in range(25)]),
        (c, [{"count": i % 3, **at[i]} for i in range(25)]),
    ]:
        recorded = _record(ch, cast.engineer, requests)
        sample_edits.set_excluded(recorded[-2].sample, True, "Gauge dropped", cast.engineer)
        samples += [(ch.pk, r.sample.pk) for r in recorded[-4:]]
    limit_versions.recalculate(xbar, cast.engineer, "A capable run", first_n=20)
    _record(imr, cast.engineer, [{"values": [20.0], "timestamp": t0 + timedelta(hours=5)}])
    violations = list(Violation.objects.filter(plant=cast.plant).values_list("pk", flat=True))
    assert violations
    reasons = list(ReasonCode.objects.filter(plant=cast.plant).values_list("pk", flat=True))
    foreign_reason = ReasonCode.objects.filter(plant=cast.other_plant).values_list("pk", flat=True)
    KNOWN.update({
        "plant": [cast.plant.pk, cast.other_plant.pk],
        "node": [line.pk, foreign.node_id],
        "characteristic": [imr.pk, xbar.pk, p.pk, c.pk, foreign.pk],
        "samples": samples,
        "violation": violations,
        "reason_code": reasons[:2] + list(foreign_reason[:1]),
    })
    SHAPES.update({imr.pk: ("values", 1), xbar.pk: ("values", 5), p.pk: ("p", 50),
                   c.pk: ("c", 1)})
    yield Token.objects.create(user=cast.engineer)
    KNOWN.clear()
    SHAPES.clear()


@schema.parametrize()
@hypothesis.settings(max_examples=EXAMPLES, deadline=None,
                     derandomize=os.environ.get("OPENSPC_FUZZ_SEED") != "random",
                     suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_request_as_its_schema_says(case, world):
    # auth/token/revoke/ deletes the token: every request starts with it in place.
    token, _ = Token.objects.get_or_create(user_id=world.user_id, defaults={"key": world.key})
    case.call_and_validate(headers={"Authorization": f"Token {token.key}"}, checks=CHECKS)
