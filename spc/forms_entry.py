"""The data-entry form: a subgroup typed by an operator, as the pipeline's SampleRequest.

The form checks only what the pipeline cannot: that it was made for this characteristic, that
the characteristic still takes what the form shows (its chart type and subgroup size), and that
a value far from the process (a likely typo) was confirmed. Everything else — numbers, counts,
sizes, text lengths — is judged by `spc.sample_input.clean`, so the messages are the API's.
"""

import math
import uuid

from django import forms

from spc.forms import ValuesField, add_errors
from spc.models import Characteristic, ChartType, Source
from spc.sample_input import MAX_KEY, MAX_TEXT, SampleInvalid, SampleRequest, clean

# A value this many process σ from the center of the active limits is taken for a typo until
# the operator confirms it (static/openspc/entry.js asks the same while typing).
IMPLAUSIBLE_SIGMAS = 10
VARIABLE_SPARE_BOXES = 2  # empty boxes after n for a characteristic of variable subgroup size
INDIVIDUAL = (ChartType.IMR, ChartType.EWMA, ChartType.CUSUM)
SIZED = (ChartType.P, ChartType.NP, ChartType.U)  # attribute charts that ask for the sample size
FORGED = ("This form was made for another characteristic, so nothing was recorded. Close it and "
          "open the entry form of the characteristic you measured.")


def new_key() -> str:
    return uuid.uuid4().hex


def boxes_for(ch: Characteristic) -> int:
    """How many value boxes the form shows."""
    if ch.chart_type in INDIVIDUAL and ch.subgroup_size == 1:
        return 1
    return ch.subgroup_size + (VARIABLE_SPARE_BOXES if ch.variable_subgroup_size else 0)


def shape_of(ch: Characteristic) -> str:
    """What the characteristic takes, in words: "4 values per subgroup", "a count of 50"."""
    if ch.is_attribute:
        if ch.chart_type in SIZED:
            return f"a count in samples of {ch.subgroup_size}"
        return "a count of defects"
    if ch.chart_type in INDIVIDUAL and ch.subgroup_size == 1:
        return "1 value per sample"
    spare = " (or a different number)" if ch.variable_subgroup_size else ""
    return f"{ch.subgroup_size} values per subgroup{spare}"


def number(ch: Characteristic, x: float) -> str:
    return f"{x:.{ch.decimal_places}f}"


def example(ch: Characteristic, center: float | None) -> str:
    """A number as the operator would type one for this characteristic."""
    for guess in (center, ch.target):
        if guess is not None:
            return number(ch, guess)
    if ch.usl is not None and ch.lsl is not None:
        return number(ch, (ch.usl + ch.lsl) / 2)
    return number(ch, 12.3456789)


