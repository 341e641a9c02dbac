"""`{% load data_entry %}`: whether the user may enter samples at a plant (Operator and above),
for pages that offer the data-entry dialog (spc/templates/spc/entry.html#entry-dialog)."""

from django import template

from plants.access import may
from plants.roles import Action

register = template.Library()


@register.filter
def may_enter_data(user, plant) -> bool:
    """`{% if request.user|may_enter_data:plant %}` (a Plant or its id)."""
    return may(user, getattr(plant, "pk", plant), Action.ENTER_DATA)
