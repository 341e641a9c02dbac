"""Why a point was flagged, in words: one plain sentence per violation.

    Rule 3 — six points in a row increasing: samples 41–46
    Rule 1 — one point beyond the upper control limit (3σ): sample 57 at 74.061 > UCL 74.043

Samples are named by their ordinal number within the characteristic (1 = its first sample by
time, excluded ones included, as the chart counts them). The numbers and the sentence come from
the chart data of the span the patterns cover (`spc.chart_data`, the same numbers the chart
draws), so reading them costs the same at any history: the span's earliest time (1 query, none
for a lone point), one COUNT of the samples before it, and the chart data of the span — a
pattern spans at most 15 kept points (`spc.judging.PATTERN_MAX`) and the excluded ones among
them.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Max, Min, Q

from spc.chart_data import chart_data
from spc.judging import PATTERN_MAX
from spc.models import ChartType, Sample, Violation

_COUNTS = {2: "nine", 3: "six", 4: "fourteen", 7: "fifteen", 8: "eight"}
_SECONDARY_NAMES = {"r": "range chart", "s": "standard deviation chart",
                    "mr": "moving range chart"}
_STATISTIC_NAMES = {"xbar": "X̄", "i": "X", "p": "p", "np": "np", "c": "c", "u": "u",
                    "ewma": "EWMA", "cusum": "x̄", "r": "R", "s": "S", "mr": "MR"}


@dataclass(frozen=True)
class Point:
    """A sample as one chart draws it: the plotted value with the limits and z in force there
    (None where there is none); for CUSUM also C⁺ and C⁻ (`upper`, `lower`), its limit being H."""

    statistic: str  # "xbar", "i", "p", …, "r", "s", "mr"
    value: float | None
    center: float | None
    ucl: float | None
    lcl: float | None
    z: float | None
    limits_version: int | None  # None: trial limits
    upper: float | None = None
    lower: float | None = None

    @property
    def label(self) -> str:
        return _STATISTIC_NAMES.get(self.statistic, self.statistic)

    @property
    def zone(self) -> str | None:
        """C (within 1σ), B (1–2σ), A (2–3σ) or "beyond" (3σ and more), from |z| — a Shewhart
        zone; None without a z."""
        if self.z is None:
            return None
        size = abs(self.z)
        return "C" if size <= 1 else "B" if size <= 2 else "A" if size <= 3 else "beyond"

    @property
    def side(self) -> str | None:
        if not self.z:
            return None
        return "above" if self.z > 0 else "below"


class Span:
    """The chart data of a run of consecutive samples, with each one's ordinal number."""

    def __init__(self, data: dict, first_ordinal: int):
        self.data = data
        self.first_ordinal = first_ordinal
        self._at = {pk: i for i, pk in enumerate(data["sample_id"].tolist())}

    def __contains__(self, sample_id: int) -> bool:
        return sample_id in self._at

    def ordinal(self, sample_id: int) -> int | None:
        at = self._at.get(sample_id)
        return None if at is None else self.first_ordinal + at

    def point(self, sample_id: int, chart: str = "primary") -> Point | None:
        at, columns = self._at.get(sample_id), self.data.get(chart)
        if at is None or columns is None:
            return None
        return Point(columns["statistic"], *(_float(columns[k][at])
                                             for k in ("value", "center", "ucl", "lcl", "z")),
                     self.data["limits_version"][at],
                     *(_float(columns[k][at]) if k in columns else None
                       for k in ("upper", "lower")))


