"""The one way plant-owned data is read: filtered to the user's plants, fetched with a permission.

Every view and API endpoint goes through `scope` (lists) and `get_for_user` (one object), so a
forgotten check cannot leak another plant's data. Objects of a plant where the user holds no role
answer 404; a role too low for the action answers 403. Only superusers are global.

The plants a user may act on are read once per user object — that is, once per request, since
authentication loads the user afresh for each — in one query for every action at once, and kept
on the user as a Python set. Queries then filter on a list of ids instead of joining the
permission tables each time (that join cost ~3 ms to compile and plan on every request).
Granting or revoking a role forgets the sets of the user object it was given (plants.signals).
"""

from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from openspc import plain_sql
from plants.models import Plant, PlantGroupObjectPermission
from plants.roles import Action, Role

_CACHE = "_openspc_plant_ids"
_READ_AHEAD = "_openspc_read_ahead"  # {(model, pk): [the object] or []}, read with the user
_BY_PK = "WHERE {} = %s"
# The plant permissions a user holds through the plant role groups (guardian's direct-FK group
# table, whose permissions are all the Plant's), as plain SQL: the ORM spent ~0.5 ms compiling
# this join on every request.
_ROLES = (
    f"{User.groups.through._meta.db_table} ug "
    f"JOIN {PlantGroupObjectPermission._meta.db_table} gop ON gop.group_id = ug.group_id "
    f"JOIN {Permission._meta.db_table} p ON p.id = gop.permission_id"
)
_PERMITTED_SQL = f"SELECT p.codename, gop.content_object_id FROM {_ROLES} WHERE ug.user_id = %s"
_USER_WITH_ROLES_SQL = (
    f"SELECT {plain_sql.columns(User, 'u')}, p.codename, gop.content_object_id "
    f"FROM {User._meta.db_table} u LEFT JOIN ({_ROLES}) ON ug.user_id = u.id {{where}}"
)


def _is_global(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def _by_action(user) -> dict[str, frozenset[int]]:
    cached = getattr(user, _CACHE, None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(_PERMITTED_SQL, [user.pk])
            cached = _remember(user, cursor.fetchall())
    return cached


def _remember(user, pairs) -> dict[str, frozenset[int]]:
    """Keep on `user` the plants of each action, from (codename, plant id) pairs."""
    by_action: dict[str, set[int]] = {a.value: set() for a in Action}
    for codename, plant_id in pairs:
        if codename in by_action:
            by_action[codename].add(plant_id)
    cached = {k: frozenset(v) for k, v in by_action.items()}
    setattr(user, _CACHE, cached)
    return cached


def user_with_roles(where: str, params, with_object=None):
    """The active-or-not user chosen by `where` (on the user table, aliased `u`), with the plants
    they may act on already read — one query for both instead of two, on every API request
    authenticated by token. None when no user matches.

    `with_object`, a (model, pk) pair, is a plant-owned object the request is about to fetch
    with `get_by_pk`: it is read in the same round trip (PostgreSQL) and kept on the user for
    that call, which still checks the user's plants before handing it out."""
    statements = [(_USER_WITH_ROLES_SQL.format(where=where), params)]
    model, pk = with_object if with_object else (None, None)
    pk = _valid_pk(pk) if model is not None else None
    if pk is not None:
        statements.append((plain_sql.select(model, _BY_PK.format(model._meta.pk.column)), [pk]))
    results = plain_sql.together(statements)
    if not results[0]:
        return None
    user = plain_sql.instance(User, results[0][0])
    _remember(user, [row[-2:] for row in results[0]])
    if pk is not None:
        setattr(user, _READ_AHEAD, {(model, pk): [plain_sql.instance(model, r) for r in results[1]]})
    return user


def forget(user) -> None:
    """Drop the plants remembered on this user object (after its roles changed)."""
    if user is not None and hasattr(user, _CACHE):
        delattr(user, _CACHE)


def permitted_plant_ids(user, action: Action = Action.VIEW):
    """The ids of the plants where `user` may take `action`: a list, or for a superuser a
    subquery of every plant."""
    if not (user.is_authenticated and user.is_active):
        return []
    if _is_global(user):
        return Plant.objects.values("pk")
    return sorted(_by_action(user)[Action(action).value])


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
    if not (user.is_authenticated and user.is_active):
        return False
    return _is_global(user) or plant_id in _by_action(user)[Action(action).value]


def get_for_user(queryset, user, action: Action = Action.VIEW, plant_field="plant", **lookup):
    """One object by `lookup`: 404 outside the user's plants, 403 when the role is too low.

    One query for the object (plus, once per request, the user's plants).
    """
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    obj = scope(queryset, user, Action.VIEW, plant_field).filter(**lookup).first()
    if obj is None:
        raise Http404("No such object.")
    if action != Action.VIEW and not _is_global(user):
        if plant_field is None or "__" not in plant_field:
            allowed = may(user, obj.pk if plant_field is None else getattr(obj, f"{plant_field}_id"),
                          action)
        else:
            allowed = scope(queryset, user, action, plant_field).filter(pk=obj.pk).exists()
        if not allowed:
            raise _refused(action)
    return obj


def get_by_pk(model, user, pk, action: Action = Action.VIEW):
    """`get_for_user(model, user, action, pk=pk)` for a model with a `plant` foreign key, as
    one plain SELECT by primary key (~0.1 ms where the ORM took ~0.6 ms) — or none when
    authentication read it already (`user_with_roles`): the hot path of machines posting
    samples. The plant is checked against the user's plants after."""
    pk = _valid_pk(pk)
    if pk is None:
        raise Http404("No such object.")
    found = getattr(user, _READ_AHEAD, {}).pop((model, pk), None)
    if found is None:
        found = plain_sql.fetch(model, _BY_PK.format(model._meta.pk.column), [pk])
    if not found or not may(user, found[0].plant_id, Action.VIEW):
        raise Http404("No such object.")
    require(user, found[0].plant_id, action)
    return found[0]


def _valid_pk(pk) -> int | None:
    """`pk` as an id that can exist (a positive 64-bit integer), else None."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def require(user, plant_id: int, action: Action) -> None:
    """403 unless `user` may take `action` at the plant."""
    if not may(user, plant_id, action):
        raise _refused(action)


def _refused(action: Action) -> PermissionDenied:
    return PermissionDenied(f"Your role at this plant does not allow: {Action(action).label}.")


def get_plant(user, code: str, action: Action = Action.VIEW) -> Plant:
    return get_for_user(Plant, user, action, plant_field=None, code=code.upper())


def role_for(user, plant: Plant) -> Role | None:
    membership = plant.memberships.filter(user=user).first() if user.is_authenticated else None
    return Role(membership.role) if membership else None
