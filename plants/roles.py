"""The four plant roles and the actions each one may take.

Roles are cumulative: Operator < Supervisor < Engineer < Admin. Each action is a Django
permission on the Plant model, granted per plant through django-guardian object permissions.
"""

from django.db import models


class Role(models.IntegerChoices):
    OPERATOR = 10, "Operator"
    SUPERVISOR = 20, "Supervisor"
    ENGINEER = 30, "Engineer"
    ADMIN = 40, "Admin"


class Action(models.TextChoices):
    VIEW = "view_plant", "View"
    ENTER_DATA = "enter_data", "Enter data and annotate"
    EDIT = "edit_data", "Edit and exclude samples, acknowledge violations"
    CONFIGURE = "configure_plant", "Configure characteristics, limits, rules, tag mappings"
    ADMINISTER = "administer_plant", "Administer users, hierarchy and brokers"


# The least role that may take each action.
MINIMUM_ROLE = {
    Action.VIEW: Role.OPERATOR,
    Action.ENTER_DATA: Role.OPERATOR,
    Action.EDIT: Role.SUPERVISOR,
    Action.CONFIGURE: Role.ENGINEER,
    Action.ADMINISTER: Role.ADMIN,
}

# Custom permissions declared on Plant.Meta (view_plant is Django's default one).
CUSTOM_PERMISSIONS = [(a.value, a.label) for a in Action if a is not Action.VIEW]


def actions_for(role: Role) -> list[Action]:
    return [action for action, least in MINIMUM_ROLE.items() if role >= least]
