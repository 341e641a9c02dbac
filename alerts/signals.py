from django.db.models.signals import post_save
from django.dispatch import receiver

from plants.models import Plant
from spc.models import DEFAULT_REASON_CODES, ReasonCode


@receiver(post_save, sender=Plant)
def give_new_plants_the_default_reason_codes(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        ReasonCode.objects.bulk_create(
            [ReasonCode(plant=instance, name=name) for name in DEFAULT_REASON_CODES])
