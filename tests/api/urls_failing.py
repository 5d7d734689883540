"""A URLconf with a view that fails, to see the 500 answer (used with pytest.mark.urls)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [path("fail", fail), path("", include("config.urls"))]
handler500 = "api.errors.server_error"
