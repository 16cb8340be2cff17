from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "analytics.revenue"
    label = "revenue"
    verbose_name = "Revenue analytics"
