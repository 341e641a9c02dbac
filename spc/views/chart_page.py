"""The chart page of a characteristic: /p/<plant>/c/<id>/."""

urlpatterns: list = []
