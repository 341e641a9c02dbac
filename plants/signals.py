from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from plants import grants
from plants.access import forget
from plants.models import Membership, Plant


@receiver(post_save, sender=Plant)
def create_role_groups(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        grants.ensure_role_groups(instance)


@receiver(post_delete, sender=Plant)
def delete_role_groups(sender, instance, **kwargs):
    grants.plant_groups(instance.pk).delete()


@receiver(post_save, sender=Membership)
def membership_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        grants.sync_membership(instance)
        _forget_roles(instance)


@receiver(post_delete, sender=Membership)
def membership_deleted(sender, instance, **kwargs):
    grants.drop_membership(instance)
    _forget_roles(instance)


def _forget_roles(membership):
    """The user object the membership holds (if loaded) must read its plants again."""
    if Membership.user.is_cached(membership):
        forget(membership.user)
