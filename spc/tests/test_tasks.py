from datetime import timedelta

import pytest
from django.utils import timezone

from spc.models import ControlLimits
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tasks import recalculate_limits
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db


def test_the_recalculation_task_makes_a_new_version_from_ids(cast):
    ch = CharacteristicFactory(node__plant=cast.plant)
    t0 = timezone.now() - timedelta(hours=1)
    record_samples(ch, [SampleRequest(values=[10 + (i % 3) * 0.1], timestamp=t0 + timedelta(minutes=i))
                        for i in range(30)])
    version_id = recalculate_limits.delay(ch.pk, cast.engineer.pk, "nightly", last_n=25).get()
    version = ControlLimits.objects.get(pk=version_id)
    assert (version.sample_count, version.created_by, version.reason) == (25, cast.engineer, "nightly")


def test_the_recalculation_task_skips_a_missing_characteristic_or_bad_selection(cast):
    assert recalculate_limits.delay(999_999, None, "x").get() is None
    ch = CharacteristicFactory(node__plant=cast.plant)
    assert recalculate_limits.delay(ch.pk, None, "no samples yet").get() is None
    assert not ControlLimits.objects.exists()


def test_trial_limits_freeze_automatically_after_n_subgroups():
    ch = CharacteristicFactory(auto_freeze_after=25)
    t0 = timezone.now() - timedelta(hours=1)
    values = [10.0, 10.4, 9.6, 10.2, 9.8] * 6
    record_samples(ch, [SampleRequest(values=[v], timestamp=t0 + timedelta(minutes=i))
                        for i, v in enumerate(values[:24])])
    assert not ControlLimits.objects.exists()
    record_samples(ch, [SampleRequest(values=[values[24]], timestamp=t0 + timedelta(minutes=24))])
    version = ControlLimits.objects.get()
    assert version.sample_count == 25 and "automatically after 25" in version.reason
    assert version.effective_from == t0
