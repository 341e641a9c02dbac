"""The permission matrix every endpoint joins: who may do what, at which plant.

Later issues add their endpoints to ENDPOINTS; the matrix test then checks each one for every
role at the user's own plant (allowed or 403), at another plant (404) and anonymously (login).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from plants.roles import MINIMUM_ROLE, Action, Role

ROLES = ["operator", "supervisor", "engineer", "admin"]
ROLE_OF = {
    "operator": Role.OPERATOR,
    "supervisor": Role.SUPERVISOR,
    "engineer": Role.ENGINEER,
    "admin": Role.ADMIN,
}


def allowed(role_name: str, action: Action) -> bool:
    return ROLE_OF[role_name] >= MINIMUM_ROLE[action]


@dataclass
class Endpoint:
    """One URL and method. `url` builds the path for a plant from the objects `setup` made."""

    name: str
    method: str
    action: Action
    url: Callable
    setup: Callable = lambda plant: {}
    data: Callable = lambda objects: {}
    ok_status: int = 200
    htmx: bool = False
    extra: dict = field(default_factory=dict)


ENDPOINTS: list[Endpoint] = []


def register(*endpoints: Endpoint) -> None:
    ENDPOINTS.extend(endpoints)
