from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from api.views.health import HealthzView, ReadyzView

public = {"permission_classes": [AllowAny], "authentication_classes": []}

urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
    path("api/v1/", include("api.urls")),
    path("ledger/", include("api.ledger_urls")),
    path("api/schema/", SpectacularAPIView.as_view(**public), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", **public), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", **public), name="redoc"),
    path("api/auth/", include("rest_framework.urls")),  # session login for the web
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # the pages' language switch
    path("", include("web.urls")),
]

# A browser on the pages gets HTML, everyone else the API's JSON body (config/errors.py).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "api.errors.server_error"
