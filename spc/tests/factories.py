import factory

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc.models import Characteristic, ChartType


class CharacteristicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Characteristic

    node = factory.SubFactory(NodeFactory, level=Level.LINE)
    plant = factory.SelfAttribute("node.plant")
    name = factory.Sequence(lambda n: f"Diameter {n}")
    unit = "mm"
    chart_type = ChartType.IMR
    subgroup_size = 1
