"""Factories and the cast of users every permission test uses."""

from dataclasses import dataclass

import factory
from django.contrib.auth import get_user_model

from plants import grants
from plants.models import Level, Node, Plant
from plants.roles import Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class PlantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plant

    name = factory.Sequence(lambda n: f"Plant {n}")
    code = factory.Sequence(lambda n: f"P{n}")


class NodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Node

    plant = factory.SubFactory(PlantFactory)
    parent = None
    name = factory.Sequence(lambda n: f"Node {n}")
    level = Level.AREA


def user_with_role(plant, role, username=None):
    user = UserFactory(username=username) if username else UserFactory()
    grants.grant_role(user, plant, role)
    return user


@dataclass
class Cast:
    plant: Plant
    other_plant: Plant
    operator: object
    supervisor: object
    engineer: object
    admin: object
    outsider: object
    superuser: object
    no_role: object

    @classmethod
    def build(cls):
        plant = PlantFactory(name="Home Plant", code="HOME")
        other = PlantFactory(name="Other Plant", code="OTHER")
        return cls(
            plant=plant,
            other_plant=other,
            operator=user_with_role(plant, Role.OPERATOR, "operator"),
            supervisor=user_with_role(plant, Role.SUPERVISOR, "supervisor"),
            engineer=user_with_role(plant, Role.ENGINEER, "engineer"),
            admin=user_with_role(plant, Role.ADMIN, "admin"),
            outsider=user_with_role(other, Role.ADMIN, "outsider"),
            superuser=get_user_model().objects.create_superuser("root", "", PASSWORD),
            no_role=UserFactory(username="nobody"),
        )

    def user(self, name):
        return getattr(self, name)
