"""The plain-SQL pieces of the sample path give what the ORM gives, on both databases."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from conftest import database_is_postgres
from openspc import plain_sql
from spc import limit_versions, sample_rows
from spc.models import Characteristic, ChartType, ControlLimits, Measurement, Sample
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=3)
ALL_FIELDS = [f.attname for f in Characteristic._meta.concrete_fields]


def _as_orm(model, pk):
    return {f.attname: getattr(model.objects.get(pk=pk), f.attname)
            for f in model._meta.concrete_fields}


def test_plain_sql_instances_equal_the_orm_s():
    ch = CharacteristicFactory(chart_type=ChartType.XBAR_R, subgroup_size=5, usl=11.0,
                               rule_settings={"2": {"enabled": False}, "5": {"severity": "INFO"}})
    version = limit_versions.manual(ch, None, "known", center=10.0, sigma=0.5,
                                    effective_from=T0)
    got = plain_sql.fetch(Characteristic, "WHERE id = %s", [ch.pk])[0]
    assert {f: getattr(got, f) for f in ALL_FIELDS} == _as_orm(Characteristic, ch.pk)
    assert got.rule_settings == {"2": {"enabled": False}, "5": {"severity": "INFO"}}
    limits = plain_sql.fetch(ControlLimits, "WHERE id = %s", [version.pk])[0]
    assert {f.attname: getattr(limits, f.attname) for f in ControlLimits._meta.concrete_fields} \
        == _as_orm(ControlLimits, version.pk)
    assert limits.effective_from == T0 and limits.effective_from.tzinfo is not None


def test_the_writer_lock_reads_the_newest_version_or_none():
    ch = CharacteristicFactory()
    with transaction.atomic():
        locked, newest = sample_rows.lock_for_writing(ch)
    assert locked.pk == ch.pk and newest is None
    limit_versions.manual(ch, None, "first", center=10.0, sigma=1.0, effective_from=T0)
    second = limit_versions.manual(ch, None, "second", center=10.5, sigma=1.0,
                                   effective_from=T0 + timedelta(hours=1))
    with transaction.atomic():
        locked, newest = sample_rows.lock_for_writing(ch)
    assert newest.pk == second.pk and newest.center == 10.5


@pytest.mark.parametrize("how_many", [1, 3])
def test_samples_and_their_values_are_stored_in_order(how_many):
    """One sample takes a single statement on PostgreSQL, a batch the multi-row path."""
    ch = CharacteristicFactory(chart_type=ChartType.XBAR_R, subgroup_size=5)
    sent = [[10.0 + i, 9.5, 10.25, 11.0, 9.75 - i] for i in range(how_many)]
    recorded = record_samples(ch, [SampleRequest(values=v, timestamp=T0 + timedelta(minutes=i))
                                   for i, v in enumerate(sent)])
    for r, values in zip(recorded, sent, strict=True):
        stored = Sample.objects.get(pk=r.sample.pk)
        assert stored.timestamp == r.sample.timestamp and stored.n == 5
        assert list(Measurement.objects.filter(sample=stored).order_by("position")
                    .values_list("position", "value")) == list(enumerate(values))


def test_an_attribute_sample_stores_no_values():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=1,
                               variable_subgroup_size=True)
    r = record_samples(ch, [SampleRequest(count=3, sample_size=120)])[0]
    stored = Sample.objects.get(pk=r.sample.pk)
    assert (stored.count, stored.n) == (3, 120)
    assert not Measurement.objects.filter(sample=stored).exists()


def test_the_rule_window_is_the_last_non_excluded_samples_in_time_order():
    ch = CharacteristicFactory()
    recorded = record_samples(ch, [SampleRequest(values=[float(i)],
                                                 timestamp=T0 + timedelta(minutes=i))
                                   for i in range(20)])
    Sample.objects.filter(pk=recorded[18].sample.pk).update(excluded=True)
    rows = sample_rows.window(ch, T0 + timedelta(minutes=2), None, 5)
    assert [r.mean for r in rows] == [14.0, 15.0, 16.0, 17.0, 19.0]
    assert all(r.timestamp.tzinfo is not None for r in rows)
    assert [r.timestamp for r in rows] == sorted(r.timestamp for r in rows)
    assert sample_rows.window(ch, T0, T0 + timedelta(minutes=3), 10)[-1].mean == 2.0


@pytest.mark.parametrize("how_many", [1, 2])
def test_a_characteristic_deleted_meanwhile_writes_nothing(how_many):
    """Its samples would be orphans: the writer's lock finds no row, the transaction rolls
    back (on PostgreSQL also for the one-round-trip write of a single sample)."""
    from django.db import connection

    ch = CharacteristicFactory()
    gone = Characteristic.objects.get(pk=ch.pk)
    Characteristic.objects.filter(pk=ch.pk).delete()
    with pytest.raises(Characteristic.DoesNotExist):
        record_samples(gone, [SampleRequest(values=[1.0])] * how_many)
    assert not Sample.objects.exists() and not Measurement.objects.exists()
    with connection.cursor() as cursor:  # the connection is usable again
        cursor.execute("SELECT 1")


@pytest.mark.skipif(not database_is_postgres(), reason="PostgreSQL's plan cache")
def test_postgresql_plans_the_statements_of_a_sample_once_per_connection():
    """Prepared statements are planned afresh on every run while PostgreSQL keeps choosing
    custom plans (it did for the rule window while its LIMIT was a parameter: ~0.6–1.1 ms of
    planning on every sample). After the first few runs each must use its generic plan."""
    from django.db import connection

    ch = CharacteristicFactory()
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0)
    # a history, and statistics that know it (the planner's choice depends on them)
    record_samples(ch, [SampleRequest(values=[10.0 + (i % 7) / 100],
                                      timestamp=T0 + timedelta(seconds=i)) for i in range(5000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE spc_sample")
    for i in range(12):
        record_samples(ch, [SampleRequest(values=[10.0 + i / 100])])
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE '%spc_sample%'")
        plans = cursor.fetchall()
    assert len(plans) >= 2  # the sample with its values, the rule window
    for statement, generic, custom in plans:
        assert generic > 0 and custom <= 5, statement
