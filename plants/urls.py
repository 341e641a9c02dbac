from django.urls import path

from plants import views

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<str:code>/nodes/<int:node_id>/children/", views.node_children, name="node-children"),
    path("p/<str:code>/hierarchy/", views.hierarchy_page, name="hierarchy"),
    path("p/<str:code>/hierarchy/new/", views.node_create, name="node-create"),
    path("p/<str:code>/hierarchy/<int:node_id>/rename/", views.node_rename, name="node-rename"),
    path("p/<str:code>/hierarchy/<int:node_id>/move/", views.node_move, name="node-move"),
    path("p/<str:code>/hierarchy/<int:node_id>/delete/", views.node_delete, name="node-delete"),
]
