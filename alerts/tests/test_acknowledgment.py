import pytest

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import limit_versions
from spc.models import ReasonCode, Violation
from spc.pipeline import record_sample
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory


def _violation(plant):
    ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE))
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    return record_sample(ch, SampleRequest(values=[30.0])).violations[0]


def test_new_plants_get_the_default_reason_codes(cast):
    names = set(ReasonCode.objects.filter(plant=cast.plant).values_list("name", flat=True))
    assert {"Tool change", "Raw material", "Measurement error", "False alarm"} <= names


def test_acknowledging_records_who_when_why(cast):
    violation = _violation(cast.plant)
    code = ReasonCode.objects.get(plant=cast.plant, name="Raw material")
    [done] = acknowledge([violation], cast.supervisor, code.pk, "new coil")
    assert (done.acknowledged_by, done.reason_code, done.comment) == (cast.supervisor, code, "new coil")
    assert done.acknowledged_at is not None


def test_violations_of_two_plants_are_not_acknowledged_together(cast):
    ours, theirs = _violation(cast.plant), _violation(cast.other_plant)
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool change")
    with pytest.raises(AcknowledgmentInvalid, match="one plant at a time"):
        acknowledge([ours, theirs], cast.superuser, code.pk)
    assert not Violation.objects.filter(acknowledged_at__isnull=False).exists()


def test_a_superseded_violation_cannot_be_acknowledged(cast):
    violation = _violation(cast.plant)
    set_excluded(violation.sample, True, "wrong part", None)
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool change")
    with pytest.raises(AcknowledgmentInvalid, match="superseded"):
        acknowledge([Violation.objects.get(pk=violation.pk)], cast.supervisor, code.pk)


def test_an_inactive_reason_code_is_refused(cast):
    violation = _violation(cast.plant)
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool change")
    code.active = False
    code.save()
    with pytest.raises(AcknowledgmentInvalid, match="active reason code"):
        acknowledge([violation], cast.supervisor, code.pk)


def test_acknowledging_tells_after_commit_who_acknowledged_what_and_why(
        cast, django_capture_on_commit_callbacks):
    from alerts import events

    heard = []

    def listen(sender, event, **kwargs):
        heard.append(event)

    events.violations_acknowledged.connect(listen)
    try:
        violation = _violation(cast.plant)
        code = ReasonCode.objects.get(plant=cast.plant, name="Tool wear")
        with django_capture_on_commit_callbacks(execute=True):
            acknowledge([violation], cast.supervisor, code.pk, "insert changed")
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(AcknowledgmentInvalid):
            acknowledge([violation], cast.supervisor, code.pk, "again")  # refused: no event
    finally:
        events.violations_acknowledged.disconnect(listen)
    [event] = heard
    assert event.violation_ids == (violation.pk,) and event.sample_ids == (violation.sample_id,)
    assert (event.acknowledged_by, event.reason_code, event.comment) == (
        cast.supervisor.pk, "Tool wear", "insert changed")
