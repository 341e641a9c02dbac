"""The demo plants, hierarchy and one user per role, for trying OpenSPC out."""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from plants import grants
from plants.models import Level, Node, Plant
from plants.roles import Role

DEMO_TREE = {
    ("Hamburg Works", Level.SITE): {
        ("Machining", Level.AREA): {
            ("Line 1 — Pistons", Level.LINE): {
                ("CNC Lathe 101", Level.UNIT): {},
                ("CNC Lathe 102", Level.UNIT): {},
            },
            ("Line 2 — Rings", Level.LINE): {("Grinder 201", Level.UNIT): {}},
        },
        ("Assembly", Level.AREA): {
            ("Line 3 — Engines", Level.LINE): {("Torque Cell 301", Level.CELL): {}},
        },
        ("Filling", Level.AREA): {("Line 4 — Juice", Level.LINE): {}},
    }
}

SECOND_TREE = {("East Plant", Level.SITE): {("Packaging", Level.AREA): {}}}

# username → (role at DEMO, role at EAST or None)
DEMO_USERS = {
    "operator": (Role.OPERATOR, None),
    "supervisor": (Role.SUPERVISOR, None),
    "engineer": (Role.ENGINEER, Role.OPERATOR),
    "admin": (Role.ADMIN, Role.ADMIN),
}


def _grow(plant, tree, parent=None):
    for key, children in tree.items():
        name, level = key
        node, _ = Node.objects.get_or_create(
            plant=plant, parent=parent, name=name, defaults={"level": level}
        )
        _grow(plant, children, node)


@transaction.atomic
def load_demo() -> dict[str, str]:
    """Create (or refresh) the demo plants and users; returns username → new password."""
    demo, _ = Plant.objects.get_or_create(code="DEMO", defaults={"name": "Demo Plant"})
    east, _ = Plant.objects.get_or_create(code="EAST", defaults={"name": "East Plant"})
    _grow(demo, DEMO_TREE)
    _grow(east, SECOND_TREE)
    User = get_user_model()
    passwords = {}
    for username, (demo_role, east_role) in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(username=f"demo-{username}")
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.is_staff = username == "admin"
        user.save()
        grants.grant_role(user, demo, demo_role)
        if east_role:
            grants.grant_role(user, east, east_role)
        else:
            grants.revoke_role(user, east)
        passwords[user.username] = password
    return passwords
