from django.urls import path

from analytics.api import views

A = views.AnalyticsViewSet
D = views.DashboardViewSet
T = views.TileViewSet

urlpatterns = [
    path("analytics/metrics", A.as_view({"get": "metrics"}), name="analytics-metrics"),
    path("analytics/series", A.as_view({"get": "series"}), name="analytics-series"),
    path("analytics/users", A.as_view({"get": "users"}), name="analytics-users"),
    path("analytics/retention", A.as_view({"get": "retention"}), name="analytics-retention"),
    path("analytics/features", A.as_view({"get": "features"}), name="analytics-features"),
    path("analytics/events", A.as_view({"post": "events"}), name="analytics-events"),
    path("analytics/settings", A.as_view({"get": "settings_show", "patch": "update_settings"}),
         name="analytics-settings"),
    path("analytics/ingest-keys/", views.IngestKeyViewSet.as_view({"get": "list", "post": "create"}),
         name="analytics-ingest-key-list"),
    path("analytics/ingest-keys/<int:pk>/", views.IngestKeyViewSet.as_view({"delete": "destroy"}),
         name="analytics-ingest-key-detail"),
    path("analytics/dashboards/", D.as_view({"get": "list", "post": "create"}), name="analytics-dashboard-list"),
    path("analytics/dashboards/<int:pk>/", D.as_view({"get": "retrieve", "patch": "partial_update",
                                                      "delete": "destroy"}), name="analytics-dashboard-detail"),
    path("analytics/dashboards/<int:pk>/duplicate/", D.as_view({"post": "duplicate"}),
         name="analytics-dashboard-duplicate"),
    path("analytics/dashboards/<int:pk>/export/", D.as_view({"get": "export"}), name="analytics-dashboard-export"),
    path("analytics/dashboards/<int:pk>/data/", D.as_view({"get": "data"}), name="analytics-dashboard-data"),
    path("analytics/dashboards/<int:pk>/tiles/", D.as_view({"post": "add_tile"}), name="analytics-tile-list"),
    path("analytics/tiles/<int:pk>/", T.as_view({"patch": "partial_update", "delete": "destroy"}),
         name="analytics-tile-detail"),
    path("analytics/tiles/<int:pk>/data/", T.as_view({"get": "data"}), name="analytics-tile-data"),
    path("analytics/tiles/<int:pk>/export/", T.as_view({"get": "export"}), name="analytics-tile-export"),
]  # fmt: skip
