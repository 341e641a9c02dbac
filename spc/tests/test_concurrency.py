"""Several writers on one characteristic at once (PostgreSQL: row locks serialize them)."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from conftest import database_is_postgres
from spc import limit_versions
from spc.models import Sample, Violation
from spc.pipeline import record_sample
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not database_is_postgres(),
                       reason="runs in the PostgreSQL pass; the SQLite pass has one writer"),
]


def test_concurrent_writers_each_see_the_previous_samples_in_their_window():
    ch = CharacteristicFactory()
    t0 = timezone.now() - timedelta(hours=1)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=t0)
    errors = []

    def writer(k):
        try:
            for _ in range(10):
                # every value lies above the center: any 9 in a row fire rule 2
                record_sample(ch, SampleRequest(values=[10.5 + 0.01 * k]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Sample.objects.filter(characteristic=ch).count() == 80
    # with the writers serialized, the 9th sample in time order and every later one fire rule 2
    ordered = list(Sample.objects.filter(characteristic=ch).order_by("timestamp", "id")
                   .values_list("pk", flat=True))
    fired = set(Violation.objects.filter(rule=2).values_list("sample_id", flat=True))
    assert fired == set(ordered[8:])
