"""Plotly figures of a characteristic: the control chart (primary over secondary, one time axis)
and the histogram beside it, built from `spc.chart_data`'s columns.

Figures are plain data (dicts and lists), so the chart page, the kiosk, the comparison page and
the live channel share them, and a report can draw the same series with a server-side renderer.
Every trace carries `meta.series`, the name of the series it draws; `series()` gives those
series for any selection of points, so a live update extends each trace with exactly what the
server would have drawn (`static/openspc/chart.js` applies them with `Plotly.extendTraces`).

Series (prefix `p.` on the primary chart, `s.` on the secondary one):
- `value`: the plotted statistic of the kept points; `raw`: EWMA/CUSUM subgroup means, faint;
  `upper`/`lower`: CUSUM C⁺ and −C⁻.
- `center`, `ucl`, `lcl` and the zone edges `z-2`, `z-1`, `z+1`, `z+2`: stepped lines at every
  point (limits in force there; excluded points keep the limits before them). Zones above the
  centre are (UCL − CL)/3 wide, below it (CL − LCL)/3, as the rules judge them.
- `violation`: points with a live violation on that chart (red diamonds); `pulse`: those of
  them not yet acknowledged (the chart pulses them); `excluded`: excluded points (hollow).
Each point's `ids` (the sample ids) ride in `customdata`, so a click opens the inspector and an
acknowledgment finds its points.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from spc.models import ChartType

WEBGL_FROM = 2000  # points per trace from which Plotly draws with WebGL (scattergl)

# colours: one meaning on every page — red out of control, green only "in control"
BLUE = "#2563eb"
RED = "#dc2626"
CENTER = "#16a34a"
LIMIT = "#dc2626"
SPEC = "#7c3aed"
MUTED = "rgba(100,116,139,0.55)"
COMPARE_COLOURS = (BLUE, "#ea580c", "#0d9488", "#9333ea")  # one per compared characteristic
ZONE_FILL = {"a": "rgba(220,38,38,0.07)", "b": "rgba(234,179,8,0.08)",
             "c": "rgba(22,163,74,0.06)"}

_TITLES = {
    "xbar": "X̄ (subgroup mean)", "i": "Individual values", "p": "p (fraction defective)",
    "np": "np (defectives)", "c": "c (defects)", "u": "u (defects per unit)",
    "ewma": "EWMA", "cusum": "CUSUM (C⁺ above, −C⁻ below)", "r": "Range", "s": "Std deviation",
    "mr": "Moving range",
}


def local_times(stamps: np.ndarray, tz: ZoneInfo | None = None) -> list[str]:
    """datetime64[us] UTC instants as wall-clock text in the site's time zone, which Plotly's
    date axis draws as it reads it (it knows no time zones)."""
    if not stamps.size:
        return []
    zone = tz or timezone.get_current_timezone()
    first, last = (s.astype("datetime64[us]").item().replace(tzinfo=ZoneInfo("UTC"))
                   for s in (stamps[0], stamps[-1]))
    offset_first, offset_last = first.astimezone(zone).utcoffset(), last.astimezone(zone).utcoffset()
    if offset_first == offset_last:  # one offset for the whole column (no DST change in it)
        shifted = stamps.astype("datetime64[us]") + np.timedelta64(offset_first, "us")
        return np.datetime_as_string(shifted, unit="ms").tolist()
    utc = ZoneInfo("UTC")
    return [s.item().replace(tzinfo=utc).astimezone(zone).replace(tzinfo=None)
            .isoformat(timespec="milliseconds") for s in stamps.astype("datetime64[us]")]


def local_ms(stamps: np.ndarray, tz: ZoneInfo | None = None) -> np.ndarray:
    """datetime64[us] UTC instants as the milliseconds since the epoch of their wall-clock time
    in the site's time zone: what Plotly's date axis draws from a number (it reads numbers as
    UTC), in a third of the bytes of the text."""
    if not stamps.size:
        return np.zeros(0, dtype=np.int64)
    zone = tz or timezone.get_current_timezone()
    us = stamps.astype("datetime64[us]")
    utc = ZoneInfo("UTC")
    offsets = [s.item().replace(tzinfo=utc).astimezone(zone).utcoffset() for s in (us[0], us[-1])]
    if offsets[0] == offsets[1]:
        shift = np.int64(offsets[0] // np.timedelta64(1, "us").item())
    else:  # a DST change inside the selection: each instant's own offset
        shift = np.array([s.item().replace(tzinfo=utc).astimezone(zone).utcoffset()
                          // np.timedelta64(1, "us").item() for s in us], dtype=np.int64)
    return (us.astype(np.int64) + shift) // 1000


def _zone_edges(center, ucl, lcl) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore"):
        up, down = (ucl - center) / 3, (center - lcl) / 3
    return {"z+1": center + up, "z+2": center + 2 * up, "z-1": center - down,
            "z-2": center - 2 * down}


def _chart_series(prefix: str, chart: dict, x: np.ndarray, ids: np.ndarray,
                  excluded: np.ndarray, unacked: set[int], cusum: bool,
                  digits: int) -> dict[str, dict]:
    kept = ~excluded
    out: dict[str, dict] = {}

    def put(name, mask, y):
        at = np.flatnonzero(mask & np.isfinite(y))
        out[prefix + name] = {"x": x[at].tolist(), "y": np.round(y[at].astype(float), digits)
                              .tolist(), "ids": ids[at].tolist()}

    everything = np.ones(ids.size, dtype=bool)
    center, ucl, lcl = chart["center"], chart["ucl"], chart["lcl"]
    if cusum:
        upper, lower = chart["upper"], -chart["lower"]
        put("upper", kept, upper)
        put("lower", kept, lower)
        # the side that signalled (or the larger excursion) is where the point is marked
        plotted = np.where(np.nan_to_num(chart["upper"]) >= np.nan_to_num(chart["lower"]),
                           upper, lower)
    else:
        plotted = chart["value"]
        put("value", kept, plotted)
    if "raw" in chart and not cusum:  # EWMA: the means it smooths, on the same scale
        put("raw", kept, chart["raw"])
    for name, column in (("center", center), ("ucl", ucl), ("lcl", lcl),
                         *_zone_edges(center, ucl, lcl).items()):
        put(name, everything, column)
    fired = np.array([bool(r) for r in chart["rules"]], dtype=bool)
    put("violation", fired & kept, plotted)
    waiting = np.isin(ids, np.fromiter(unacked, dtype=np.int64, count=len(unacked)))
    put("pulse", fired & kept & waiting, plotted)
    # an excluded point keeps its own statistic (EWMA: its mean; CUSUM: on the centre line)
    own = np.zeros(ids.size) if cusum else chart.get("raw", plotted)
    put("excluded", excluded, own)
    return out


def series(data: dict, unacked: set[int] = frozenset(), tz: ZoneInfo | None = None) -> dict:
    """Every series the figure draws for the points of `data` (a `chart_data` result): name →
    {x, y, ids}, x as `local_ms`. `unacked` holds the sample ids with a violation not yet
    acknowledged."""
    x = local_ms(data["timestamp"], tz)
    ids = np.asarray(data["sample_id"], dtype=np.int64)
    excluded = np.asarray(data["excluded"], dtype=bool)
    cusum = data["characteristic"]["chart_type"] == ChartType.CUSUM
    # far beyond what the chart shows (decimal places + 1), short on the wire
    digits = data["characteristic"].get("decimal_places", 3) + 5
    out = _chart_series("p.", data["primary"], x, ids, excluded, set(unacked), cusum, digits)
    if data["secondary"] is not None:
        out.update(_chart_series("s.", data["secondary"], x, ids, excluded, set(unacked),
                                 False, digits))
    return out


def _steps(points: dict) -> dict:
    """A stepped line with only the points where it changes (and its last point): drawn the
    same with line shape "hv", and a few points instead of thousands for constant limits."""
    y = points["y"]
    keep = [i for i in range(len(y)) if i == 0 or i == len(y) - 1 or y[i] != y[i - 1]]
    return {"x": [points["x"][i] for i in keep], "y": [y[i] for i in keep],
            "ids": [points["ids"][i] for i in keep]}


def _trace(series_name: str, points: dict, *, axis: str, gl: bool, **style) -> dict:
    if style.get("mode") == "lines":
        points = _steps(points)
    trace = {"type": "scattergl" if gl else "scatter", "x": points["x"], "y": points["y"],
             "customdata": points["ids"], "yaxis": axis, "xaxis": "x",
             "meta": {"series": series_name}, "showlegend": False}
    trace.update(style)
    return trace


def _line(name, color, dash="solid", width=1.4, fill=None, fillcolor=None) -> dict:
    style = {"mode": "lines", "line": {"color": color, "width": width, "dash": dash,
                                       "shape": "hv"},
             "name": name, "hoverinfo": "skip"}
    if fill:
        style.update(fill=fill, fillcolor=fillcolor)
    return style


def _chart_traces(prefix: str, s: dict, axis: str, gl: bool, statistic: str, decimals: int,
                  cusum: bool, colour: str = BLUE) -> list[dict]:
    fmt = f".{min(decimals + 1, 8)}f"
    traces = []

    def add(series_name, **style):
        if prefix + series_name in s:
            # limits are stepped ("hv"), which only SVG lines draw; points go WebGL when many
            is_gl = gl and style.get("mode") != "lines"
            traces.append(_trace(prefix + series_name, s[prefix + series_name], axis=axis,
                                 gl=is_gl, **style))

    invisible = {"color": "rgba(0,0,0,0)", "width": 0}
    add("lcl", **_line("LCL", LIMIT))
    if statistic in ("ewma", "cusum"):  # judged on their limits alone: no zones to draw
        add("ucl", **_line("UCL", LIMIT))
        add("center", **_line("Center", CENTER, width=1.2))
        return _point_traces(add, statistic, fmt, cusum, colour, traces)
    # zone bands: each edge fills down to the one added before it
    add("z-2", **{**_line("−2σ", "", fill="tonexty", fillcolor=ZONE_FILL["a"]),
                  "line": {**invisible, "shape": "hv"}})
    add("z-1", **{**_line("−1σ", "", fill="tonexty", fillcolor=ZONE_FILL["b"]),
                  "line": {**invisible, "shape": "hv"}})
    add("z+1", **{**_line("+1σ", "", fill="tonexty", fillcolor=ZONE_FILL["c"]),
                  "line": {**invisible, "shape": "hv"}})
    add("z+2", **{**_line("+2σ", "", fill="tonexty", fillcolor=ZONE_FILL["b"]),
                  "line": {**invisible, "shape": "hv"}})
    add("ucl", **_line("UCL", LIMIT, fill="tonexty", fillcolor=ZONE_FILL["a"]))
    add("center", **_line("Center", CENTER, width=1.2))
    return _point_traces(add, statistic, fmt, cusum, colour, traces)


def _point_traces(add, statistic, fmt, cusum, colour, traces) -> list[dict]:
    hover = ("%{y:" + fmt + "}<br>%{x}<extra>" + _TITLES.get(statistic, statistic)
             + "</extra>")
    add("raw", mode="markers", name="Subgroup mean", hoverinfo="skip",
        marker={"color": MUTED, "size": 4})
    if cusum:
        add("upper", mode="lines+markers", name="C⁺", hovertemplate=hover,
            line={"color": colour, "width": 1.5}, marker={"color": colour, "size": 5})
        add("lower", mode="lines+markers", name="−C⁻", hovertemplate=hover,
            line={"color": "#0891b2", "width": 1.5}, marker={"color": "#0891b2", "size": 5})
    else:
        add("value", mode="lines+markers", name=_TITLES.get(statistic, statistic),
            hovertemplate=hover, line={"color": colour, "width": 1.5},
            marker={"color": colour, "size": 5})
    add("excluded", mode="markers", name="Excluded", hovertemplate="Excluded<extra></extra>",
        marker={"symbol": "circle-open", "color": MUTED, "size": 9, "line": {"width": 1.5}})
    add("violation", mode="markers", name="Violation",
        hovertemplate="Out of control: %{y:" + fmt + "}<extra></extra>",
        marker={"symbol": "diamond", "color": RED, "size": 11,
                "line": {"color": "#ffffff", "width": 1}})
    add("pulse", mode="markers", name="Not acknowledged", hoverinfo="skip",
        marker={"symbol": "diamond-open", "color": RED, "size": 16, "line": {"width": 2}})
    return traces


def _spec_shapes(ch: dict) -> list[dict]:
    shapes = []
    for key, label in (("usl", "USL"), ("lsl", "LSL")):
        value = ch.get(key)
        if value is not None:
            shapes.append({"type": "line", "name": "spec", "xref": "paper", "x0": 0, "x1": 1,
                           "yref": "y", "y0": value, "y1": value,
                           "line": {"color": SPEC, "width": 1.2, "dash": "dash"},
                           "label": {"text": f"{label} {value:g}", "textposition": "end",
                                     "font": {"size": 10, "color": SPEC}}})
    return shapes


def _version_marks(data: dict, x: list[int]) -> tuple[list[dict], list[dict]]:
    """Vertical marks where the limit version changes inside the selection, and a shaded,
    labelled trial span."""
    shapes, notes = [], []
    numbers = data["limits_version"]
    described = {v["version"]: v for v in data["versions"]}
    for i in range(1, len(numbers)):
        if numbers[i] != numbers[i - 1] and numbers[i] is not None:
            v = described.get(numbers[i], {})
            shapes.append({"type": "line", "xref": "x", "x0": x[i], "x1": x[i], "yref": "paper",
                           "y0": 0, "y1": 1, "line": {"color": MUTED, "width": 1, "dash": "dot"}})
            notes.append({"xref": "x", "x": x[i], "yref": "paper", "y": 1, "yanchor": "bottom",
                          "showarrow": False, "font": {"size": 10},
                          "text": f"limits v{numbers[i]}"
                          + (f" · {v['source'].lower()}" if v.get("source") else "")})
    trial = [i for i, n in enumerate(numbers) if n is None]
    if trial:
        a, b = trial[0], trial[-1]
        end = x[b + 1] if b + 1 < len(x) else x[b]
        shapes.append({"type": "rect", "xref": "x", "x0": x[a], "x1": end, "yref": "paper",
                       "y0": 0, "y1": 1, "fillcolor": "rgba(234,179,8,0.10)", "line": {"width": 0},
                       "layer": "below", "name": "trial"})
        notes.append({"xref": "x", "x": x[a], "xanchor": "left", "yref": "paper", "y": 1,
                      "yanchor": "bottom", "showarrow": False, "font": {"size": 10},
                      "text": "Trial limits (Phase I)"})
    return shapes, notes


def _annotation_marks(annotations, x_of: dict[int, int], y_of: dict[int, float],
                      tz) -> tuple[list[dict], dict]:
    """Shaded spans for periods; a marker series (flags above their point) for points."""
    shapes, points = [], {"x": [], "y": [], "ids": [], "text": []}
    for a in annotations:
        if a.sample_id is None:
            start, end = (local_times(np.array([np.datetime64(t.astimezone(ZoneInfo("UTC"))
                                                              .replace(tzinfo=None), "us")]), tz)[0]
                          for t in (a.start, a.end))
            shapes.append({"type": "rect", "xref": "x", "x0": start, "x1": end, "yref": "paper",
                           "y0": 0, "y1": 1, "fillcolor": "rgba(124,58,237,0.08)",
                           "line": {"width": 0}, "layer": "below", "name": "annotation",
                           "label": {"text": a.text[:40], "textposition": "top left",
                                     "font": {"size": 10, "color": SPEC}}})
        elif a.sample_id in x_of:
            points["x"].append(x_of[a.sample_id])
            points["y"].append(y_of.get(a.sample_id))
            points["ids"].append(a.sample_id)
            points["text"].append(a.text)
    return shapes, points


def _explain_exclusions(traces: list[dict], data: dict) -> None:
    """Excluded points say why on hover."""
    reasons = dict(zip(np.asarray(data["sample_id"]).tolist(), data["exclusion_reason"],
                       strict=True))
    for trace in traces:
        if trace["meta"]["series"].endswith(".excluded") and trace["customdata"]:
            trace["text"] = [reasons.get(i) or "no reason given" for i in trace["customdata"]]
            trace["hovertemplate"] = "Excluded: %{text}<extra></extra>"


def figure(data: dict, unacked: set[int] = frozenset(), annotations=(),
           tz: ZoneInfo | None = None, colour: str = BLUE) -> dict:
    """The control chart of `data` (a `chart_data` result) as a Plotly figure: primary chart on
    top, the secondary one (if any) below on the same time axis, hover shown on both. `colour`
    draws the points (the comparison page gives each characteristic its own)."""
    ch = data["characteristic"]
    s = series(data, unacked, tz)
    cusum = ch["chart_type"] == ChartType.CUSUM
    m = len(data["sample_id"])
    gl = m >= WEBGL_FROM
    decimals = ch.get("decimal_places", 3)
    traces = _chart_traces("p.", s, "y", gl, data["primary"]["statistic"], decimals, cusum,
                           colour)
    has_secondary = data["secondary"] is not None
    if has_secondary:
        traces += _chart_traces("s.", s, "y2", gl, data["secondary"]["statistic"], decimals,
                                False, colour)
    x = local_ms(data["timestamp"], tz).tolist()
    _explain_exclusions(traces, data)
    shapes, notes = _version_marks(data, x)
    if not cusum:
        shapes += _spec_shapes(ch)
    ids = [int(i) for i in data["sample_id"]]
    y_main = s.get("p.value") or s.get("p.upper") or {"ids": [], "y": []}
    y_of = dict(zip(y_main["ids"], y_main["y"], strict=True))
    spans, flagged = _annotation_marks(annotations, dict(zip(ids, x, strict=True)), y_of, tz)
    shapes += spans
    if flagged["x"]:
        traces.append({"type": "scatter", "mode": "markers", "x": flagged["x"],
                       "y": flagged["y"], "customdata": flagged["ids"], "text": flagged["text"],
                       "yaxis": "y", "xaxis": "x", "meta": {"series": "p.note"},
                       "name": "Annotation", "showlegend": False,
                       "hovertemplate": "✎ %{text}<extra></extra>",
                       "marker": {"symbol": "star-triangle-down", "size": 13, "color": SPEC}})
    primary_title = _TITLES.get(data["primary"]["statistic"], data["primary"]["statistic"])
    unit = f" ({ch['unit']})" if ch.get("unit") and data["primary"]["statistic"] in (
        "xbar", "i", "ewma") else ""
    layout = {
        "margin": {"l": 64, "r": 24, "t": 28, "b": 40},
        "hovermode": "x", "hoversubplots": "axis", "hoverdistance": 30,
        "dragmode": "zoom", "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": {"type": "date", "anchor": "y2" if has_secondary else "y", "showgrid": True,
                  "gridcolor": "rgba(128,128,128,0.15)", "showspikes": True,
                  "spikemode": "across", "spikethickness": 1, "spikecolor": MUTED},
        "yaxis": {"domain": [0.34, 1] if has_secondary else [0, 1],
                  "title": {"text": primary_title + unit, "font": {"size": 11}},
                  "gridcolor": "rgba(128,128,128,0.15)", "zeroline": False},
        "shapes": shapes, "annotations": notes,
        "meta": {"characteristic": ch["id"], "chart_type": ch["chart_type"], "points": m,
                 "webgl": gl, "decimals": decimals},
    }
    if has_secondary:
        layout["yaxis2"] = {"domain": [0, 0.27], "anchor": "x",
                            "title": {"text": _TITLES.get(data["secondary"]["statistic"], ""),
                                      "font": {"size": 11}},
                            "gridcolor": "rgba(128,128,128,0.15)", "zeroline": False}
    return {"data": traces, "layout": layout}


def compact(figure: dict) -> dict:
    """The figure for a wall display: the primary chart alone, larger, its axes in big type."""
    figure["data"] = [t for t in figure["data"] if t.get("yaxis") != "y2"]
    layout = figure["layout"]
    layout.pop("yaxis2", None)
    layout["yaxis"]["domain"] = [0, 1]
    layout["yaxis"]["title"] = None
    layout["xaxis"].update(anchor="y", nticks=6, tickangle=0)
    layout["font"]["size"] = 15
    layout["margin"] = {"l": 70, "r": 16, "t": 24, "b": 36}
    layout["shapes"] = [s for s in layout["shapes"] if s.get("yref") != "y2"]
    for trace in figure["data"]:
        marker = trace.get("marker")
        if marker and "size" in marker:
            marker["size"] = marker["size"] * 1.4
    return figure


def histogram(values: list[float], capability: dict | None, ch) -> dict | None:
    """A horizontal histogram of the individual values (value up, count across, so it lines up
    with the control chart beside it) with the normal curve of the process (mean, σ overall)
    scaled to the counts, and the specification limits and target."""
    if len(values) < 2:
        return None
    v = np.asarray(values, dtype=float)
    bins = int(np.clip(np.ceil(np.sqrt(v.size)), 5, 30))
    counts, edges = np.histogram(v, bins=bins)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    traces = [{"type": "bar", "orientation": "h", "y": centers.tolist(), "x": counts.tolist(),
               "width": width * 0.95, "marker": {"color": "rgba(37,99,235,0.45)"},
               "hovertemplate": "%{x} values near %{y}<extra></extra>", "name": "Values"}]
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    if capability and capability.get("sigma_overall"):
        mean, sd = capability["mean"], capability["sigma_overall"]
    if sd > 0:
        lo = min(edges[0], ch.lsl if ch.lsl is not None else edges[0], mean - 4 * sd)
        hi = max(edges[-1], ch.usl if ch.usl is not None else edges[-1], mean + 4 * sd)
        grid = np.linspace(lo, hi, 120)
        density = np.exp(-0.5 * ((grid - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        traces.append({"type": "scatter", "mode": "lines", "y": grid.tolist(),
                       "x": (density * v.size * width).tolist(), "name": "Normal fit",
                       "line": {"color": BLUE, "width": 2}, "hoverinfo": "skip"})
    shapes = []
    for value, label, dash in ((ch.usl, "USL", "dash"), (ch.lsl, "LSL", "dash"),
                               (ch.target, "Target", "dot")):
        if value is not None:
            shapes.append({"type": "line", "name": "spec", "xref": "paper", "x0": 0, "x1": 1,
                           "yref": "y", "y0": value, "y1": value,
                           "line": {"color": SPEC if label != "Target" else CENTER, "width": 1.2,
                                    "dash": dash},
                           "label": {"text": label, "textposition": "end",
                                     "font": {"size": 10}}})
    return {"data": traces, "layout": {
        "margin": {"l": 56, "r": 12, "t": 28, "b": 40}, "showlegend": False,
        "bargap": 0.02, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": {"title": {"text": "Count", "font": {"size": 11}},
                  "gridcolor": "rgba(128,128,128,0.15)"},
        "yaxis": {"gridcolor": "rgba(128,128,128,0.15)", "zeroline": False,
                  "tickformat": f".{ch.decimal_places}f"},
        "shapes": shapes, "meta": {"values": int(v.size)}}}


def stamp(moment: datetime, tz: ZoneInfo | None = None) -> str:
    """One instant as the chart's x text."""
    utc = moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return local_times(np.array([np.datetime64(utc, "us")]), tz)[0]
