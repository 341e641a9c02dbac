"""The normalized sample request every source builds, and its validation.

Validation is the first step of the pipeline: a request either becomes a CleanSample with its
statistics, or raises SampleInvalid with messages per field. Nothing is written for a batch in
which any row is invalid.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from spc.engine import MAX_N
from spc.models import Characteristic, ChartType, Source

# A given timestamp may run ahead of the server clock by this much (clock skew), no more.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_TEXT = {"batch": 64, "operator": 64, "comment": 2000}
# The largest magnitude of a measured value: far beyond any gauge, and small enough that every
# statistic of it (squares, sums over millions of points) stays a finite float.
MAX_MAGNITUDE = 1e100
# The largest count or sample size: the integer columns that store them (2³¹ − 1).
MAX_WHOLE = 2**31 - 1


@dataclass
class SampleRequest:
    """What a source hands the pipeline: values, or a count with its sample size, and context."""

    values: list | None = None
    count: object = None
    sample_size: object = None
    timestamp: datetime | None = None
    batch: str = ""
    operator: str = ""
    comment: str = ""
    source: str = Source.MANUAL
    key: str | None = None  # the sender's idempotency key (unique per characteristic)


@dataclass
class CleanSample:
    timestamp: datetime | None  # None: stamped under the writer's lock when stored
    n: int
    values: list[float] = field(default_factory=list)
    mean: float | None = None
    range: float | None = None
    sd: float | None = None
    count: int | None = None
    batch: str = ""
    operator: str = ""
    comment: str = ""
    source: str = Source.MANUAL
    key: str | None = None


class SampleInvalid(ValueError):
    """A request the characteristic cannot accept; `errors` maps field → list of messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def _shown(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}…{text[-10:]}"


def _number(value, what: str) -> float:
    too_large = SampleInvalid({"values": [f"{what} is too large: values up to "
                                          f"±{MAX_MAGNITUDE:g} are accepted."]})
    if isinstance(value, bool) or not isinstance(value, int | float):
        if not isinstance(value, str):
            raise SampleInvalid({"values": [f"{what} is not a number."]})
        try:
            # ASCII only: float() also reads other scripts' digits ('٣'), which no gauge sends.
            if not value.isascii():
                raise ValueError(value)
            number = float(value.strip())
        except ValueError:
            raise SampleInvalid({"values": [f"{what} is '{_shown(value)}', which is not a "
                                            "number."]}) from None
        if math.isinf(number) and "inf" not in value.lower():
            raise too_large  # '1e999', or 400 digits
    else:
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float (JSON allows 400 digits)
            raise too_large from None
    if not math.isfinite(number):
        raise SampleInvalid({"values": [f"{what} is {number}; only finite numbers are accepted."]})
    if abs(number) > MAX_MAGNITUDE:
        raise too_large
    return number


_WHOLE = re.compile(r"[+-]?[0-9]+")


def _whole(value, name: str, label: str) -> int:
    """`value` (an int, an integral float or ASCII digits) as an int from -MAX_WHOLE to
    MAX_WHOLE (a count or a sample size must fit its integer column)."""
    if isinstance(value, bool):
        raise SampleInvalid({name: [f"{label} must be a whole number."]})
    out_of_range = SampleInvalid({name: [f"{label} is out of range (at most {MAX_WHOLE:,})."]})
    if isinstance(value, str):
        value = value.strip()
        if not _WHOLE.fullmatch(value):
            raise SampleInvalid({name: [f"{label} must be a whole number, got '{_shown(value)}'."]})
        if len(value.lstrip("+-").lstrip("0")) > len(str(MAX_WHOLE)):
            raise out_of_range  # and int() refuses text of over 4,300 digits
        value = int(value)
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise SampleInvalid({name: [f"{label} must be a whole number, got {value}."]})
    if not isinstance(value, int | float):
        raise SampleInvalid({name: [f"{label} must be a whole number."]})
    if abs(value) > MAX_WHOLE:
        raise out_of_range
    return int(value)


