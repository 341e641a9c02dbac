"""Process capability of a characteristic over a selection of its samples.

`capability_for` takes the same selection as the chart (the last N samples, or a time range)
and keeps its non-excluded samples. For measured values it reads their individual values in
one query and hands them to the engine's `capability` with σ within from the active limit
version (or, with no version yet, from a fit of the selection, as the chart's trial limits are
fitted). Counts have no specification limits to compare a spread with: p and np charts get the
engine's binomial capability (% defective, ppm, process Z), c and u charts its Poisson
capability (defects per unit), from the samples' counts and sizes.
"""

from dataclasses import asdict
from datetime import UTC, datetime

from spc import engine
from spc.chart_data import select_columns
from spc.evaluation import Row
from spc.fitting import fit, stored_limits
from spc.models import Characteristic, ChartType, Measurement

_ACTIVE = object()  # "read the active limit version" (None: there is none)
MIN_VALUES = 2  # the engine's minimum: σ overall needs two values


class CapabilityUnavailable(ValueError):
    """Capability cannot be computed for this characteristic or selection; says why."""


def _require_specification(ch: Characteristic) -> None:
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

    `kind` says which: "normal" for measured values — every field of the engine's Capability
    (cpk_ci95 and warnings as lists), n_values and sigma_within_source ("limits v3" or "fit of
    the selection"); "binomial" (p, np) or "poisson" (c, u) for counts — every field of the
    engine's BinomialCapability or PoissonCapability, intervals as lists. All of them carry
    n_samples, from and to (ISO times of the first and last sample used). Raises
    CapabilityUnavailable without specification limits (measured values), with too few
    samples or values, and with the engine's message when the engine refuses (e.g. USL ≤ LSL,
    no variation).
    """
    report, problem, _ = capability_and_values(ch, last, start, end)
    if problem is not None:
        raise problem
    return report


def capability_and_values(ch: Characteristic, last: int | None = None,
                          start: datetime | None = None, end: datetime | None = None,
                          version=_ACTIVE) -> tuple[dict | None, CapabilityUnavailable | None,
                                                 list[float]]:
    """(capability or None, why not or None, the measured values) of the selection, reading
    the samples and their values once: what the chart page shows beside the chart (the values
    make its histogram; [] for attribute charts). `version`: the active limit version (or None)
    when the caller has read it already."""
    rows, excluded = _kept_rows(select_columns(ch, last, start, end))
    values = [] if ch.is_attribute or not rows else _values(ch, rows)
    try:
        if ch.is_attribute:
            return _attribute_capability(ch, rows, excluded), None, values
        return _normal_capability(ch, rows, excluded, values, version), None, values
    except CapabilityUnavailable as exc:
        return None, exc, values


def _kept_rows(cols) -> tuple[list[Row], int]:
    """The non-excluded samples of the selection's columns as Rows (NaN read as None), and how
    many were excluded."""
    keep = ~cols.excluded
    stamps = cols.timestamp[keep].astype("datetime64[us]").tolist()

    def column(values, kind=float):
        return [None if v != v else kind(v) for v in values[keep].tolist()]

    rows = [Row(*fields) for fields in zip(
        cols.sample_id[keep].tolist(), (t.replace(tzinfo=UTC) for t in stamps),
        cols.n[keep].tolist(), column(cols.mean), column(cols.range), column(cols.sd),
        column(cols.count, int), strict=True)]
    return rows, int(cols.excluded.sum())


def _normal_capability(ch: Characteristic, rows: list[Row], excluded: int, values: list[float],
                       version=_ACTIVE) -> dict:
    _require_specification(ch)
    if len(values) < MIN_VALUES:
        raise _too_few(f"at least {MIN_VALUES} measured values; the selection holds "
                       f"{len(values)} from {len(rows)} sample(s)", excluded)
    try:
        if version is _ACTIVE:
            version = ch.limit_versions.filter(is_active=True).first()
        if version is not None:
            sigma, source = version.sigma, f"limits v{version.version}"
        else:
            sigma, source = stored_limits(ch, fit(ch, rows)).sigma, "fit of the selection"
        result = engine.capability(values, usl=ch.usl, lsl=ch.lsl, target=ch.target,
                                   sigma_within=sigma)
    except engine.EngineError as exc:
        raise CapabilityUnavailable(str(exc)) from exc
    out = _as_json("normal", result, rows)
    out.update(n_values=len(values), sigma_within_source=source)
    return out


def _too_few(needs: str, excluded: int) -> CapabilityUnavailable:
    return CapabilityUnavailable(
        f"Capability needs {needs}"
        + (f" ({excluded} excluded sample(s) not counted)." if excluded else ".")
    )


def _attribute_capability(ch: Characteristic, rows: list[Row], excluded: int) -> dict:
    if not rows:
        raise _too_few("at least 1 sample; the selection holds none", excluded)
    binomial = ch.chart_type in (ChartType.P, ChartType.NP)
    counts, sizes = [r.count for r in rows], [r.n for r in rows]
    try:
        result = (engine.binomial_capability(counts, sizes) if binomial
                  else engine.poisson_capability(counts, sizes))
    except engine.EngineError as exc:
        raise CapabilityUnavailable(str(exc)) from exc
    return _as_json("binomial" if binomial else "poisson", result, rows)


def _as_json(kind: str, result, rows: list[Row]) -> dict:
    out = {"kind": kind}
    for name, value in asdict(result).items():
        out[name] = list(value) if isinstance(value, tuple) else value
    out.update(n_samples=len(rows), **{"from": rows[0].timestamp.isoformat(),
                                       "to": rows[-1].timestamp.isoformat()})
    return out
