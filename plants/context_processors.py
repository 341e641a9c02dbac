from plants.access import plants_for


def plant_shell(request):
    """The plants for the top-bar switcher; lazy so pages without the shell pay nothing."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"my_plants": lambda: list(plants_for(user).only("name", "code"))}
