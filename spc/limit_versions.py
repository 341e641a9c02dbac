"""New versions of control limits: recalculated from samples, entered by hand, or frozen trial.

Every change makes a new version and keeps the old ones; exactly one version is active.
"""

import math
from dataclasses import asdict
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from spc import engine, events, rejudge
from spc.evaluation import ROW_FIELDS, Row, beyond_secondary, z_scores
from spc.fitting import PRIMARY, SECONDARY, Fit, fit, stored_limits
from spc.models import Characteristic, ChartType, ControlLimits, LimitSource, Sample


class LimitsInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def _selected(ch: Characteristic, first_n=None, last_n=None, start=None, end=None) -> list[Row]:
    qs = Sample.objects.filter(characteristic=ch, excluded=False)
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lte=end)
    if first_n is not None:
        rows = list(qs.order_by("timestamp", "id").values_list(*ROW_FIELDS)[:first_n])
    elif last_n is not None:
        rows = list(qs.order_by("-timestamp", "-id").values_list(*ROW_FIELDS)[:last_n])[::-1]
    else:
        rows = list(qs.order_by("timestamp", "id").values_list(*ROW_FIELDS))
    return [Row(*r) for r in rows]


def _out_of_control(ch: Characteristic, rows: list[Row], result) -> list[int]:
    """Indices of rows beyond the fitted limits (rule 1): of the primary chart, or — when it
    has none — of the secondary chart. An outlier also inflates the moving range after it, so
    removing primary points first and refitting keeps that neighbour."""
    if isinstance(result, engine.CusumResult):
        return sorted(set(result.signals_upper.tolist()) | set(result.signals_lower.tolist()))
    if ch.chart_type == ChartType.EWMA:
        return [f.index for f in engine.ewma_signals(result)]
    z = z_scores(ch, rows, float(result.primary.center), result.primary.sigma)
    beyond = {i for i, value in enumerate(z) if abs(value) > result.primary.nsigma}
    if not beyond and ch.chart_type in SECONDARY:
        beyond = set(beyond_secondary(ch, rows, result.primary.sigma))
    return sorted(beyond)


def calculate(ch: Characteristic, first_n=None, last_n=None, start=None, end=None,
              exclude_ooc=False) -> tuple[Fit, list[Row], list[int]]:
    """Fit limits to the selected samples, optionally dropping out-of-control points until none
    remain. Returns the fit, the rows it used and the ids of the rows removed."""
    rows = _selected(ch, first_n, last_n, start, end)
    if len(rows) < 2:
        raise LimitsInvalid({"samples": [f"Limits need at least 2 non-excluded samples in the "
                                         f"selection; it holds {len(rows)}."]})
    removed: list[int] = []
    while True:
        try:
            result = fit(ch, rows)
        except engine.EngineError as exc:
            raise LimitsInvalid({"samples": [str(exc)]}) from None
        if not exclude_ooc:
            break
        beyond = _out_of_control(ch, rows, result)
        if not beyond:
            break
        removed += [rows[i].id for i in beyond]
        rows = [r for i, r in enumerate(rows) if i not in set(beyond)]
        if len(rows) < 2:
            raise LimitsInvalid({"samples": ["Removing out-of-control points left fewer than 2 "
                                             "samples: the process is not stable enough."]})
    return stored_limits(ch, result), rows, removed


def _new_version(ch: Characteristic, fit_: Fit, *, source, reason, user, options, removed=(),
                 sample_count=0, effective_from: datetime | None = None) -> ControlLimits:
    """A new active version, under the characteristic's writer's lock; samples from a past
    `effective_from` on are judged again against it."""
    if not (reason or "").strip():
        raise LimitsInvalid({"reason": ["Say why the limits change."]})
    with rejudge.writer_lock(ch) as (ch, _):
        last = ch.limit_versions.aggregate(v=Max("version"))["v"] or 0
        ch.limit_versions.filter(is_active=True).update(is_active=False)
        version = ControlLimits.objects.create(
            characteristic=ch, version=last + 1, is_active=True, source=source,
            reason=reason.strip(), options=options, removed_sample_ids=list(removed),
            sample_count=sample_count, effective_from=effective_from or timezone.now(),
            created_by=user, **asdict(fit_),
        )
        if effective_from is not None:
            rejudge.reevaluate(ch, effective_from, "new limits")
        events.publish(events.limits_changed, events.LimitsChanged(
            plant_id=ch.plant_id, characteristic_id=ch.pk, version_id=version.pk,
            version=version.version, effective_from=version.effective_from,
            center=version.center, ucl=version.ucl, lcl=version.lcl))
    return version


