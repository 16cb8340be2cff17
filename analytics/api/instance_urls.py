from django.urls import path

from analytics.api import views

urlpatterns = [
    path("metrics", views.InstanceMetricsView.as_view(), name="instance-analytics-metrics"),
    path("series", views.InstanceSeriesView.as_view(), name="instance-analytics-series"),
    path("users", views.InstanceUsersView.as_view(), name="instance-analytics-users"),
    path("features", views.InstanceFeaturesView.as_view(), name="instance-analytics-features"),
    path("overview", views.InstanceOverviewView.as_view(), name="instance-analytics-overview"),
    path("stats", views.InstanceStatsView.as_view(), name="instance-analytics-stats"),
]
