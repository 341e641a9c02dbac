from functools import wraps

from django.contrib.auth.decorators import login_required

from plants.access import get_plant
from plants.roles import Action


def plant_view(action: Action = Action.VIEW):
    """Resolve the `code` URL argument to a Plant the user may take `action` at (404/403)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, code, *args, **kwargs):
            plant = get_plant(request.user, code, action)
            request.session["plant_code"] = plant.code
            return view(request, plant, *args, **kwargs)

        return wrapper

    return decorate
