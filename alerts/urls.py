"""The pages of the alerts app: the violations of a plant."""

from django.urls import path

from alerts import views

urlpatterns = [
    path("p/<str:code>/violations/", views.violations_page, name="violations"),
    path("p/<str:code>/violations/rows/", views.violation_rows, name="violation-rows"),
    path("p/<str:code>/violations/acknowledge/", views.acknowledge_selected,
         name="violations-acknowledge"),
    path("p/<str:code>/violations/badge/", views.badge, name="violations-badge"),
]
