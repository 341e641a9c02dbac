from django import template

from plants import hierarchy

register = template.Library()


@register.inclusion_tag("plants/tree.html#tree-level")
def plant_tree(plant):
    """The top level of a plant's hierarchy; deeper levels load lazily when opened."""
    return {"plant": plant, "nodes": hierarchy.children_of(plant, None), "parent": None}
