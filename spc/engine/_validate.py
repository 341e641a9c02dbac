"""Input parsing and validation shared by the engine modules (internal).

Indices in error messages are 0-based positions in the caller's input.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from itertools import chain

import numpy as np

from .constants import MAX_N
from .errors import (
    EngineError,
    InsufficientDataError,
    InvalidCountError,
    NonFiniteValueError,
    ParameterError,
    SubgroupSizeError,
)


def describe_nonfinite(v: float) -> str:
    return "NaN" if math.isnan(v) else ("+infinity" if v > 0 else "-infinity")


def as_float_1d(values: object, what: str) -> np.ndarray:
    """Convert to a 1-D float array (no copy when already one)."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"{what}s must be a sequence of numbers ({exc})") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise EngineError(f"{what}s must be a one-dimensional sequence, got shape {arr.shape}")
    return arr


def kept_float_1d(
    values: object, excluded: object, what: str
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], int]:
    """(kept values, their input positions, excluded positions, input length).

    Excluded entries are dropped before anything else, so they may hold anything.
    """
    try:
        arr = as_float_1d(values, what)
        items = None
    except EngineError:
        if excluded is None or isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise
        items = list(values)
    k = arr.size if items is None else len(items)
    mask = as_mask(excluded, k)
    positions, excl = kept_positions(k, mask)
    if items is None:
        return (arr[~mask] if mask is not None else arr), positions, excl, k
    out = np.empty(positions.size)
    for j, i in enumerate(positions.tolist()):
        try:
            out[j] = float(items[i])
        except (TypeError, ValueError):
            raise EngineError(f"{what} {i} is not a number ({items[i]!r})", index=i) from None
    return out, positions, excl, k


def check_finite(arr: np.ndarray, what: str, positions: np.ndarray | None = None) -> None:
    """Raise NonFiniteValueError naming the first NaN/inf element of a 1-D array."""
    finite = np.isfinite(arr)
    if not finite.all():
        j = int(np.argmin(finite))
        idx = int(positions[j]) if positions is not None else j
        raise NonFiniteValueError(f"{what} {idx} is {describe_nonfinite(float(arr[j]))}", index=idx)


def as_mask(excluded: object, k: int) -> np.ndarray | None:
    """Validate an optional boolean exclusion mask of length k."""
    if excluded is None:
        return None
    mask = np.asarray(excluded)
    if mask.dtype != bool:
        if mask.size and (
            not np.issubdtype(mask.dtype, np.integer) or not np.isin(mask, (0, 1)).all()
        ):
            raise ParameterError(
                "excluded must be a boolean mask (one True/False per subgroup), "
                "not a list of indices"
            )
        mask = mask.astype(bool)
    if mask.ndim != 1 or mask.size != k:
        raise ParameterError(
            f"excluded mask has {mask.size} entries but there are {k} subgroups/values"
        )
    return mask


