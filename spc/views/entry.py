"""Data entry: /p/<plant>/c/<id>/enter/ — a subgroup typed by an operator, recorded through the
pipeline and judged at once."""

urlpatterns: list = []
