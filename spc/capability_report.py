"""Process capability of a characteristic over a selection of its samples.

`capability_for` takes the same selection as the chart (the last N samples, or a time range),
keeps its non-excluded samples, reads their individual measured values in one query and hands
them to the engine's `capability` with σ within from the active limit version (or, with no
version yet, from a fit of the selection, as the chart's trial limits are fitted).
"""

from dataclasses import asdict
from datetime import datetime

from spc import engine
from spc.chart_data import SAMPLE_FIELDS, select_samples
from spc.evaluation import Row
from spc.fitting import fit, stored_limits
from spc.models import Characteristic, Measurement

MIN_VALUES = 2  # the engine's minimum: σ overall needs two values
_EXCLUDED = SAMPLE_FIELDS.index("excluded")


class CapabilityUnavailable(ValueError):
    """Capability cannot be computed for this characteristic or selection; says why."""


def _check_applies(ch: Characteristic) -> None:
    if ch.is_attribute:
        raise CapabilityUnavailable(
            f"{ch.name} is a {ch.get_chart_type_display()} chart: normal-theory capability "
            "(Cp, Cpk, Pp, Ppk) applies to measured values, not to counts of defectives or "
            "defects; binomial/Poisson capability is not available yet."
        )
    if ch.usl is None and ch.lsl is None:
        raise CapabilityUnavailable(
            f"{ch.name} has no specification limits: set USL, LSL or both to compute "
            "capability."
        )


def _values(ch: Characteristic, rows: list[Row]) -> list[float]:
    """The measured values of the rows, in one query."""
    ids = {r.id for r in rows}
    measured = Measurement.objects.filter(
        sample__characteristic=ch, sample__excluded=False,
        sample__timestamp__gte=rows[0].timestamp, sample__timestamp__lte=rows[-1].timestamp,
    ).order_by().values_list("sample_id", "value")  # capability does not depend on the order
    return [value for sample_id, value in measured if sample_id in ids]


def capability_for(ch: Characteristic, last: int | None = None, start: datetime | None = None,
                   end: datetime | None = None) -> dict:
    """Capability of the non-excluded samples of the selection, as plain JSON.

    Returns every field of the engine's Capability (cpk_ci95 and warnings as lists) plus
    n_samples, n_values, from and to (ISO times of the first and last sample used) and
    sigma_within_source ("limits v3" or "fit of the selection"). Raises CapabilityUnavailable
    for attribute charts, without specification limits, with too few values, and with the
    engine's message when the engine refuses (e.g. USL ≤ LSL, no variation).
    """
    _check_applies(ch)
    selected = select_samples(ch, SAMPLE_FIELDS, last, start, end)
    rows = [Row(*s[:len(Row._fields)]) for s in selected if not s[_EXCLUDED]]
    values = _values(ch, rows) if rows else []
    if len(values) < MIN_VALUES:
        excluded = len(selected) - len(rows)
        raise CapabilityUnavailable(
            f"Capability needs at least {MIN_VALUES} measured values; the selection holds "
            f"{len(values)} from {len(rows)} sample(s)"
            + (f" ({excluded} excluded sample(s) not counted)." if excluded else ".")
        )
    try:
        version = ch.limit_versions.filter(is_active=True).first()
        if version is not None:
            sigma, source = version.sigma, f"limits v{version.version}"
        else:
            sigma, source = stored_limits(ch, fit(ch, rows)).sigma, "fit of the selection"
        result = engine.capability(values, usl=ch.usl, lsl=ch.lsl, target=ch.target,
                                   sigma_within=sigma)
    except engine.EngineError as exc:
        raise CapabilityUnavailable(str(exc)) from exc
    out = asdict(result)
    out["cpk_ci95"] = list(result.cpk_ci95) if result.cpk_ci95 is not None else None
    out["warnings"] = list(result.warnings)
    out.update(n_samples=len(rows), n_values=len(values), sigma_within_source=source,
               **{"from": rows[0].timestamp.isoformat(), "to": rows[-1].timestamp.isoformat()})
    return out