def kept_positions(k: int, mask: np.ndarray | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Positions kept and the tuple of excluded positions."""
    if mask is None:
        return np.arange(k), ()
    return np.flatnonzero(~mask), tuple(int(i) for i in np.flatnonzero(mask))


def require_count(k: int, minimum: int, what: str, n_excluded: int) -> None:
    if k < minimum:
        extra = f" after excluding {n_excluded}" if n_excluded else ""
        raise InsufficientDataError(f"need at least {minimum} {what}s, got {k}{extra}")


def is_nested(data: object) -> bool:
    """True when data looks like a sequence of subgroups rather than of single values."""
    if isinstance(data, np.ndarray):
        return data.ndim == 2 or (
            data.ndim == 1
            and data.dtype == object
            and data.size > 0
            and isinstance(data[0], Sequence | np.ndarray)
        )
    if isinstance(data, Sequence) and not isinstance(data, str | bytes) and len(data) > 0:
        first = data[0]
        return isinstance(first, Sequence | np.ndarray) and not isinstance(first, str | bytes)
    return False


class Subgroups:
    """Kept subgroups: one 2-D array when n is constant, else all values in one flat array
    with the subgroup sizes (ragged)."""

    __slots__ = ("k_total", "positions", "excluded", "sizes", "n", "matrix", "flat", "offsets")

    def __init__(self, data: object, excluded: object, what: str = "subgroup") -> None:
        matrix: np.ndarray | None = None
        raw: list[object] | None = None
        if isinstance(data, Sequence) and not isinstance(data, str | bytes) and len(data) == 0:
            matrix = np.empty((0, 2))
        elif isinstance(data, np.ndarray) and data.ndim == 2 and data.dtype != object:
            matrix = data.astype(float, copy=False)
        elif isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype != object:
            raise EngineError(
                f"{what}s must be a sequence of sequences (one per subgroup); "
                "for individual values use the I-MR chart"
            )
        else:
            try:
                matrix = np.array(data, dtype=float)
                if matrix.ndim != 2:
                    if matrix.ndim == 1:
                        raise EngineError(
                            f"{what}s must be a sequence of sequences (one per subgroup); "
                            "for individual values use the I-MR chart"
                        )
                    raise EngineError(f"{what}s must be 2-dimensional, got shape {matrix.shape}")
            except (TypeError, ValueError) as exc:
                if isinstance(exc, EngineError):
                    raise
                matrix = None
                raw = list(data)
        k_total = matrix.shape[0] if matrix is not None else len(raw)
        mask = as_mask(excluded, k_total)
        positions, excl = kept_positions(k_total, mask)
        self.k_total = k_total
        self.positions = positions
        self.excluded = excl
        self.flat: np.ndarray | None = None
        self.offsets: np.ndarray | None = None
        if matrix is not None:
            if mask is not None:
                matrix = matrix[~mask]
            self.sizes = np.full(matrix.shape[0], matrix.shape[1], dtype=np.intp)
        else:
            # only the kept subgroups are converted: excluded ones are never looked at
            kept = [raw[i] for i in positions.tolist()] if mask is not None else raw
            try:
                sizes = np.fromiter(map(len, kept), dtype=np.intp, count=len(kept))
                flat = np.fromiter(chain.from_iterable(kept), dtype=float, count=int(sizes.sum()))
            except (TypeError, ValueError):
                sizes, flat = _convert_one_by_one(kept, positions, what)
            self.sizes = sizes
            if sizes.size and (sizes == sizes[0]).all():
                matrix = flat.reshape(sizes.size, int(sizes[0]))  # equal sizes: the fast path
            else:
                self.flat = flat
                self.offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp)
        self.matrix = matrix
        self.n = (
            int(self.sizes[0]) if self.sizes.size and (self.sizes == self.sizes[0]).all() else None
        )

    @property
    def k(self) -> int:
        return int(self.sizes.size)

    def validate(self, what: str, chart: str, min_k: int = 2) -> None:
        require_count(self.k, min_k, what, len(self.excluded))
        bad = (self.sizes < 2) | (self.sizes > MAX_N)
        if bad.any():
            j = int(np.argmax(bad))
            idx = int(self.positions[j])
            raise SubgroupSizeError(
                f"{what} {idx} has {int(self.sizes[j])} value(s); {chart} needs subgroups "
                f"of 2..{MAX_N} values",
                index=idx,
            )
        if self.matrix is not None:
            finite_rows = np.isfinite(self.matrix).all(axis=1)
            if not finite_rows.all():
                j = int(np.argmin(finite_rows))
                row = self.matrix[j]
                v = float(row[np.argmin(np.isfinite(row))])
                idx = int(self.positions[j])
                raise NonFiniteValueError(
                    f"{what} {idx} contains {describe_nonfinite(v)}", index=idx
                )
        else:
            fin = np.isfinite(self.flat)
            if not fin.all():
                at = int(np.argmin(fin))
                j = int(np.searchsorted(self.offsets, at, side="right")) - 1
                idx = int(self.positions[j])
                v = float(self.flat[at])
                raise NonFiniteValueError(
                    f"{what} {idx} contains {describe_nonfinite(v)}", index=idx
                )

    def reduce(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-subgroup (mean, spread); spread is the range ("r") or sample sd ("s").

        Call after :meth:`validate` (sizes ≥ 2)."""
        if self.matrix is not None:
            return _reduce(self.matrix, kind)
        flat, off, sizes = self.flat, self.offsets, self.sizes
        means = np.add.reduceat(flat, off) / sizes
        if kind == "r":
            spread = np.maximum.reduceat(flat, off) - np.minimum.reduceat(flat, off)
        else:
            dev = flat - np.repeat(means, sizes)
            spread = np.sqrt(np.add.reduceat(dev * dev, off) / (sizes - 1))
        return means, spread


def _convert_one_by_one(
    kept: list[object], positions: np.ndarray, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Slow path that names the first subgroup that is not a flat sequence of numbers."""
    arrays = []
    for j, item in enumerate(kept):
        idx = int(positions[j])
        try:
            arr = np.asarray(item, dtype=float)
        except (TypeError, ValueError):
            raise EngineError(f"{what} {idx} contains a non-numeric value", index=idx) from None
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise EngineError(f"{what} {idx} must be a flat sequence of numbers", index=idx)
        arrays.append(arr)
    sizes = np.fromiter((a.size for a in arrays), dtype=np.intp, count=len(arrays))
    flat = np.concatenate(arrays) if arrays else np.empty(0)
    return sizes, flat


def _reduce(block: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    means = block.mean(axis=1)
    spread = np.ptp(block, axis=1) if kind == "r" else block.std(axis=1, ddof=1)
    return means, spread


def check_counts(
    counts: np.ndarray, positions: np.ndarray, what: str = "sample", integer: bool = True
) -> None:
    """Counts must be finite, non-negative (and whole numbers)."""
    check_finite(counts, f"the count of {what}", positions)
    neg = counts < 0
    if neg.any():
        j = int(np.argmax(neg))
        idx = int(positions[j])
        raise InvalidCountError(f"{what} {idx} has a negative count ({_fmt(counts[j])})", index=idx)
    if integer:
        frac = counts != np.floor(counts)
        if frac.any():
            j = int(np.argmax(frac))
            idx = int(positions[j])
            raise InvalidCountError(
                f"{what} {idx} has a count that is not a whole number ({_fmt(counts[j])})",
                index=idx,
            )


def attribute_inputs(
    counts: object,
    sizes: object,
    excluded: object,
    size_label: str,
    integer_sizes: bool,
    min_samples: int = 2,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, tuple[int, ...]]:
    """(kept counts, kept sizes or None, their input positions, excluded positions) of
    attribute data; ``sizes`` may be one number for every sample."""
    c, positions, excl, k = kept_float_1d(counts, excluded, "count")
    n = None
    if sizes is not None:
        if np.ndim(sizes) == 0:
            n = np.full(c.size, as_float_1d(sizes, size_label)[0])
        else:
            kn = len(sizes)
            if kn != k:
                raise ParameterError(f"{k} counts but {kn} {size_label}s")
            n, _, _, _ = kept_float_1d(sizes, excluded, size_label)
    require_count(c.size, min_samples, "sample", len(excl))
    check_counts(c, positions)
    if n is not None:
        check_sizes(n, positions, integer=integer_sizes, label=size_label)
    return c, n, positions, excl


def check_not_above(c: np.ndarray, n: np.ndarray, positions: np.ndarray) -> None:
    """Defectives cannot exceed their sample size."""
    over = c > n
    if over.any():
        j = int(np.argmax(over))
        idx = int(positions[j])
        raise InvalidCountError(
            f"sample {idx} has {int(c[j])} nonconforming items but a sample size of {int(n[j])}",
            index=idx,
        )


def check_sizes(
    sizes: np.ndarray,
    positions: np.ndarray,
    what: str = "sample",
    integer: bool = True,
    label: str = "sample size",
) -> None:
    """Sample sizes / inspection units must be finite and positive (and whole numbers)."""
    check_finite(sizes, f"the {label} of {what}", positions)
    bad = sizes <= 0
    if bad.any():
        j = int(np.argmax(bad))
        idx = int(positions[j])
        raise InvalidCountError(
            f"{what} {idx} has a {label} of {_fmt(sizes[j])}; it must be positive", index=idx
        )
    if integer:
        frac = sizes != np.floor(sizes)
        if frac.any():
            j = int(np.argmax(frac))
            idx = int(positions[j])
            raise InvalidCountError(
                f"{what} {idx} has a {label} that is not a whole number ({_fmt(sizes[j])})",
                index=idx,
            )


def positive_finite(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(f"{name} must be a positive finite number, got {x!r}")
    return v


def finite(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise NonFiniteValueError(f"{name} is {describe_nonfinite(v)}")
    return v


def _fmt(v: float) -> str:
    v = float(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)
