"""The project's URLs plus views that fail, for the capture tests (never in chatapp.urls)."""

from django.urls import path

from chatapp import urls as project_urls


def fails(request, n):
    session_token = request.headers.get("X-Debug", "")  # noqa: F841 -- a local the capture must scrub
    if n == 1:
        raise RuntimeError("the first way to fail")
    raise LookupError("the second way to fail")


urlpatterns = [path("test-fails/<int:n>/", fails), *project_urls.urlpatterns]
handler500 = project_urls.handler500
handler404 = project_urls.handler404
