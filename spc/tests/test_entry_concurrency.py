"""A double tap at the same instant: several posts of one form (one idempotency key) arrive
together and record one sample; each answers the same sample (PostgreSQL: row locks serialize
the writers)."""

import threading

import pytest
from django.db import connections

from conftest import database_is_postgres
from spc.models import Sample
from spc.tests.test_entry import HTMX, characteristic, client_for, form_data, triggered, url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not database_is_postgres(),
                       reason="runs in the PostgreSQL pass; the SQLite pass has one writer"),
]


def test_posts_of_one_form_at_the_same_instant_record_once(cast):
    ch = characteristic(cast.plant)
    data = form_data(client_for(cast.operator), ch, values=["14"])
    start, answers, errors = threading.Barrier(6), [], []

    def tap():
        try:
            client = client_for(cast.operator)
            start.wait(10)
            response = client.post(url(ch), data, **HTMX)
            answers.append((response.status_code, triggered(response).get("sampleRecorded")))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tap) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    sample = Sample.objects.get(characteristic=ch)
    assert sample.key == data["key"]
    assert sorted(a[1]["created"] for a in answers) == [False] * 5 + [True]
    assert {(status, result["sample"]) for status, result in answers} == {(200, sample.pk)}
