"""Channel-layer group names of the live channel."""


def plant_group(plant_id: int) -> str:
    """Every page of the plant: toasts, acknowledgments, htmx fragments."""
    return f"live.plant.{int(plant_id)}"


def char_group(characteristic_id: int) -> str:
    """The pages that draw the characteristic: new points, refreshes."""
    return f"live.char.{int(characteristic_id)}"
