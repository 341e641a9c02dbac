"""Judging a characteristic's samples again, and the writer's lock every change takes.

Appending samples (spc.pipeline), excluding, restoring or correcting one (spc.sample_edits),
new limits (spc.limit_versions) and configuration changes all change verdicts; each takes the
same per-characteristic writer's lock (`writer_lock`) so that no two of them judge at once, and
re-judges only the stage that changed, from where it changed (`reevaluate`).
"""

import threading
from contextlib import contextmanager, nullcontext

from django.db import connection, transaction

from spc import evaluation, events, sample_rows, violations
from spc.evaluation import stages
from spc.models import Characteristic
from spc.rule_settings import enabled_rules

WINDOW = 15  # the longest Nelson pattern (rule 7) spans 15 points


@contextmanager
def writer_lock(ch: Characteristic):
    """One transaction holding the characteristic's writer's lock; yields (the characteristic
    as it is now, its newest limit version or None). Raises Characteristic.DoesNotExist."""
    with one_sqlite_writer(), transaction.atomic():
        yield sample_rows.lock_for_writing(ch)


_sqlite_write = threading.Lock()


def one_sqlite_writer():
    """On SQLite, writers of this process queue on a lock instead of SQLite's busy handler,
    which sleeps in steps of up to 100 ms and woke waiting writers seconds late."""
    # Inside an outer transaction the write lock is already held (IMMEDIATE): waiting on the
    # Python lock there could deadlock with a writer that holds it and waits for SQLite.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return nullcontext()
    return _sqlite_write


def rejudge(ch: Characteristic, since, rules=None, drawn_for=()):
    """Judge again the stage in force at `since` (None: the trial stage's start) from `since`
    to the stage's end — set-based: its kept samples from there are read once, judged with the
    engine's array form, and their carried state written in bulk. Later stages start afresh
    and are not affected. Returns (detections, (since, stage end), {id: how it is drawn} of the
    ids `drawn_for`)."""
    rules = enabled_rules(ch) if rules is None else rules
    all_stages = stages(ch) if since is None else stages(ch, since=since)
    stage = all_stages[0]
    if since is None or (stage.start is not None and since < stage.start):
        since = stage.start
    window = [] if since is None else sample_rows.window(ch, stage.start, since, WINDOW)
    if evaluation.state_missing(ch, stage, window):
        window, since = [], stage.start
    rest = sample_rows.stage_rows_from(ch, since, stage.end)
    detections, state, drawn = evaluation.judge(ch, stage, window, rest, rules, drawn_for)
    sample_rows.write_state(rest.id.tolist(), state)
    return detections, (since, stage.end), drawn


def reevaluate(ch: Characteristic, since, reason: str) -> None:
    """Re-judge after an exclusion, restore, correction, configuration change or new limits
    (from `since`; None: the trial stage's start), and tell after commit what changed. The
    caller holds the writer's lock."""
    detections, span, _ = rejudge(ch, since)
    publish_rejudged(ch, span, violations.store(ch, detections, span, live_for=()),
                     reason)


def publish_rejudged(ch: Characteristic, span, stored, reason: str) -> None:
    events.publish(events.samples_rejudged, events.SamplesRejudged(
        plant_id=ch.plant_id, characteristic_id=ch.pk, since=span[0], until=span[1],
        raised=tuple(v.pk for v in stored.created), superseded=tuple(stored.superseded),
        reason=reason))




# Characteristic fields whose change changes verdicts: the current stage is judged again.
JUDGING_FIELDS = ("rule_settings", "ewma_lambda", "ewma_l", "cusum_k", "cusum_h", "target",
                  "trial_min_subgroups")


def configuration_changed(ch: Characteristic, before: dict, newest) -> None:
    """After a characteristic's settings changed (`before`: the old values of the fields that
    changed or may have): re-judge its current stage from the stage's start if a setting the
    verdicts depend on changed (old violations superseded, not deleted), and tell after commit.
    `newest` is the newest limit version (or None), as the writer's lock read it; the caller
    holds that lock."""
    changed = tuple(name for name, old in before.items() if getattr(ch, name) != old)
    if not changed:
        return
    if any(name in JUDGING_FIELDS for name in changed) and ch.samples.exists():
        reevaluate(ch, newest.effective_from if newest else None, "configuration")
    events.publish(events.characteristic_changed, events.CharacteristicChanged(
        plant_id=ch.plant_id, characteristic_id=ch.pk, changed=changed))
