"""What the violations page shows of a filtered set: its counts and median time to acknowledge,
and one page of rows with the value each violation's chart plots — in a bounded number of
queries whatever the number of violations: one aggregate, one ordered read for the median, the
page's rows with everything they show, and, only for moving-range rows, one query for the
previous means their values need."""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery

from alerts.violation_filters import PlantNodes
from spc import explain
from spc.fitting import PRIMARY, SECONDARY
from spc.models import ChartType, Sample, Violation

PER_PAGE = 50
_LABELS = {"xbar": "X̄", "i": "X", "p": "p", "np": "np", "c": "c", "u": "u", "ewma": "EWMA",
           "cusum": "CUSUM", "r": "R", "s": "S", "mr": "MR"}


@dataclass(frozen=True)
class Summary:
    total: int
    open: int
    awaiting: int
    acknowledged: int
    median: timedelta | None


def _time_to_ack():
    return ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField())


def median_time_to_ack(qs, acknowledged: int) -> timedelta | None:
    """The median of acknowledged_at − created_at over the acknowledged violations of `qs`
    (`acknowledged` of them): the middle one or two, read in order by the database."""
    if not acknowledged:
        return None
    lo, hi = (acknowledged - 1) // 2, acknowledged // 2
    middle = list(qs.filter(acknowledged_at__isnull=False).annotate(tta=_time_to_ack())
                  .order_by("tta", "pk").values_list("tta", flat=True)[lo:hi + 1])
    return middle[0] + (middle[-1] - middle[0]) / 2


def summary(qs) -> Summary:
    counts = qs.aggregate(
        total=Count("pk"), open=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        awaiting=Count("pk", filter=Q(acknowledged_at__isnull=True, requires_ack=True)))
    acknowledged = counts["total"] - counts["open"]
    return Summary(counts["total"], counts["open"], counts["awaiting"], acknowledged,
                   median_time_to_ack(qs, acknowledged))


@dataclass(frozen=True)
class Row:
    """One violation as the table shows it."""

    violation: Violation
    path: str
    statistic: str  # "X̄", "R", "MR", …
    value: str
    time_to_ack: timedelta | None

    @property
    def open(self) -> bool:
        return self.violation.acknowledged_at is None

    @property
    def awaiting(self) -> bool:
        return self.open and self.violation.requires_ack


def _statistic(ch, chart) -> str:
    kind = SECONDARY.get(ch.chart_type) if chart == Violation.Chart.SECONDARY \
        else PRIMARY.get(ch.chart_type)
    return kind or ""


def _plotted(v: Violation, previous_mean: float | None) -> str:
    """The value the chart plots at the violation's point, as the characteristic shows it."""
    ch, s, kind = v.characteristic, v.sample, _statistic(v.characteristic, v.chart)
    n = explain.number
    if kind == "cusum":
        return f"C⁺ {n(ch, s.cusum_upper, kind)} · C⁻ {n(ch, s.cusum_lower, kind)}"
    if kind == "ewma":
        return n(ch, s.ewma, kind)
    if kind in ("p", "u"):
        return n(ch, s.count / s.n if s.count is not None and s.n else None, kind)
    if kind in ("np", "c"):
        return n(ch, None if s.count is None else float(s.count), kind)
    if kind == "r":
        return n(ch, s.range, kind)
    if kind == "s":
        return n(ch, s.sd, kind)
    if kind == "mr":
        both = s.mean is not None and previous_mean is not None
        return n(ch, abs(s.mean - previous_mean) if both else None, kind)
    return n(ch, s.mean, kind)


def _previous_means(violations: list[Violation]) -> dict[int, float | None]:
    """For the samples of moving-range violations: the mean of the kept sample before each (a
    moving range is judged within its stage, so the one before is in the same stage). One
    query, none without such rows."""
    ids = {v.sample_id for v in violations if v.chart == Violation.Chart.SECONDARY
           and v.characteristic.chart_type == ChartType.IMR}
    if not ids:
        return {}
    before = (Sample.objects.filter(characteristic=OuterRef("characteristic"), excluded=False)
              .filter(Q(timestamp__lt=OuterRef("timestamp"))
                      | Q(timestamp=OuterRef("timestamp"), pk__lt=OuterRef("pk")))
              .order_by("-timestamp", "-pk").values("mean")[:1])
    return dict(Sample.objects.filter(pk__in=ids).annotate(previous=Subquery(before))
                .values_list("pk", "previous"))


def rows(violations: list[Violation], nodes: PlantNodes) -> list[Row]:
    previous = _previous_means(violations)
    out = []
    for v in violations:
        tta = v.acknowledged_at - v.created_at if v.acknowledged_at else None
        out.append(Row(v, nodes.path(v.characteristic.node_id),
                       _LABELS.get(_statistic(v.characteristic, v.chart), ""),
                       _plotted(v, previous.get(v.sample_id)), tta))
    return out


def with_everything(qs):
    return qs.select_related("characteristic", "sample", "acknowledged_by", "reason_code")


@dataclass(frozen=True)
class Page:
    number: int
    count: int  # pages
    rows: list[Row]
    first: int  # 1-based position of the first row in the filtered set

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


def page_of(qs, total: int, asked: int | None, nodes: PlantNodes) -> tuple[Page, str]:
    """The asked page (newest first, ties by id: a stable order), or the last one with a
    message when it is past the end."""
    count = max(1, math.ceil(total / PER_PAGE))
    number, problem = asked or 1, ""
    if number > count:
        problem = f"There is no page {number}: showing page {count}, the last."
        number = count
    start = (number - 1) * PER_PAGE
    found = list(with_everything(qs).order_by("-sample__timestamp", "-pk")
                 [start:start + PER_PAGE])
    return Page(number, count, rows(found, nodes), start + 1), problem
