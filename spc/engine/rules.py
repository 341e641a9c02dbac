"""Nelson rules 1–8 on z-scores: one vectorised and one incremental implementation.

Every chart type is reduced to z-scores before the rules run::

    z = (statistic - center) / sigma_statistic

(see :func:`spc.engine.limits.z_scores`), so per-point limits (variable n) and all Shewhart
chart types share this single implementation. Zones are therefore fixed: "beyond kσ" means
``|z| > k`` (strict) and "within 1σ" means ``|z| < 1`` (strict).

The convention (the contract the tests hold us to)
--------------------------------------------------
A rule fires at the point that *completes* its pattern, and again at each later point that
*continues* it.

====  ===================================================================================
1     ``|z| > 3``. A point exactly on 3 is inside.
2     9 points in a row strictly on one side of the center line (``z > 0`` all, or
      ``z < 0`` all). A point exactly on the line (``z == 0``) breaks the run.
3     6 points in a row strictly increasing or strictly decreasing, i.e. 5 consecutive
      strict increases (decreases). A tie breaks the run.
4     14 points in a row alternating up and down, i.e. 13 consecutive differences that
      alternate in sign. A tie (zero difference) breaks the run.
5     2 of 3 beyond 2σ on the same side: fires at a point with ``z > 2`` (``z < -2``) when at
      least one of the 2 points before it also has ``z > 2`` (``z < -2``).
6     4 of 5 beyond 1σ on the same side: fires at a point with ``z > 1`` (``z < -1``) when at
      least 3 of the 4 points before it also have ``z > 1`` (``z < -1``).
7     15 points in a row within 1σ (``|z| < 1``).
8     8 points in a row with none within 1σ (``|z| > 1``, either side).
====  ===================================================================================

Rules 3 and 4 (trends, alternation) compare consecutive **z-scores**, not the plotted
statistic. z is what the engine receives and, with per-point limits (variable subgroup size),
it is the only choice that is consistent with the zones; with constant limits z is an
increasing affine function of the statistic, so the two readings agree.

Points of a firing (what the UI shows to explain a flag):

* rule 1: the point itself;
* rules 2, 3, 4, 7, 8: the whole run of the required length ending at the firing point
  (9, 6, 14, 15, 8 points);
* rule 5: the beyond-2σ same-side point(s) among the 2 before it, and the firing point;
* rule 6: the beyond-1σ same-side points among the 4 before it, and the firing point.

Window: deciding whether the newest point fires needs at most its last ``WINDOW = 15``
z-values (rule 7 looks at 15 points, rule 4 at 14, rule 2 at 9, rule 8 at 8, rule 3 at 6,
rule 6 at 5, rule 5 at 3). A run that "continues" a pattern fires at a later point because
the last k points still form the pattern, which again needs only those k points. So
:func:`evaluate_latest` on the last ``min(15, i + 1)`` values gives exactly the firings of
:func:`evaluate_rules` at index ``i`` — including ``points`` — and the property tests check it.

Notes for callers
-----------------
* Excluded samples are invisible: drop them before computing z and evaluating rules.
* Charts whose LCL is clipped at zero (R and S charts with small n, MR, p, np, c, u):
  z still uses the symmetric σ of the statistic, so rule 1 on the lower side cannot fire
  when the unclipped LCL is negative (a count or range cannot go below zero) — which is
  correct; the other zone rules still apply to those z-scores.
* Nelson rules 2–8 are meant for Shewhart charts. For EWMA and CUSUM charts only the
  "beyond limits" signal applies; :func:`spc.engine.limits.ewma_signals` and
  :func:`spc.engine.limits.cusum_signals` report it as firings with ``rule = 1``.
* NaN or ±inf z-scores raise :class:`~spc.engine.errors.NonFiniteValueError`.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import EngineError, NonFiniteValueError, ParameterError

__all__ = [
    "RULES",
    "ALL",
    "WINDOW",
    "RULE_DESCRIPTIONS",
    "RuleFiring",
    "RuleWindow",
    "evaluate_latest",
    "evaluate_rules",
    "evaluate_rules_arrays",
    "firing_points",
]

#: Rule numbers.
RULES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
#: All rules, as the default ``rules`` argument.
ALL: frozenset[int] = frozenset(RULES)
#: Number of most recent z-values that decides the newest point (rule 7 needs 15).
WINDOW = 15

RULE_DESCRIPTIONS: dict[int, str] = {
    1: "1 point more than 3σ from the center line",
    2: "9 points in a row on the same side of the center line",
    3: "6 points in a row steadily increasing or decreasing",
    4: "14 points in a row alternating up and down",
    5: "2 of 3 points more than 2σ from the center line, same side",
    6: "4 of 5 points more than 1σ from the center line, same side",
    7: "15 points in a row within 1σ of the center line",
    8: "8 points in a row more than 1σ from the center line, either side",
}

#: Length of the run for the run rules (points, including the firing point).
_RUN = {2: 9, 3: 6, 4: 14, 7: 15, 8: 8}


@dataclass(frozen=True, slots=True)
class RuleFiring:
    """Rule ``rule`` fired at series index ``index``; ``points`` make up the pattern."""

    rule: int
    index: int
    points: tuple[int, ...]

    @property
    def description(self) -> str:
        return RULE_DESCRIPTIONS[self.rule]


def _rule_set(rules: Iterable[int] | int | None) -> frozenset[int]:
    if rules is None or rules is RULES:
        return ALL
    if type(rules) is frozenset and rules <= ALL:
        return rules
    if isinstance(rules, numbers.Integral) and not isinstance(rules, bool):
        rules = (int(rules),)
    try:
        items = tuple(rules)
    except TypeError:
        raise ParameterError(
            f"rules must be an iterable of rule numbers 1..8, got {rules!r}"
        ) from None
    fs = frozenset(items)
    if fs <= ALL and all(type(r) is int for r in items):  # fast path: plain ints 1..8
        return fs
    for r in items:
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 1 <= int(r) <= 8:
            raise ParameterError(f"unknown rule {r!r}; rules are numbered 1..8")
    return frozenset(int(r) for r in items)


def _as_z(z: object) -> np.ndarray:
    try:
        arr = np.asarray(z, dtype=float)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"z-scores must be numbers ({exc})") from None
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise EngineError(f"z-scores must be one-dimensional, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        i = int(np.argmin(finite))
        v = float(arr[i])
        kind = "NaN" if math.isnan(v) else "infinite"
        raise NonFiniteValueError(f"z-score {i} is {kind}", index=i)
    return arr


# ---------------------------------------------------------------------------------------
# Vectorised evaluation
# ---------------------------------------------------------------------------------------


def _window_all(cond: np.ndarray, k: int) -> np.ndarray:
    """out[i] = cond[i-k+1 .. i] are all True (False for i < k-1)."""
    n = cond.size
    out = np.zeros(n, dtype=bool)
    if n < k:
        return out
    c = np.cumsum(cond, dtype=np.int32 if n < 2**31 else np.int64)
    s = c[k - 1 :].copy()
    s[1:] -= c[:-k]
    out[k - 1 :] = s == k
    return out


def _count_prev(cond: np.ndarray, m: int) -> np.ndarray:
    """out[i] = number of True among cond[i-m .. i-1] (fewer at the start of the series)."""
    n = cond.size
    c = np.zeros(n + 1, dtype=np.int32 if n < 2**31 else np.int64)
    np.cumsum(cond, out=c[1:])
    lo = np.arange(n) - m
    np.maximum(lo, 0, out=lo)
    return c[:-1] - c[lo]


def evaluate_rules_arrays(
    z: Sequence[float] | np.ndarray, rules: Iterable[int] | None = RULES
) -> dict[int, np.ndarray]:
    """Indices at which each enabled rule fires, as sorted int arrays (``{rule: indices}``).

    The low-level form of :func:`evaluate_rules`: no Python object per firing. Use
    :func:`firing_points` to get the pattern of one firing when needed.
    """
    rs = _rule_set(rules)
    zz = _as_z(z)
    n = zz.size
    out: dict[int, np.ndarray] = {}
    if n == 0:
        return {r: np.empty(0, dtype=np.intp) for r in sorted(rs)}
    az = np.abs(zz) if rs & {1, 7, 8} else None
    if 1 in rs:
        out[1] = np.flatnonzero(az > 3)
    if 2 in rs:
        out[2] = np.flatnonzero(_window_all(zz > 0, 9) | _window_all(zz < 0, 9))
    if rs & {3, 4}:
        up = np.zeros(n, dtype=bool)
        down = np.zeros(n, dtype=bool)
        np.greater(zz[1:], zz[:-1], out=up[1:])
        np.less(zz[1:], zz[:-1], out=down[1:])
        if 3 in rs:
            out[3] = np.flatnonzero(_window_all(up, 5) | _window_all(down, 5))
        if 4 in rs:
            alt = np.zeros(n, dtype=bool)
            if n > 2:
                alt[2:] = (up[2:] & down[1:-1]) | (down[2:] & up[1:-1])
            out[4] = np.flatnonzero(_window_all(alt, 12))
    if 5 in rs:
        hi = zz > 2
        lo = zz < -2
        prev_hi = np.zeros(n, dtype=bool)
        prev_lo = np.zeros(n, dtype=bool)
        prev_hi[1:] = hi[:-1]
        prev_hi[2:] |= hi[:-2]
        prev_lo[1:] = lo[:-1]
        prev_lo[2:] |= lo[:-2]
        out[5] = np.flatnonzero((hi & prev_hi) | (lo & prev_lo))
    if 6 in rs:
        hi = zz > 1
        lo = zz < -1
        out[6] = np.flatnonzero((hi & (_count_prev(hi, 4) >= 3)) | (lo & (_count_prev(lo, 4) >= 3)))
    if 7 in rs:
        out[7] = np.flatnonzero(_window_all(az < 1, 15))
    if 8 in rs:
        out[8] = np.flatnonzero(_window_all(az > 1, 8))
    return {r: out[r] for r in sorted(out)}


def firing_points(rule: int, index: int, z: Sequence[float] | np.ndarray) -> tuple[int, ...]:
    """The indices of the points that make up the pattern of ``rule`` firing at ``index``.

    ``z`` is the series the firing was found in (only ``z[index-4 .. index]`` is read).
    """
    i = int(index)
    if rule == 1:
        return (i,)
    run = _RUN.get(rule)
    if run is not None:
        return tuple(range(i - run + 1, i + 1))
    if rule in (5, 6):
        thr, back = (2.0, 2) if rule == 5 else (1.0, 4)
        if float(z[i]) > thr:
            prev = [j for j in range(max(0, i - back), i) if float(z[j]) > thr]
        else:
            prev = [j for j in range(max(0, i - back), i) if float(z[j]) < -thr]
        return (*prev, i)
    raise ParameterError(f"unknown rule {rule!r}; rules are numbered 1..8")


def evaluate_rules(
    z: Sequence[float] | np.ndarray, rules: Iterable[int] | None = RULES
) -> list[RuleFiring]:
    """Evaluate the enabled rules over a whole series of z-scores.

    Returns every firing, sorted by ``(index, rule)``. Identical (including ``points``) to
    calling :func:`evaluate_latest` at every index.
    """
    zz = _as_z(z)
    arrays = evaluate_rules_arrays(zz, rules)
    parts = [(r, idx) for r, idx in arrays.items() if idx.size]
    if not parts:
        return []
    idx_all = np.concatenate([idx for _, idx in parts])
    rule_all = np.concatenate([np.full(idx.size, r, dtype=np.intp) for r, idx in parts])
    order = np.lexsort((rule_all, idx_all))
    firings: list[RuleFiring] = []
    append = firings.append
    for r, i in zip(rule_all[order].tolist(), idx_all[order].tolist(), strict=True):
        if r == 1:
            append(RuleFiring(1, i, (i,)))
        elif r in _RUN:
            append(RuleFiring(r, i, tuple(range(i - _RUN[r] + 1, i + 1))))
        else:
            append(RuleFiring(r, i, firing_points(r, i, zz)))
    return firings


# ---------------------------------------------------------------------------------------
# Incremental evaluation (real-time path): pure Python on at most WINDOW floats
# ---------------------------------------------------------------------------------------


def _latest(w: list[float], rs: frozenset[int], offset: int) -> list[RuleFiring]:
    # Same comparisons as the vectorised code, newest point checked first so that the usual
    # case (no firing) exits early; min/max/abs run in C.
    m = len(w)
    if m == 0:
        return []
    i = m - 1
    gi = offset + i
    x = w[i]
    out: list[RuleFiring] = []
    if 1 in rs and (x > 3.0 or x < -3.0):
        out.append(RuleFiring(1, gi, (gi,)))
    if 2 in rs and m >= 9 and x != 0.0:
        seg = w[m - 9 :]
        if (min(seg) > 0.0) if x > 0.0 else (max(seg) < 0.0):
            out.append(RuleFiring(2, gi, tuple(range(gi - 8, gi + 1))))
    if 3 in rs and m >= 6:
        p = w[i - 1]
        if x > p:
            ok = all(w[j] > w[j - 1] for j in range(i - 1, m - 6, -1))
        elif x < p:
            ok = all(w[j] < w[j - 1] for j in range(i - 1, m - 6, -1))
        else:
            ok = False
        if ok:
            out.append(RuleFiring(3, gi, tuple(range(gi - 5, gi + 1))))
    if 4 in rs and m >= 14:
        ok = True
        for j in range(i, m - 13, -1):
            a, b, c = w[j - 2], w[j - 1], w[j]
            if not ((c > b and b < a) or (c < b and b > a)):
                ok = False
                break
        if ok:
            out.append(RuleFiring(4, gi, tuple(range(gi - 13, gi + 1))))
    if 5 in rs:
        if x > 2.0:
            prev = [offset + j for j in range(max(0, i - 2), i) if w[j] > 2.0]
        elif x < -2.0:
            prev = [offset + j for j in range(max(0, i - 2), i) if w[j] < -2.0]
        else:
            prev = []
        if prev:
            out.append(RuleFiring(5, gi, (*prev, gi)))
    if 6 in rs:
        if x > 1.0:
            prev = [offset + j for j in range(max(0, i - 4), i) if w[j] > 1.0]
        elif x < -1.0:
            prev = [offset + j for j in range(max(0, i - 4), i) if w[j] < -1.0]
        else:
            prev = []
        if len(prev) >= 3:
            out.append(RuleFiring(6, gi, (*prev, gi)))
    if 7 in rs and m >= 15 and -1.0 < x < 1.0:
        seg = w[m - 15 :]
        if max(seg) < 1.0 and min(seg) > -1.0:
            out.append(RuleFiring(7, gi, tuple(range(gi - 14, gi + 1))))
    if 8 in rs and m >= 8 and (x > 1.0 or x < -1.0) and min(map(abs, w[m - 8 :])) > 1.0:
        out.append(RuleFiring(8, gi, tuple(range(gi - 7, gi + 1))))
    return out


def _check_window(w: list[float], offset: int) -> None:
    for j, v in enumerate(w):
        if not math.isfinite(v):
            kind = "NaN" if math.isnan(v) else "infinite"
            raise NonFiniteValueError(f"z-score {offset + j} is {kind}", index=offset + j)


def evaluate_latest(
    window_z: Sequence[float] | np.ndarray | Iterable[float],
    rules: Iterable[int] | None = RULES,
    offset: int = 0,
) -> list[RuleFiring]:
    """Firings at the LAST point of ``window_z`` only (the real-time path).

    ``window_z`` holds the most recent z-values, oldest first, ending with the new point;
    pass at least ``min(WINDOW, i + 1)`` of them (more are ignored). ``offset`` is the series
    index of ``window_z[0]``, so the new point has index ``offset + len(window_z) - 1`` and
    all ``points`` are series indices. Sorted by rule.
    """
    w = [float(v) for v in window_z]
    if len(w) > WINDOW:
        offset += len(w) - WINDOW
        w = w[-WINDOW:]
    _check_window(w, offset)
    return _latest(w, _rule_set(rules), int(offset))


class RuleWindow:
    """Streaming rule evaluation: keeps the last WINDOW z-values.

    >>> win = RuleWindow(rules={1, 2})
    >>> win.push(0.3)
    []

    ``history`` preloads the most recent z-values before the next point (oldest first) and
    ``next_index`` is the series index the next pushed point will get (default:
    ``len(history)``), so a window can be restored after a restart from stored z-scores.
    """

    __slots__ = ("_buf", "_next", "rules")

    def __init__(
        self,
        rules: Iterable[int] | None = RULES,
        history: Iterable[float] = (),
        next_index: int | None = None,
    ) -> None:
        self.rules = _rule_set(rules)
        hist = [float(v) for v in history]
        if next_index is None:
            next_index = len(hist)
        if next_index < len(hist):
            raise ParameterError("next_index cannot be smaller than the length of history")
        _check_window(hist[-WINDOW:], next_index - min(len(hist), WINDOW))
        self._buf: deque[float] = deque(hist[-WINDOW:], maxlen=WINDOW)
        self._next = int(next_index)

    @property
    def next_index(self) -> int:
        """Series index the next pushed point will get."""
        return self._next

    @property
    def values(self) -> tuple[float, ...]:
        """The z-values currently held (oldest first)."""
        return tuple(self._buf)

    def push(self, z: float) -> list[RuleFiring]:
        """Add the next z-score and return the firings at it (sorted by rule)."""
        v = float(z)
        if not math.isfinite(v):
            kind = "NaN" if math.isnan(v) else "infinite"
            raise NonFiniteValueError(f"z-score {self._next} is {kind}", index=self._next)
        self._buf.append(v)
        w = list(self._buf)
        offset = self._next - len(w) + 1
        self._next += 1
        return _latest(w, self.rules, offset)