def _float(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def read_span(ch, sample_ids: Iterable[int]) -> Span:
    """The chart data of the characteristic's samples from the earliest to the latest of
    `sample_ids` (and every sample between them), with ordinal numbers."""
    ids = set(sample_ids)
    times = Sample.objects.filter(characteristic=ch, pk__in=ids).aggregate(
        first=Min("timestamp"), last=Max("timestamp"))
    return _span_between(ch, times["first"], times["last"])


def read_span_of(ch, sample: Sample, violations: Sequence[Violation] = ()) -> Span:
    """The span of `sample` and of the violations' patterns (its own end at it; those of
    `later_patterns` after it). No query for the times when there is no pattern."""
    ids = {p for v in violations for p in v.points} - {sample.pk}
    if not ids:
        return _span_between(ch, sample.timestamp, sample.timestamp)
    return read_span(ch, ids | {sample.pk})


def later_patterns(ch, sample: Sample) -> list[Violation]:
    """Live violations at later samples whose pattern holds `sample` (a trend that ends after
    it, say), in two queries: a pattern spans at most PATTERN_MAX kept samples, so only the
    violations at the next PATTERN_MAX - 1 kept samples can."""
    if sample.excluded:
        return []
    after = Q(timestamp__gt=sample.timestamp) | Q(timestamp=sample.timestamp, pk__gt=sample.pk)
    ids = list(Sample.objects.filter(after, characteristic=ch, excluded=False)
               .order_by("timestamp", "id").values_list("id", flat=True)[:PATTERN_MAX - 1])
    if not ids:
        return []
    found = (Violation.objects.filter(sample_id__in=ids, superseded_at__isnull=True)
             .select_related("acknowledged_by", "reason_code").order_by("sample_id", "chart", "rule"))
    return [v for v in found if sample.pk in v.points]


def _span_between(ch, first, last) -> Span:
    if first is None:
        return Span(chart_data(ch, last=0), 1)
    before = Sample.objects.filter(characteristic=ch, timestamp__lt=first).count()
    return Span(chart_data(ch, start=first, end=last), before + 1)


@dataclass(frozen=True)
class Explanation:
    violation: Violation
    sentence: str
    sample_ids: tuple[int, ...]  # the pattern, in time order
    ordinals: tuple[int, ...]


def explain(ch, violations: Sequence[Violation], span: Span | None = None) -> list[Explanation]:
    """One Explanation per violation, in their order. Reads the span their patterns cover
    unless given one (`read_span_of`); meant for violations close in time, e.g. one sample's."""
    if span is None:
        span = read_span(ch, {p for v in violations for p in v.points} |
                         {v.sample_id for v in violations}) if violations else None
    out = []
    for v in violations:
        pattern = tuple(sorted((int(p) for p in v.points),
                               key=lambda p: (span.ordinal(p) or 0, p)))
        ordinals = tuple(o for o in (span.ordinal(p) for p in pattern) if o is not None)
        out.append(Explanation(v, sentence(ch, v, span, ordinals), pattern, ordinals))
    return out


def sentence(ch, violation: Violation, span: Span, ordinals: Sequence[int]) -> str:
    """"Rule N — what the pattern is: samples …" for one violation."""
    rule, chart = violation.rule, violation.chart
    point = span.point(violation.sample_id, chart)
    named = samples_text(ordinals)
    if ch.chart_type == ChartType.EWMA and rule == 1:
        return f"Rule 1 — {_ewma(ch, point)}: {named}"
    if ch.chart_type == ChartType.CUSUM and rule == 1:
        return f"Rule 1 — {_cusum(ch, point)}: {named}"
    where = ""
    if chart == Violation.Chart.SECONDARY and point is not None:
        where = f" on the {_SECONDARY_NAMES.get(point.statistic, 'secondary chart')}"
    if rule == 1:
        what, detail = _beyond(ch, point)
        return f"Rule 1 — {what}{where}: {named}{detail}"
    return f"Rule {rule} — {_pattern(rule, point, _trend(span, violation))}{where}: {named}"


def _pattern(rule: int, point: Point | None, trend: str | None) -> str:
    side = f" ({point.side})" if point is not None and point.side else ""
    if rule == 2:
        return f"nine points in a row on the same side of the center line{side}"
    if rule == 3:
        return f"six points in a row {trend or 'increasing or decreasing'}"
    if rule == 4:
        return "fourteen points in a row alternating up and down"
    if rule == 5:
        return f"two of three points beyond 2σ on the same side{side}"
    if rule == 6:
        return f"four of five points beyond 1σ on the same side{side}"
    if rule == 7:
        return "fifteen points in a row within 1σ of the center line"
    if rule == 8:
        return "eight points in a row beyond 1σ, on either side of the center line"
    return f"rule {rule}"


def _trend(span: Span, violation: Violation) -> str | None:
    """Rule 3: "increasing" or "decreasing", read from the z of the pattern's first and last
    points (the rule compares z-scores)."""
    if violation.rule != 3 or not violation.points:
        return None
    ends = sorted(violation.points, key=lambda p: span.ordinal(p) or 0)
    first, last = span.point(ends[0], violation.chart), span.point(ends[-1], violation.chart)
    if first is None or last is None or first.z is None or last.z is None or first.z == last.z:
        return None
    return "increasing" if last.z > first.z else "decreasing"


def _beyond(ch, point: Point | None) -> tuple[str, str]:
    """(what crossed, " at value > UCL limit") for rule 1 on a Shewhart chart."""
    if point is None or point.value is None:
        return "one point beyond the control limits (3σ)", ""
    upper = point.ucl is not None and point.value > point.ucl
    lower = point.lcl is not None and point.value < point.lcl
    if not (upper or lower):  # the limits drawn have moved since; z still tells the side
        upper = bool(point.z and point.z > 0)
        lower = not upper
    trial = "trial " if point.limits_version is None else ""
    side, sign, name, limit = ("upper", ">", "UCL", point.ucl) if upper else \
        ("lower", "<", "LCL", point.lcl)
    detail = f" at {number(ch, point.value, point.statistic)}"
    if limit is not None:
        detail += f" {sign} {trial}{name} {number(ch, limit, point.statistic)}"
    return f"one point beyond the {side} control limit (3σ)", detail


def _ewma(ch, point: Point | None) -> str:
    if point is None or point.value is None or point.ucl is None or point.lcl is None:
        return "the EWMA crossed its control limits"
    upper = point.value > point.ucl
    side, sign, name, limit = ("upper", ">", "UCL", point.ucl) if upper else \
        ("lower", "<", "LCL", point.lcl)
    return (f"the EWMA crossed its {side} limit (EWMA {number(ch, point.value, 'ewma')} "
            f"{sign} {name} {number(ch, limit, 'ewma')})")


def _cusum(ch, point: Point | None) -> str:
    if point is None or point.ucl is None:
        return "the CUSUM exceeded its decision interval H"
    h = point.ucl
    parts = [f"the {side} CUSUM {name} = {number(ch, value, 'cusum')} exceeded "
             f"H = {number(ch, h, 'cusum')}"
             for side, name, value in (("upper", "C⁺", point.upper), ("lower", "C⁻", point.lower))
             if value is not None and value > h]
    return " and ".join(parts) or "the CUSUM exceeded its decision interval H"


def number(ch, x: float | None, statistic: str = "") -> str:
    """A plotted number as the characteristic shows it: its decimal places, or four significant
    digits for attribute statistics (a fraction or a rate)."""
    if x is None:
        return "—"
    if statistic in ("p", "np", "c", "u"):
        return f"{x:.4g}"
    return f"{x:.{ch.decimal_places}f}"


def samples_text(ordinals: Sequence[int]) -> str:
    """"sample 57", "samples 12, 14", "samples 41–46", "samples 3–5, 7–9"; runs of three or
    more consecutive numbers as a range."""
    if not ordinals:
        return "samples unknown"
    if len(ordinals) == 1:
        return f"sample {ordinals[0]}"
    runs, start = [], 0
    items = sorted(ordinals)
    for i in range(1, len(items) + 1):
        if i == len(items) or items[i] != items[i - 1] + 1:
            run = items[start:i]
            runs += [f"{run[0]}–{run[-1]}"] if len(run) >= 3 else [str(x) for x in run]
            start = i
    return "samples " + ", ".join(runs)
