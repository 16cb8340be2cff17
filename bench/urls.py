"""The product's URLs plus the bench-only baseline, served only with DJANGO_SETTINGS_MODULE=bench.settings."""

from django.urls import path

from bench import views
from chatapp.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    *product_urlpatterns,
    path(
        "bench/baseline/orgs/<slug:org_slug>/channels/<int:channel_pk>/messages/",
        views.baseline_messages,
        name="bench-baseline-messages",
    ),
]
