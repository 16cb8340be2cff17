from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chatapp.kernel import health

admin.site.site_header = "chatapp administration"
admin.site.site_title = "chatapp admin"
admin.site.index_title = "Organizations, people and chat"

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.ReadinessView.as_view(), name="health-ready"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("chatapp.api_urls")),
    path("ingest/sentry/", include("analytics.observability.urls")),
    path("hooks/", include("plugins.integrations.hook_urls")),
    path("", include("analytics.urls")),
    path("reports/", include("reports.urls")),
]

handler400 = "chatapp.kernel.errors.handler400"
handler403 = "chatapp.kernel.errors.handler403"
handler404 = "chatapp.kernel.errors.handler404"
handler500 = "chatapp.kernel.errors.handler500"
