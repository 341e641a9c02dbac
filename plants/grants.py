"""Role grants: each plant has one group per role holding that role's object permissions.

A Membership row is the editable record of a user's role at a plant; saving or deleting it puts
the user into (or takes them out of) the plant's role group, and guardian's object permissions
on that group are what every check reads.
"""

from django.contrib.auth.models import Group
from django.db import transaction
from guardian.shortcuts import assign_perm

from plants.access import forget
from plants.models import Membership, Plant
from plants.roles import Role, actions_for


def group_name(plant_id: int, role: Role) -> str:
    return f"plant-{plant_id}-{Role(role).name.lower()}"


def role_group(plant: Plant, role: Role) -> Group:
    group, created = Group.objects.get_or_create(name=group_name(plant.pk, role))
    if created:
        for action in actions_for(Role(role)):
            assign_perm(f"plants.{action.value}", group, plant)
    return group


def ensure_role_groups(plant: Plant) -> None:
    for role in Role:
        role_group(plant, role)


def plant_groups(plant_id: int):
    return Group.objects.filter(name__in=[group_name(plant_id, role) for role in Role])


@transaction.atomic
def sync_membership(membership: Membership) -> None:
    """Make the user's group membership at this plant match the Membership row."""
    user = membership.user
    user.groups.remove(*plant_groups(membership.plant_id))
    user.groups.add(role_group(membership.plant, Role(membership.role)))


@transaction.atomic
def drop_membership(membership: Membership) -> None:
    membership.user.groups.remove(*plant_groups(membership.plant_id))


def grant_role(user, plant: Plant, role: Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, plant=plant, defaults={"role": role}
    )
    forget(user)
    return membership


def revoke_role(user, plant: Plant) -> None:
    for membership in Membership.objects.filter(user=user, plant=plant):
        membership.delete()
    forget(user)