def recalculate(ch: Characteristic, user, reason: str, first_n=None, last_n=None, start=None,
                end=None, exclude_ooc=False, effective_from=None) -> ControlLimits:
    fit_, rows, removed = calculate(ch, first_n, last_n, start, end, exclude_ooc)
    options = {"first_n": first_n, "last_n": last_n,
               "from": start.isoformat() if start else None,
               "to": end.isoformat() if end else None, "exclude_ooc": exclude_ooc,
               "first_sample_id": rows[0].id, "last_sample_id": rows[-1].id}
    return _new_version(ch, fit_, source=LimitSource.CALCULATED, reason=reason, user=user,
                        options={k: v for k, v in options.items() if v is not None},
                        removed=removed, sample_count=len(rows), effective_from=effective_from)


def manual(ch: Characteristic, user, reason: str, center: float, sigma: float | None = None,
           ucl: float | None = None, lcl: float | None = None, effective_from=None) -> ControlLimits:
    """Limits entered by hand: a center and either the process σ or UCL/LCL."""
    statistic = PRIMARY[ch.chart_type]
    n = max(ch.subgroup_size, 1)
    entered = {"center": center, "sigma": sigma, "ucl": ucl, "lcl": lcl}
    if statistic in ("p", "c", "u"):
        if ucl is not None or lcl is not None or sigma is not None:
            raise LimitsInvalid({"center": [
                f"For a {statistic} chart give only the center ({statistic}̄): its limits "
                "follow from it and each sample's size."]})
        if not (0 < center < 1 if statistic == "p" else center > 0):
            bound = "strictly between 0 and 1" if statistic == "p" else "greater than 0"
            raise LimitsInvalid({"center": [f"{statistic}̄ must be {bound}."]})
        # σ of one unit, as calculated versions of these charts store it
        sigma = math.sqrt(center * (1 - center)) if statistic == "p" else math.sqrt(center)
    if statistic in ("ewma", "cusum") and (ucl is not None or lcl is not None):
        raise LimitsInvalid({"sigma": [
            f"For an {statistic.upper()} chart give the center (target) and the process σ: its "
            "limits follow from them with " + ("λ and L." if statistic == "ewma" else "k and h.")]})
    if sigma is None:
        if ucl is None or lcl is None:
            raise LimitsInvalid({"sigma": ["Give the process σ, or both UCL and LCL."]})
        if not lcl < center < ucl:
            raise LimitsInvalid({"ucl": ["The center must lie between LCL and UCL."]})
        half = (ucl - lcl) / 6
        sigma = half * (n ** 0.5) if statistic in ("xbar", "ewma", "cusum") else half
    if not sigma > 0:
        raise LimitsInvalid({"sigma": ["σ must be a positive number."]})
    try:
        if statistic in ("xbar", "i", "np"):
            at_n = engine.point_limits(statistic, n if statistic == "xbar" else None, center, sigma)
        elif statistic in ("p", "u", "c"):
            at_n = engine.point_limits(statistic, n if statistic != "c" else None, center, None)
        else:
            at_n = None
    except engine.EngineError as exc:
        raise LimitsInvalid({"center": [str(exc)]}) from None
    fit_ = Fit(center=center, sigma=sigma, subgroup_size=n, method="Entered by hand",
               ucl=ucl if ucl is not None else (float(at_n.ucl[0]) if at_n else center + 3 * sigma),
               lcl=lcl if lcl is not None else (float(at_n.lcl[0]) if at_n else center - 3 * sigma))
    secondary = SECONDARY.get(ch.chart_type)
    if secondary:
        sec = engine.point_limits(secondary, n if secondary != "mr" else None, None, sigma)
        fit_ = Fit(**{**asdict(fit_), "secondary_center": float(sec.center[0]),
                      "secondary_ucl": float(sec.ucl[0]), "secondary_lcl": float(sec.lcl[0])})
    return _new_version(ch, fit_, source=LimitSource.MANUAL, reason=reason, user=user,
                        options={"entered": entered},
                        effective_from=effective_from)


def freeze_trial_limits(ch: Characteristic, user=None) -> ControlLimits | None:
    """Establish limits from the first N subgroups once the trial phase has that many."""
    n = ch.auto_freeze_after
    if Sample.objects.filter(characteristic=ch, excluded=False)[:n].count() < n:  # reads ≤ n
        return None
    try:
        fit_, rows, _ = calculate(ch, first_n=n)
    except LimitsInvalid:
        return None
    return _new_version(ch, fit_, source=LimitSource.CALCULATED, user=user,
                        reason=f"Trial limits frozen automatically after {n} subgroups",
                        options={"first_n": n, "auto_freeze": True}, sample_count=len(rows),
                        effective_from=rows[0].timestamp)
