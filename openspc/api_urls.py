from django.urls import path, re_path

from alerts import api as alerts_api
from openspc.api_errors import not_found
from openspc.api_schema import SchemaView
from openspc.api_tokens import obtain_token, revoke_token
from plants import api as plants_api
from spc.api import views as spc_api

urlpatterns = [
    path("auth/token/", obtain_token, name="api-token"),
    path("auth/token/revoke/", revoke_token, name="api-token-revoke"),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("plants/", plants_api.PlantList.as_view(), name="api-plants"),
    path("hierarchy/", plants_api.NodeList.as_view(), name="api-hierarchy"),
    path("hierarchy/tree/", plants_api.node_tree, name="api-hierarchy-tree"),
    path("characteristics/", spc_api.CharacteristicList.as_view(), name="api-characteristics"),
    path("characteristics/<int:pk>/", spc_api.CharacteristicDetail.as_view(),
         name="api-characteristic"),
    path("characteristics/<int:pk>/samples/", spc_api.samples, name="api-samples"),
    path("characteristics/<int:pk>/samples/bulk/", spc_api.samples_bulk, name="api-samples-bulk"),
    path("characteristics/<int:pk>/samples/import/", spc_api.samples_import,
         name="api-samples-import"),
    path("characteristics/<int:pk>/samples/<int:sid>/", spc_api.sample_detail, name="api-sample"),
    path("characteristics/<int:pk>/samples/<int:sid>/exclude/", spc_api.sample_exclude,
         name="api-sample-exclude"),
    path("characteristics/<int:pk>/samples/<int:sid>/restore/", spc_api.sample_restore,
         name="api-sample-restore"),
    path("characteristics/<int:pk>/limits/", spc_api.limits, name="api-limits"),
    path("characteristics/<int:pk>/limits/recalculate/", spc_api.limits_recalculate,
         name="api-limits-recalculate"),
    path("characteristics/<int:pk>/chart-data/", spc_api.chart_data_view, name="api-chart-data"),
    path("characteristics/<int:pk>/capability/", spc_api.capability_view, name="api-capability"),
    path("violations/", alerts_api.ViolationList.as_view(), name="api-violations"),
    path("violations/acknowledge/", alerts_api.acknowledge_many, name="api-violations-ack"),
    path("violations/<int:pk>/acknowledge/", alerts_api.acknowledge_one, name="api-violation-ack"),
    path("reason-codes/", alerts_api.ReasonCodeList.as_view(), name="api-reason-codes"),
    # Last: any other path ending in "/" (others are first redirected there, APPEND_SLASH).
    re_path(r"^[\s\S]*/\Z", not_found),
]
