"""Forms of the spc pages. Each checks only the shape of its input; the domain functions
(spc.sample_input, spc.sample_edits, spc.annotations, alerts.acknowledgment) judge the content,
so a form says exactly what the API and the pipeline say."""

from django import forms

from spc.annotations import MAX_TEXT
from spc.models import ReasonCode
from spc.sample_input import SampleInvalid, SampleRequest, clean

LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends
REASON_REQUIRED = "Say why (the reason is kept with the sample's history)."


def add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """Domain errors ({field: [messages]}) onto the form: on the field of that name, or on the
    form as a whole."""
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, messages)


class _InspectorForm(forms.Form):
    """A form of the inspector: its ids carry a prefix of their own, as several forms with a
    `reason` share the page."""

    id_prefix = "inspector"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class InspectorAcknowledgeForm(_InspectorForm):
    """Acknowledge the violations of a sample that the inspector showed."""

    id_prefix = "ack"

    violations = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.MultipleHiddenInput,
        error_messages={"required": "There is nothing to acknowledge.",
                        "invalid_choice": "%(value)s is not a violation of this sample.",
                        "invalid_pk_value": "%(pk)s is not a violation of this sample."})
    reason_code = forms.ModelChoiceField(
        queryset=None, label="Reason", empty_label="Choose a reason…",
        error_messages={"required": "Choose the reason for the out-of-control event.",
                        "invalid_choice": "Choose one of the plant's active reason codes."})
    comment = forms.CharField(required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, sample, plant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["violations"].queryset = sample.violations.all()
        self.fields["reason_code"].queryset = ReasonCode.objects.filter(plant=plant, active=True)


class _ReasonForm(_InspectorForm):
    reason = forms.CharField(max_length=2000, error_messages={"required": REASON_REQUIRED})


class InspectorExcludeForm(_ReasonForm):
    """Exclude a sample from limits and rules."""

    id_prefix = "exclude"


class InspectorRestoreForm(_ReasonForm):
    """Bring an excluded sample back."""

    id_prefix = "restore"


class ValuesInput(forms.Widget):
    """One text box per measured value, all posted under the same name."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)


class ValuesField(forms.Field):
    """The measured values as typed, blank boxes left out; the pipeline judges the rest."""

    widget = ValuesInput

    def to_python(self, value):
        if isinstance(value, str):
            value = [value]
        return [str(v).strip() for v in value or () if str(v).strip()]


class InspectorCorrectForm(_ReasonForm):
    """Correct a sample's values (or its count), validated exactly as the pipeline validates a
    new sample (`spc.sample_input.clean`)."""

    id_prefix = "correct"

    values = ValuesField(required=False, label="Values")
    count = forms.CharField(required=False, label="Count",
                            widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    sample_size = forms.CharField(required=False, label="Sample size",
                                  widget=forms.TextInput(attrs={"inputmode": "numeric"}))

    def __init__(self, *args, characteristic, sample, values=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.characteristic, self.sample, self.stored = characteristic, sample, list(values)
        if characteristic.is_attribute:
            del self.fields["values"]
            self.initial.setdefault("count", sample.count)
            self.initial.setdefault("sample_size", sample.n)
        else:
            del self.fields["count"], self.fields["sample_size"]

    def value_boxes(self) -> list[str]:
        """The text of each value box: as posted, or the stored values; a variable subgroup
        size gets two empty boxes more."""
        if self.is_bound:
            boxes = [str(v) for v in self.data.getlist("values")]
        else:
            boxes = [repr(v) for v in self.stored]
        if self.characteristic.variable_subgroup_size:
            boxes += ["", ""]
        return boxes or [""]

    def clean(self):
        data = super().clean()
        ch = self.characteristic
        if ch.is_attribute:
            size = data.get("sample_size") or None
            request = SampleRequest(count=data.get("count") or None, sample_size=size)
        else:
            values = data.get("values") or []
            if not values:
                self.add_error("values", "Enter the measured values.")
                return data
            request = SampleRequest(values=values)
        request.timestamp = self.sample.timestamp
        try:
            clean(ch, request)
        except SampleInvalid as exc:
            add_errors(self, exc.errors)
        data["request"] = request
        return data


class AnnotationForm(_InspectorForm):
    """A note at one sample, or over a period (start and end, in the plant's time zone)."""

    id_prefix = "note"

    text = forms.CharField(max_length=MAX_TEXT, label="New note",
                           widget=forms.Textarea(attrs={"rows": 2}),
                           error_messages={"required": "Write the note."})
    sample = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    start = forms.DateTimeField(required=False, label="From",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL))
    end = forms.DateTimeField(required=False, label="To",
                              widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL))

    def clean(self):
        data = super().clean()
        if data.get("sample") is None and not self.errors:
            if data.get("start") is None:
                self.add_error("start", "Give the period's start.")
            if data.get("end") is None:
                self.add_error("end", "Give the period's end.")
        return data