class EntryForm(forms.Form):
    """One sample for `characteristic`. `center` and `sigma` (the active limit version's, for a
    variable chart) judge what is implausible; without them nothing is."""

    values = ValuesField(required=False, label="Values")
    count = forms.CharField(required=False, label="Count", strip=False, widget=forms.TextInput(
        attrs={"inputmode": "numeric", "autocomplete": "off"}))
    sample_size = forms.CharField(required=False, label="Sample size", strip=False,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                                "autocomplete": "off"}))
    batch = forms.CharField(required=False, strip=False, label="Batch / lot",
                            widget=forms.TextInput(attrs={"maxlength": MAX_TEXT["batch"]}))
    operator = forms.CharField(required=False, strip=False, label="Operator",
                               widget=forms.TextInput(attrs={"maxlength": MAX_TEXT["operator"]}))
    comment = forms.CharField(required=False, strip=False, label="Comment",
                              widget=forms.TextInput(attrs={"maxlength": MAX_TEXT["comment"]}))
    confirmed = forms.BooleanField(required=False, label="Record anyway: the values are right")
    # what the form was made for: refused when it no longer matches the characteristic
    characteristic = forms.CharField(required=False, widget=forms.HiddenInput)
    form_chart = forms.CharField(required=False, widget=forms.HiddenInput)
    form_n = forms.CharField(required=False, widget=forms.HiddenInput)
    key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, characteristic: Characteristic, center=None, sigma=None,
                 operator="", kept=None, **kwargs):
        kwargs.setdefault("auto_id", "entry-%s")
        super().__init__(*args, **kwargs)
        ch = self.ch = characteristic
        self.center, self.sigma = (center, sigma) if not ch.is_attribute else (None, None)
        self.kept = kept or {}
        self.stale = False
        self.implausible: list[str] = []
        if not self.is_bound:
            self.initial.update(self._initial(operator))
        self._fit_fields()

    def _initial(self, operator: str) -> dict:
        """A fresh form: what it was made for, a new key, the user's name — or what was typed
        into a form that went stale (`kept`)."""
        ch, kept = self.ch, self.kept
        initial = {"characteristic": ch.pk, "form_chart": ch.chart_type,
                   "form_n": ch.subgroup_size, "key": kept.get("key") or new_key(),
                   "operator": operator, "sample_size": ch.subgroup_size}
        initial.update({k: v for k, v in kept.items() if k in ("batch", "operator", "comment",
                                                               "count")})
        if ch.variable_subgroup_size and kept.get("sample_size"):
            initial["sample_size"] = kept["sample_size"]
        return initial

    def _fit_fields(self) -> None:
        """Values, or a count (with its sample size where the chart has one), marked for
        entry.js."""
        ch, fields = self.ch, self.fields
        if not ch.is_attribute:
            del fields["count"], fields["sample_size"]
            return
        del fields["values"]
        fields["count"].widget.attrs.update({"data-entry-count": "", "autofocus": True})
        if ch.chart_type not in SIZED:
            del fields["sample_size"]
            return
        fields["sample_size"].widget.attrs["data-entry-size"] = ""
        if not ch.variable_subgroup_size:
            fields["sample_size"].widget.attrs["readonly"] = True

    # --- what the template shows ----------------------------------------------------------

    def value_boxes(self) -> list[dict]:
        """Each value box: its number, the text in it, whether the server refused it."""
        if self.is_bound:
            texts = [str(v) for v in self.data.getlist("values")]
        else:
            texts = [str(v) for v in self.kept.get("values", [])]
        wanted = boxes_for(self.ch)
        texts = (texts + [""] * wanted)[:max(wanted, len(texts) if self.is_bound else 0)]
        refused = bool(self.is_bound and self.errors.get("values"))
        required = 0 if self.ch.variable_subgroup_size else wanted
        boxes = [{"at": i + 1, "text": t, "focus": False,
                  "bad": t.strip() in self.implausible or refused and (
                      not _is_number(t) if t.strip() else i < required)}
                 for i, t in enumerate(texts)]
        first = next((b for b in boxes if b["bad"]), None) or \
            next((b for b in boxes if not b["text"].strip()), boxes[0])
        first["focus"] = True
        return boxes

    @property
    def checks(self) -> dict:
        """What entry.js checks while typing (the data attributes of the form)."""
        ch = self.ch
        out = {"decimals": ch.decimal_places, "example": example(ch, self.center),
               "fraction": "true" if ch.chart_type in (ChartType.P, ChartType.NP) else "false",
               "sigmas": IMPLAUSIBLE_SIGMAS, "n": ch.subgroup_size,
               "variable": "true" if ch.variable_subgroup_size else "false"}
        if not ch.is_attribute:
            out.update(usl=ch.usl, lsl=ch.lsl, center=self.center, sigma=self.sigma)
            out.update({f"{name}-text": number(ch, limit) for name, limit in
                        (("usl", ch.usl), ("lsl", ch.lsl)) if limit is not None})
        return {k: repr(v) if isinstance(v, float) else str(v) for k, v in out.items()
                if v is not None}

    # --- validation -----------------------------------------------------------------------

    def clean(self):
        data = super().clean()
        self._check_made_for(data)
        if not self._typed(data):
            return data
        request = self._request(data)
        try:
            clean(self.ch, request)
        except SampleInvalid as exc:
            add_errors(self, exc.errors)
            return data
        if self._plausible(data):
            data["request"] = request
        return data

    def _check_made_for(self, data) -> None:
        """Refuse a form made for another characteristic, or for what this one took before."""
        ch = self.ch
        if str(data.get("characteristic") or "") != str(ch.pk):
            raise forms.ValidationError(FORGED, code="forged")
        if (data.get("form_chart") != ch.chart_type or str(data.get("form_n")) !=
                str(ch.subgroup_size) or not 0 < len(data.get("key") or "") <= MAX_KEY):
            self.stale = True
            raise forms.ValidationError(self.stale_message(data), code="stale")

    def _typed(self, data) -> bool:
        if not self.ch.is_attribute and not data.get("values"):
            self.add_error("values", "Enter the measured values.")
        elif self.ch.is_attribute and not (data.get("count") or "").strip():
            self.add_error("count", "Enter the count.")
        else:
            return True
        return False

    def _plausible(self, data) -> bool:
        """False (with the question on the values) for values far from the process that the
        operator has not confirmed."""
        self.implausible = self._implausible(data.get("values") or [])
        if not self.implausible or data.get("confirmed"):
            return True
        shown = ", ".join(self.implausible)
        self.add_error("values", (
            f"{shown} {'is' if len(self.implausible) == 1 else 'are'} more than "
            f"{IMPLAUSIBLE_SIGMAS}σ from the center {number(self.ch, self.center)} — a typo? "
            "Correct it, or tick “Record anyway”."))
        return False

    def stale_message(self, data) -> str:
        ch = self.ch
        if data.get("form_chart") == ch.chart_type and str(data.get("form_n")) == \
                str(ch.subgroup_size):
            return "This form was incomplete — it was reloaded. Check the values and record again."
        if data.get("form_chart") != ch.chart_type:
            return (f"This characteristic is now a {ch.get_chart_type_display()} chart and takes "
                    f"{shape_of(ch)} — the form was reloaded.")
        return f"This characteristic now takes {shape_of(ch)} — the form was reloaded."

    def _request(self, data) -> SampleRequest:
        ch = self.ch
        context = {name: data.get(name) or "" for name in ("batch", "operator", "comment")}
        if ch.is_attribute:
            size = data.get("sample_size") if ch.chart_type in SIZED else None
            return SampleRequest(count=data.get("count") or None, sample_size=size or None,
                                 source=Source.MANUAL, key=data["key"], **context)
        return SampleRequest(values=data.get("values") or None, source=Source.MANUAL,
                             key=data["key"], **context)

    def _implausible(self, values) -> list[str]:
        if self.center is None or not self.sigma:
            return []
        far = IMPLAUSIBLE_SIGMAS * self.sigma
        return [v for v in values if abs(float(v) - self.center) > far]

    # --- a stale form, made again --------------------------------------------------------

    def kept_values(self) -> dict:
        """What was typed, to fill a fresh form after the characteristic changed: values where
        they fit (the fresh form shows as many boxes as the characteristic takes now)."""
        data = self.data
        kept = {name: data.get(name, "") for name in ("batch", "operator", "comment", "count",
                                                      "sample_size")}
        texts = [t for t in data.getlist("values") if t.strip()] if hasattr(data, "getlist") else []
        kept["values"] = texts[:boxes_for(self.ch)]
        key = data.get("key") or ""
        kept["key"] = key if 0 < len(key) <= MAX_KEY else ""
        return kept


def _is_number(text: str) -> bool:
    try:
        return text.isascii() and math.isfinite(float(text.strip()))
    except ValueError:
        return False
