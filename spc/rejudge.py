"""Judging a characteristic's samples again, and the writer's lock every change takes.

Appending samples (spc.pipeline), excluding, restoring or correcting one (spc.sample_edits),
new limits (spc.limit_versions) and configuration changes all change verdicts; each takes the
same per-characteristic writer's lock (`writer_lock`) so that no two of them judge at once, and
re-judges only the stage that changed, from where it changed (`reevaluate`).
"""

import threading
from contextlib import contextmanager, nullcontext

import numpy as np
from django.db import connection, transaction

from spc import evaluation, events, judging, sample_rows, violations
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


def rejudge(ch: Characteristic, since, rules=None, drawn_for=(), changed=None):
    """Judge again the stage in force at `since` (None: the trial stage's start) from `since`
    to the stage's end — set-based: its kept samples from there are read once, judged with the
    engine's array form, and their carried state written in bulk. Later stages start afresh
    and are not affected. Returns (detections, (since, stage end), {id: how it is drawn} of the
    ids `drawn_for`).

    `changed` names the samples whose values or predecessor changed when nothing else did —
    new, restored or corrected ones, the one after an excluded sample. The carried state is
    then written only up to the first point after them that carries already what it would
    carry now (`settled`). None — new limits, a changed setting, or not known — writes it for
    every point judged."""
    rules = enabled_rules(ch) if rules is None else rules
    all_stages = stages(ch) if since is None else stages(ch, since=since)
    stage = all_stages[0]
    if since is None or (stage.start is not None and since < stage.start):
        since = stage.start
    window = [] if since is None else sample_rows.window(ch, stage.start, since, WINDOW)
    if evaluation.state_missing(ch, stage, window):
        window, since, changed = [], stage.start, None
    rest = sample_rows.stage_rows_from(ch, since, stage.end, judging.read_fields(ch))
    detections, state, drawn = evaluation.judge(ch, stage, window, rest, rules, drawn_for)
    # After an edit the trial fit's running sums never settle: every later sum includes it.
    upto = len(rest) if stage.version is None and changed else settled(rest.id, state, changed)
    sample_rows.write_state(rest.id[:upto], {k: v[:upto] for k, v in state.items()})
    return detections, (since, stage.end), drawn


PROBE_FIRST, PROBE_MOST = 512, 65_536


def settled(ids, state: dict, changed) -> int:
    """How many of the points `ids` (judged in order from the first, with the new `state`) may
    carry other state than they store. A point after the last changed one and its successor
    (whose moving range and predecessor changed with it) that stores exactly the new state
    settles it: every point after it has the same inputs and the same predecessor's state as
    when its state was stored, so it carries the same again. Looked for in growing blocks over
    at most PROBE_MOST points; all points when none settles there (or `changed` is None)."""
    m = len(ids)
    if not state or changed is None:
        return m
    hit = np.flatnonzero(np.isin(ids, list(changed)))
    a = int(hit[-1]) + 1 if hit.size else 0
    size, end = PROBE_FIRST, min(m, a + PROBE_MOST)
    while a < end:
        b = min(end, a + size)
        stored = sample_rows.stored_state(ids[a:b], list(state))
        same = np.ones(b - a, dtype=bool)
        for name, new in state.items():
            same &= _identical(new[a:b], stored[name])
        if same.any():
            return a + int(np.argmax(same))
        a, size = b, size * 2
    return m


def _identical(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit for bit equal, or both NaN (nothing carried: NULL or NaN as stored)."""
    return (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))


def reevaluate(ch: Characteristic, since, reason: str, changed=None) -> None:
    """Re-judge after an exclusion, restore, correction, configuration change or new limits
    (from `since`; None: the trial stage's start; `changed` as for `rejudge`), and tell after
    commit what changed. The caller holds the writer's lock."""
    detections, span, _ = rejudge(ch, since, changed=changed)
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
# Of those, the ones that change no carried state (only which rules run and the limits' width).
STATELESS_FIELDS = ("rule_settings", "ewma_l", "cusum_h")


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
        same_state = all(name in STATELESS_FIELDS or name not in JUDGING_FIELDS
                         for name in changed)
        reevaluate(ch, newest.effective_from if newest else None, "configuration",
                   changed=() if same_state else None)
    events.publish(events.characteristic_changed, events.CharacteristicChanged(
        plant_id=ch.plant_id, characteristic_id=ch.pk, changed=changed))
