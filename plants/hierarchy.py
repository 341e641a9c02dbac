"""Creating, renaming, moving and deleting hierarchy nodes, and reading a plant's tree.

Every change is validated here (cycles, plant boundaries, levels, sibling names) so the pages,
the admin and the API refuse the same things with the same messages.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError

from plants.models import Level, Node, Plant


@dataclass
class TreeNode:
    node: Node
    children: list["TreeNode"] = field(default_factory=list)
    depth: int = 0


def _check_sibling_name(plant_id, parent_id, name, exclude_pk=None):
    clash = Node.objects.filter(plant_id=plant_id, parent_id=parent_id, name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        where = "at the top of the hierarchy" if parent_id is None else "under this parent"
        raise ValidationError({"name": f"A node named '{name}' already exists {where}."})


def _check_level(level, parent: Node | None):
    if parent is not None and level <= parent.level:
        raise ValidationError(
            {
                "level": f"A {Level(level).label} cannot sit under the {parent.get_level_display()} "
                f"'{parent.name}': a child must be at a lower level than its parent."
            }
        )


def _check_descendant_levels(node: Node, new_level: int):
    shallowest = Node.objects.filter(parent=node).order_by("level").first()
    if shallowest is not None and shallowest.level <= new_level:
        raise ValidationError(
            {"level": f"'{shallowest.name}' below this node would no longer be at a lower level."}
        )


@transaction.atomic
def create_node(plant: Plant, name: str, level: int, parent: Node | None = None) -> Node:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A node needs a name."})
    if parent is not None and parent.plant_id != plant.pk:
        raise ValidationError({"parent": "The parent belongs to another plant."})
    _check_level(level, parent)
    _check_sibling_name(plant.pk, parent.pk if parent else None, name)
    try:
        return Node.objects.create(plant=plant, parent=parent, name=name, level=level)
    except IntegrityError:
        raise ValidationError({"name": f"A node named '{name}' already exists here."}) from None


@transaction.atomic
def rename_node(node: Node, name: str) -> Node:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A node needs a name."})
    _check_sibling_name(node.plant_id, node.parent_id, name, exclude_pk=node.pk)
    node.name = name
    node.save(update_fields=["name"])
    return node


def ancestor_ids(node: Node) -> list[int]:
    """Ids from `node` up to its root, read with one query over the plant's parent links."""
    parents = dict(Node.objects.filter(plant_id=node.plant_id).values_list("pk", "parent_id"))
    chain, current = [], node.pk
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


@transaction.atomic
def move_node(node: Node, new_parent: Node | None) -> Node:
    """Re-parent `node` (None: to the top). Refuses cycles and moves to another plant."""
    if new_parent is not None:
        if new_parent.plant_id != node.plant_id:
            raise ValidationError({"parent": "A node cannot move to another plant."})
        if node.pk in ancestor_ids(new_parent):
            raise ValidationError(
                {"parent": f"'{new_parent.name}' is '{node.name}' itself or below it: "
                 "moving there would make a cycle."}
            )
        _check_level(node.level, new_parent)
    _check_sibling_name(
        node.plant_id, new_parent.pk if new_parent else None, node.name, exclude_pk=node.pk
    )
    node.parent = new_parent
    node.save(update_fields=["parent"])
    return node


@transaction.atomic
def change_level(node: Node, level: int) -> Node:
    _check_level(level, node.parent)
    _check_descendant_levels(node, level)
    node.level = level
    node.save(update_fields=["level"])
    return node


@transaction.atomic
def delete_node(node: Node) -> None:
    """Delete a leaf node. Refuses while it has children or anything else depends on it."""
    children = node.children.count()
    if children:
        raise ValidationError(
            f"'{node.name}' has {children} child node{'s' if children != 1 else ''}; "
            "move or delete them first."
        )
    try:
        node.delete()
    except ProtectedError as exc:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        raise ValidationError(
            f"'{node.name}' still has {', '.join(kinds)}; move or delete them first. "
            "Nothing was deleted."
        ) from None


def subtree_ids(node: Node) -> list[int]:
    """The ids of `node` and every node below it, from one query of the plant's nodes."""
    below: dict[int | None, list[int]] = {}
    for pk, parent_id in Node.objects.filter(plant_id=node.plant_id).values_list("pk", "parent_id"):
        below.setdefault(parent_id, []).append(pk)
    out, todo = [], [node.pk]
    while todo:
        pk = todo.pop()
        out.append(pk)
        todo.extend(below.get(pk, ()))
    return out


def children_of(plant: Plant, parent: Node | None):
    """The direct children of `parent` (None: the roots), each with its child count (nodes
    and characteristics below it)."""
    return (
        Node.objects.filter(plant=plant, parent=parent)
        .annotate(child_count=Count("children", distinct=True)
                  + Count("characteristics", distinct=True))
        .order_by("name")
    )


def level_counts(plant: Plant) -> list[dict]:
    """How many nodes the plant has at each ISA-95 level, top level first."""
    rows = Node.objects.filter(plant=plant).values("level").annotate(count=Count("pk"))
    return [{"label": Level(r["level"]).label, "count": r["count"]}
            for r in sorted(rows, key=lambda r: r["level"])]


def build_tree(plant: Plant) -> list[TreeNode]:
    """The whole tree of a plant from a single query, as nested TreeNodes in name order."""
    by_parent: dict[int | None, list[Node]] = {}
    for node in Node.objects.filter(plant=plant).order_by("name"):
        by_parent.setdefault(node.parent_id, []).append(node)

    def grow(parent_id, depth):
        return [
            TreeNode(node, grow(node.pk, depth + 1), depth)
            for node in by_parent.get(parent_id, [])
        ]

    return grow(None, 0)


def flatten(tree: list[TreeNode]) -> list[TreeNode]:
    out = []
    stack = list(reversed(tree))
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(reversed(item.children))
    return out
