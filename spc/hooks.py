"""How spc hands its results to the apps that depend on it, without importing them.

`alerts` registers the violation store (called inside the pipeline's transaction) and a
listener for recorded samples (called after commit) in AlertsConfig.ready().
"""

from collections.abc import Callable
from typing import NamedTuple


class Stored(NamedTuple):
    """What the violation store did: the live violations of the detections, the violations it
    created and the ids of those it superseded."""

    live: list
    created: list
    superseded: list[int]

_violation_store: Callable | None = None
_after_commit: list[Callable] = []


def register_violation_store(store: Callable) -> None:
    """store(characteristic, detections, span) -> Stored; span is (since, until) of the
    samples judged again, or None when only new samples were judged."""
    global _violation_store
    _violation_store = store


def store_violations(characteristic, detections, span=None, live_for=None):
    """`live_for`: the sample ids whose live violations the caller wants back (None: all)."""
    if _violation_store is None:
        raise RuntimeError("No violation store is registered (is the alerts app installed?)")
    return _violation_store(characteristic, detections, span, live_for)


def on_samples_recorded(listener: Callable) -> Callable:
    """listener(characteristic, recorded_samples) runs after the recording transaction commits."""
    if listener not in _after_commit:
        _after_commit.append(listener)
    return listener


def samples_recorded(characteristic, recorded) -> None:
    for listener in list(_after_commit):
        listener(characteristic, recorded)
