import pytest
from django.core.exceptions import ValidationError

from plants import hierarchy
from plants.models import Level, Node
from plants.tests.factories import NodeFactory, PlantFactory


@pytest.fixture
def tree(db):
    """Site > Area > Line > Unit in one plant."""
    plant = PlantFactory()
    site = hierarchy.create_node(plant, "Works", Level.SITE)
    area = hierarchy.create_node(plant, "Machining", Level.AREA, site)
    line = hierarchy.create_node(plant, "Line 1", Level.LINE, area)
    unit = hierarchy.create_node(plant, "Lathe", Level.UNIT, line)
    return plant, site, area, line, unit


def test_a_node_can_be_created_renamed_and_moved(tree):
    plant, site, area, line, unit = tree
    other_area = hierarchy.create_node(plant, "Assembly", Level.AREA, site)
    hierarchy.rename_node(line, "Line 1A")
    hierarchy.move_node(line, other_area)
    line.refresh_from_db()
    assert (line.name, line.parent) == ("Line 1A", other_area)


def test_moving_a_node_under_its_own_descendant_is_refused(tree):
    plant, site, area, line, unit = tree
    with pytest.raises(ValidationError, match="cycle"):
        hierarchy.move_node(area, unit)
    with pytest.raises(ValidationError, match="cycle"):
        hierarchy.move_node(area, area)
    area.refresh_from_db()
    assert area.parent == site


def test_a_node_cannot_move_to_another_plant(tree):
    plant, site, area, line, unit = tree
    foreign = NodeFactory(level=Level.SITE)
    with pytest.raises(ValidationError, match="another plant"):
        hierarchy.move_node(line, foreign)
    line.refresh_from_db()
    assert line.parent == area and line.plant == plant


def test_a_child_must_sit_at_a_lower_level_than_its_parent(tree):
    plant, site, area, line, unit = tree
    with pytest.raises(ValidationError, match="lower level"):
        hierarchy.create_node(plant, "Odd", Level.AREA, line)
    with pytest.raises(ValidationError, match="lower level"):
        hierarchy.move_node(area, hierarchy.create_node(plant, "Assembly", Level.AREA, site))


def test_sibling_names_are_unique_ignoring_case(tree):
    plant, site, area, line, unit = tree
    with pytest.raises(ValidationError, match="already exists"):
        hierarchy.create_node(plant, "line 1", Level.LINE, area)
    # The same name under another parent is fine.
    other = hierarchy.create_node(plant, "Assembly", Level.AREA, site)
    hierarchy.create_node(plant, "Line 1", Level.LINE, other)


def test_deleting_a_node_with_children_is_refused_and_deletes_nothing(tree):
    plant, site, area, line, unit = tree
    with pytest.raises(ValidationError, match="has 1 child node; move or delete them first"):
        hierarchy.delete_node(line)
    assert Node.objects.filter(plant=plant).count() == 4


def test_a_leaf_node_can_be_deleted(tree):
    plant, site, area, line, unit = tree
    hierarchy.delete_node(unit)
    assert not Node.objects.filter(pk=unit.pk).exists()


def test_a_parent_from_another_plant_is_refused_on_create(tree):
    plant, *_ = tree
    foreign = NodeFactory(level=Level.SITE)
    with pytest.raises(ValidationError, match="another plant"):
        hierarchy.create_node(plant, "X", Level.AREA, foreign)


def _big_tree(plant, count=1000):
    """count nodes: 10 areas × 9 lines × 10 units + the areas and lines themselves, roughly."""
    areas = Node.objects.bulk_create(
        [Node(plant=plant, name=f"Area {i}", level=Level.AREA) for i in range(10)]
    )
    lines = Node.objects.bulk_create(
        [Node(plant=plant, parent=a, name=f"Line {j}", level=Level.LINE)
         for a in areas for j in range(9)]
    )
    units = Node.objects.bulk_create(
        [Node(plant=plant, parent=line, name=f"Unit {k}", level=Level.UNIT)
         for line in lines for k in range(10)]
    )
    assert len(areas) + len(lines) + len(units) == count
    return areas, lines


def test_the_whole_tree_of_1000_nodes_is_read_in_one_query(db, django_assert_num_queries):
    plant = PlantFactory()
    _big_tree(plant)
    with django_assert_num_queries(1):
        rows = hierarchy.flatten(hierarchy.build_tree(plant))
    assert len(rows) == 1000
    assert [r.depth for r in rows[:3]] == [0, 1, 2]


def test_the_hierarchy_page_of_1000_nodes_takes_a_bounded_number_of_queries(
    client, cast, django_assert_max_num_queries
):
    _big_tree(cast.plant)
    client.force_login(cast.admin)
    with django_assert_max_num_queries(12):
        response = client.get(f"/p/{cast.plant.code}/hierarchy/")
    assert response.status_code == 200
    assert response.content.count(b"<tr data-node-id") == 1000


def test_the_tree_panel_loads_children_lazily_in_bounded_queries(
    client, cast, django_assert_max_num_queries
):
    areas, lines = _big_tree(cast.plant)
    client.force_login(cast.operator)
    # the plant's home is the operator dashboard: its cards, the scope's nodes and the top bar's
    # badges cost a fixed number of queries of their own, whatever the tree's size
    with django_assert_max_num_queries(16):
        home = client.get(f"/p/{cast.plant.code}/")
    assert home.content.count(b'class="tree-item"') == 10  # only the roots
    with django_assert_max_num_queries(12):
        children = client.get(f"/p/{cast.plant.code}/nodes/{areas[0].pk}/children/")
    assert children.content.count(b'class="tree-item"') == 9
    assert b"<html" not in children.content


def test_the_hierarchy_page_shows_why_a_delete_was_refused(client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    NodeFactory(plant=cast.plant, parent=area, name="Line", level=Level.LINE)
    client.force_login(cast.admin)
    response = client.post(f"/p/{cast.plant.code}/hierarchy/{area.pk}/delete/")
    assert response.status_code == 204
    assert "has 1 child node" in response["HX-Trigger"]
    assert Node.objects.filter(pk=area.pk).exists()


def test_an_invalid_node_form_is_shown_again_with_its_error(client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    client.force_login(cast.admin)
    response = client.post(f"/p/{cast.plant.code}/hierarchy/new/",
                           {"name": "Bad", "level": Level.SITE, "parent": area.pk})
    assert response.status_code == 200
    assert b"lower level than its parent" in response.content
    assert b'value="Bad"' in response.content


def test_moving_through_the_page_refuses_a_cycle(client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    line = NodeFactory(plant=cast.plant, parent=area, name="Line", level=Level.LINE)
    client.force_login(cast.admin)
    response = client.post(f"/p/{cast.plant.code}/hierarchy/{area.pk}/move/", {"parent": line.pk})
    assert response.status_code == 200
    assert b"cycle" in response.content or b"lower level" in response.content
    area.refresh_from_db()
    assert area.parent is None


def test_a_move_target_from_another_plant_is_not_a_valid_choice(client, cast):
    line = NodeFactory(plant=cast.plant, name="Line", level=Level.LINE)
    foreign = NodeFactory(plant=cast.other_plant, name="Foreign", level=Level.AREA)
    client.force_login(cast.admin)
    response = client.post(f"/p/{cast.plant.code}/hierarchy/{line.pk}/move/",
                           {"parent": foreign.pk})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    line.refresh_from_db()
    assert line.parent is None
