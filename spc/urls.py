"""The pages of the spc app; each view module lists its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("spc.views.dashboard")),
    path("", include("spc.views.chart_page")),
    path("", include("spc.views.inspector")),
    path("", include("spc.views.compare")),
    path("", include("spc.views.kiosk")),
    path("", include("spc.views.entry")),
]