def _expected_sizes(ch: Characteristic) -> str:
    if ch.chart_type in (ChartType.IMR, ChartType.EWMA, ChartType.CUSUM) and ch.subgroup_size == 1:
        return "exactly 1 value"
    if ch.variable_subgroup_size:
        return f"2 to {MAX_N} values"
    return f"exactly {ch.subgroup_size} values"


def _clean_values(ch: Characteristic, request: SampleRequest) -> dict:
    if request.count is not None or request.sample_size is not None:
        raise SampleInvalid({"count": [f"{ch.name} is a {ch.get_chart_type_display()} chart: "
                                       "send measured values, not a count."]})
    if not isinstance(request.values, list | tuple) or not request.values:
        raise SampleInvalid({"values": ["Send the measured values as a non-empty list."]})
    values = [_number(v, f"Value {i + 1}") for i, v in enumerate(request.values)]
    n = len(values)
    individual = ch.chart_type in (ChartType.IMR, ChartType.EWMA, ChartType.CUSUM) and ch.subgroup_size == 1
    fits = n == 1 if individual else (
        2 <= n <= MAX_N if ch.variable_subgroup_size else n == ch.subgroup_size
    )
    if not fits:
        raise SampleInvalid({"values": [f"{ch.name} needs {_expected_sizes(ch)} per sample; "
                                        f"got {n}."]})
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"n": n, "values": values, "mean": mean, "range": max(values) - min(values), "sd": sd}


def _clean_count(ch: Characteristic, request: SampleRequest) -> dict:
    if request.values is not None:
        raise SampleInvalid({"values": [f"{ch.name} is a {ch.get_chart_type_display()} chart: "
                                        "send a count and its sample size, not values."]})
    if request.count is None:
        raise SampleInvalid({"count": ["This field is required."]})
    count = _whole(request.count, "count", "The count")
    if count < 0:
        raise SampleInvalid({"count": [f"The count cannot be negative (got {count})."]})
    size = ch.subgroup_size if request.sample_size is None else request.sample_size
    size = _whole(size, "sample_size", "The sample size")
    if size <= 0:
        raise SampleInvalid({"sample_size": [f"The sample size must be at least 1 (got {size})."]})
    if ch.chart_type == ChartType.NP and size != ch.subgroup_size:
        raise SampleInvalid({"sample_size": [f"An np chart needs the same sample size every time: "
                                             f"{ch.subgroup_size}, got {size}. Use a p chart "
                                             "for varying sample sizes."]})
    if ch.chart_type in (ChartType.P, ChartType.NP) and count > size:
        raise SampleInvalid({"count": [f"{count} defectives cannot exceed the sample size {size}."]})
    return {"n": size, "count": count}


MAX_KEY = 100


def _clean_key(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY:
        raise SampleInvalid({"key": [f"The key must be text of 1 to {MAX_KEY} characters."]})
    return value


def _clean_timestamp(value, now: datetime) -> datetime | None:
    if value is None:
        return None  # stamped by the pipeline under the writer's lock
    if not isinstance(value, datetime):
        raise SampleInvalid({"timestamp": ["Give the timestamp as an ISO 8601 date and time."]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_TOLERANCE:
        raise SampleInvalid({"timestamp": [f"{value.isoformat()} is in the future; the server "
                                           f"time is {now.isoformat(timespec='seconds')}."]})
    return value


def clean(ch: Characteristic, request: SampleRequest, now: datetime | None = None) -> CleanSample:
    """Validate one request against its characteristic and compute its statistics."""
    now = now or timezone.now()
    stats = _clean_count(ch, request) if ch.is_attribute else _clean_values(ch, request)
    context = {}
    for name, limit in MAX_TEXT.items():
        text = getattr(request, name) or ""
        if not isinstance(text, str):
            raise SampleInvalid({name: ["Must be text."]})
        if len(text) > limit:
            raise SampleInvalid({name: [f"At most {limit} characters (got {len(text)})."]})
        context[name] = text
    return CleanSample(timestamp=_clean_timestamp(request.timestamp, now), source=request.source,
                       key=_clean_key(request.key), **stats, **context)
