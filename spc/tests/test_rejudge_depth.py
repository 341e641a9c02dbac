"""Re-judging a long stretch: read as columns, the carried state written only as far as it
changes, and every stored number and violation exactly what judging the stage afresh gives."""

import sqlite3
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from conftest import database_is_postgres
from spc import evaluation, judging, limit_versions, rejudge, sample_rows
from spc.judging import STATE_FIELDS
from spc.models import ChartType, Sample, Violation
from spc.pipeline import record_samples
from spc.sample_edits import correct, set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=5)
SECOND = timedelta(seconds=1)
SIZE = 1200


def _history(kind: str, size: int = SIZE):
    chart = {"ewma": ChartType.EWMA, "cusum": ChartType.CUSUM}.get(kind, ChartType.IMR)
    ch = CharacteristicFactory(chart_type=chart, ewma_lambda=0.2, ewma_l=2.8, cusum_k=0.5,
                               cusum_h=4.0, trial_min_subgroups=10)
    if kind != "trial":
        limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0,
                              effective_from=T0 - SECOND)
    rng = np.random.default_rng(sum(map(ord, kind)))
    values = np.round(rng.normal(10.0, 1.0, size) + np.where(np.arange(size) > 700, 0.8, 0.0), 3)
    record_samples(ch, [SampleRequest(values=[float(v)], timestamp=T0 + i * SECOND)
                        for i, v in enumerate(values)])
    return ch


def _samples(ch):
    return list(Sample.objects.filter(characteristic=ch).order_by("timestamp", "id"))


def _stored_state(ch) -> np.ndarray:
    rows = Sample.objects.filter(characteristic=ch).order_by("timestamp", "id") \
        .values_list(*STATE_FIELDS)
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)


def _live(ch) -> set:
    return {(v.sample_id, v.rule, v.chart, tuple(v.points))
            for v in Violation.objects.filter(characteristic=ch, superseded_at=None)}


def _judged_afresh(ch) -> set:
    """Judge the whole stage again writing every point's state (nothing assumed settled);
    the detections it makes."""
    with rejudge.writer_lock(ch) as (locked, newest):
        detections, _, _ = rejudge.rejudge(locked, newest.effective_from if newest else None)
    return {(d.sample_id, d.rule, d.chart, tuple(d.points)) for d in detections}


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a.view(np.int64) == b.view(np.int64))
                                              | (np.isnan(a) & np.isnan(b))))


@pytest.fixture
def written(monkeypatch):
    """The number of samples each state write stored."""
    counts = []
    write = sample_rows.write_state

    def counting(ids, state):
        counts.append(len(ids) if state else 0)
        return write(ids, state)

    monkeypatch.setattr(sample_rows, "write_state", counting)
    return counts


def _back_dated(ch):
    record_samples(ch, [SampleRequest(values=[13.5], timestamp=T0 + 2.5 * SECOND)])


def _back_dated_spread(ch):
    record_samples(ch, [SampleRequest(values=[13.5], timestamp=T0 + 2.5 * SECOND),
                        SampleRequest(values=[6.5], timestamp=T0 + 640.5 * SECOND)])


def _excluded(ch):
    set_excluded(_samples(ch)[3], True, "gauge dropped", None)


def _restored(ch):
    set_excluded(_samples(ch)[3], True, "gauge dropped", None)
    set_excluded(Sample.objects.get(pk=_samples(ch)[3].pk), False, "was fine", None)


def _corrected(ch):
    correct(_samples(ch)[3], SampleRequest(values=[14.0]), "typo", None)


# each edit, and about how far its last change lies from its first (where re-judging starts)
EDITS = {"back-dated": (_back_dated, 0), "back-dated, two apart": (_back_dated_spread, 639),
         "excluded": (_excluded, 0), "restored": (_restored, 0), "corrected": (_corrected, 0)}


