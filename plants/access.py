"""The one way plant-owned data is read: filtered to the user's plants, fetched with a permission.

Every view and API endpoint goes through `scope` (lists) and `get_for_user` (one object), so a
forgotten check cannot leak another plant's data. Objects of a plant where the user holds no role
answer 404; a role too low for the action answers 403. Only superusers are global.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from plants.models import Plant, PlantGroupObjectPermission
from plants.roles import Action, Role


def _is_global(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def permitted_plant_ids(user, action: Action = Action.VIEW) -> QuerySet:
    """A subquery of the ids of the plants where `user` may take `action`."""
    if not (user.is_authenticated and user.is_active):
        return Plant.objects.none().values("pk")
    if _is_global(user):
        return Plant.objects.values("pk")
    return PlantGroupObjectPermission.objects.filter(
        group__user=user,
        permission__codename=Action(action).value,
        permission__content_type__app_label="plants",
    ).values("content_object_id")


def plants_for(user, action: Action = Action.VIEW) -> QuerySet:
    return Plant.objects.filter(pk__in=permitted_plant_ids(user, action))


def scope(queryset: QuerySet, user, action: Action = Action.VIEW, plant_field="plant"):
    """Rows of `queryset` that belong to plants where `user` may take `action`.

    `plant_field` is the lookup path from the row to its plant (e.g. "node__plant");
    pass None when the queryset holds plants themselves.
    """
    if _is_global(user):
        return queryset
    field = "pk" if plant_field is None else plant_field
    return queryset.filter(**{f"{field}__in": permitted_plant_ids(user, action)})


def may(user, plant_id: int, action: Action) -> bool:
    return _is_global(user) or plants_for(user, action).filter(pk=plant_id).exists()


def get_for_user(queryset, user, action: Action = Action.VIEW, plant_field="plant", **lookup):
    """One object by `lookup`: 404 outside the user's plants, 403 when the role is too low.

    The allowed case is one query; telling 403 from 404 costs a second one only on refusal.
    """
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    obj = scope(queryset, user, action, plant_field).filter(**lookup).first()
    if obj is not None:
        return obj
    if action != Action.VIEW and scope(queryset, user, Action.VIEW, plant_field).filter(
            **lookup).exists():
        raise PermissionDenied(f"Your role at this plant does not allow: {Action(action).label}.")
    raise Http404("No such object.")


def get_plant(user, code: str, action: Action = Action.VIEW) -> Plant:
    return get_for_user(Plant, user, action, plant_field=None, code=code.upper())


def role_for(user, plant: Plant) -> Role | None:
    membership = plant.memberships.filter(user=user).first() if user.is_authenticated else None
    return Role(membership.role) if membership else None
