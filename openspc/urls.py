from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerView

from openspc.health import health

urlpatterns = [
    path("health", health, name="health"),
    # pages without our <link rel="icon"> (Django admin) make browsers ask here
    path("favicon.ico", RedirectView.as_view(url=static("openspc/favicon.svg"), permanent=True)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("openspc.api_urls")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("spc.urls")),
    path("", include("plants.urls")),
    path("", include("alerts.urls")),
]