@pytest.mark.parametrize("kind", ["ewma", "cusum", "trial"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_after_an_edit_early_in_a_long_stage_every_point_carries_what_judging_afresh_gives(
        kind, edit, written):
    ch = _history(kind)
    del written[:]
    change, at = EDITS[edit]
    change(ch)
    state, live, wrote = _stored_state(ch), _live(ch), max(written)
    assert live == _judged_afresh(ch)
    assert _same_bits(state, _stored_state(ch))  # judging afresh wrote the same numbers
    if kind != "trial":  # the EWMA and CUSUM settle soon after; the trial fit's sums never do
        assert at < wrote < at + 300


def test_excluding_one_of_two_samples_at_the_same_time_rejudges_the_one_after_it(written):
    ch = _history("ewma", size=300)
    first = _samples(ch)[5]
    twin = record_samples(ch, [SampleRequest(values=[30.0], timestamp=first.timestamp)])[0]
    assert twin.sample.pk > first.pk  # after `first` in (time, id) order
    set_excluded(first, True, "duplicate", None)
    state = _stored_state(ch)
    assert _live(ch) == _judged_afresh(ch)
    assert _same_bits(state, _stored_state(ch))


def test_a_long_ewma_stage_counts_its_points_only_until_its_limits_stop_widening():
    ch = _history("ewma", size=400)
    stored = [s.stage_index for s in _samples(ch)]
    cap = judging.index_cap(ch, ch.limit_versions.get())
    assert 20 < cap < 400
    assert stored == [min(i + 1, cap) for i in range(400)]
    # the limits at the cap and at any later position are the same, bit for bit
    state = {"stage_index": np.array([cap, cap + 1, 10 * cap, 399.0], dtype=float),
             "ewma": np.full(4, 10.1)}
    rows = evaluation.RowColumns({"id": np.arange(4), "n": np.ones(4), "mean": np.full(4, 10.1)})
    capped = dict(state, stage_index=np.full(4, float(cap)))
    version = ch.limit_versions.get()
    a, b = judging.verdicts(ch, version, rows, state), judging.verdicts(ch, version, rows, capped)
    for column in ("ucl", "lcl", "z"):
        assert np.array_equal(getattr(a, column), getattr(b, column))


@pytest.mark.parametrize(("chart_type", "n"), [(ChartType.XBAR_R, 3), (ChartType.P, 50),
                                               (ChartType.IMR, 1)])
def test_a_stage_read_as_columns_holds_what_the_orm_reads(chart_type, n):
    ch = CharacteristicFactory(chart_type=chart_type, subgroup_size=n,
                               variable_subgroup_size=chart_type == ChartType.P)
    if chart_type == ChartType.P:
        requests = [SampleRequest(count=i % 7, sample_size=50 + i % 3,
                                  timestamp=T0 + i * SECOND) for i in range(40)]
    else:
        requests = [SampleRequest(values=[10.0 + (i * j) % 5 / 10 for j in range(n)],
                                  timestamp=T0 + i * SECOND) for i in range(40)]
    record_samples(ch, requests)
    Sample.objects.filter(pk=_samples(ch)[7].pk).update(excluded=True)
    since = _samples(ch)[3].timestamp
    fields = judging.read_fields(ch)
    got = sample_rows.stage_rows_from(ch, since, T0 + 30 * SECOND, fields)
    want = list(Sample.objects.filter(characteristic=ch, excluded=False, timestamp__gte=since,
                                      timestamp__lt=T0 + 30 * SECOND)
                .order_by("timestamp", "id").values_list(*fields))
    assert got.id.tolist() == [r[0] for r in want] and got.id.dtype == np.int64
    for i, f in enumerate(fields[1:], start=1):
        assert np.array_equal(getattr(got, f), np.array([r[i] for r in want], dtype=float),
                              equal_nan=True)
    assert np.isnan(got.sd).all()  # a field not read reads as NaN
    empty = sample_rows.stage_rows_from(ch, T0 + 100 * SECOND, None, fields)
    assert len(empty) == 0 and empty.id.dtype == np.int64


def _configure(ch, **values):
    with rejudge.writer_lock(ch) as (locked, newest):
        before = {name: getattr(locked, name) for name in values}
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save()
        rejudge.configuration_changed(locked, before, newest)


@pytest.mark.parametrize("kind", ["ewma", "cusum", "trial"])
def test_new_rule_settings_rejudge_the_stage_without_rewriting_its_carried_state(kind, written):
    ch = _history(kind)
    del written[:]
    _configure(ch, rule_settings={"1": {"enabled": False}})
    assert max(written) == 0
    state, live = _stored_state(ch), _live(ch)
    assert not [rule for _, rule, _, _ in live if rule == 1]
    assert live == _judged_afresh(ch)
    assert _same_bits(state, _stored_state(ch))


@pytest.mark.parametrize(("kind", "setting"), [("ewma", {"ewma_lambda": 0.1}),
                                               ("cusum", {"cusum_k": 0.25}),
                                               ("trial", {"trial_min_subgroups": 25})])
def test_a_setting_the_carried_state_depends_on_rewrites_it_all(kind, setting, written):
    ch = _history(kind)
    del written[:]
    _configure(ch, **setting)
    state, live, wrote = _stored_state(ch), _live(ch), max(written)
    assert live == _judged_afresh(ch)
    assert _same_bits(state, _stored_state(ch))
    assert wrote == SIZE


@pytest.mark.skipif(database_is_postgres(), reason="SQLite's parameter limit")
def test_sqlite_writes_a_long_state_in_as_many_statements_as_its_parameter_limit_needs():
    ch = _history("trial", size=300)
    expected = _stored_state(ch)
    Sample.objects.filter(characteristic=ch).update(**dict.fromkeys(STATE_FIELDS))
    raw = connection.connection
    limit = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)  # 6 samples a statement
    try:
        _judged_afresh(ch)
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    assert _same_bits(expected, _stored_state(ch))
