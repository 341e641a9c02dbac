"""Exceptions raised by the SPC engine.

Every error is a :class:`ValueError` (via :class:`EngineError`), so callers that only want
"the data cannot be charted" can catch one type, while the UI can switch on the subclass
and show :attr:`EngineError.index` (0-based position of the offending subgroup / sample /
value in the sequence the caller passed in) when it is known.

The engine never returns a number it cannot stand behind: data that a method cannot use
raises one of these with a message that says what is wrong and where.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "InsufficientDataError",
    "InvalidCountError",
    "NonFiniteValueError",
    "ParameterError",
    "SpecificationError",
    "SubgroupSizeError",
    "ZeroVariationError",
]


class EngineError(ValueError):
    """Base class of every error raised by :mod:`spc.engine`."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        #: 0-based index (in the caller's input) of the offending item, when there is one.
        self.index = index


class InsufficientDataError(EngineError):
    """Too few subgroups / values remain (after exclusions) for the method."""


class SubgroupSizeError(EngineError):
    """A subgroup size is outside the supported range (2..MAX_N), or varies where it may not."""


class ZeroVariationError(EngineError):
    """The data show no variation, so σ (and therefore every limit and z-score) is undefined."""


class InvalidCountError(EngineError):
    """A count or sample size is impossible (negative, fractional, defectives > sample size…)."""


class NonFiniteValueError(EngineError):
    """A value is NaN or ±infinity."""


class SpecificationError(EngineError):
    """Specification limits are inconsistent (e.g. USL ≤ LSL)."""


class ParameterError(EngineError):
    """A method parameter is invalid (unknown chart type or rule, λ outside (0, 1], …)."""
