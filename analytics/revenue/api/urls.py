"""/api/v1/instance/analytics/revenue/: the operator's revenue figures, and Stripe's webhook endpoint."""

from django.urls import path

from analytics.revenue.api import views

urlpatterns = [
    path("mrr", views.MrrView.as_view(), name="revenue-mrr"),
    path("movements", views.MovementsView.as_view(), name="revenue-movements"),
    path("summary", views.SummaryView.as_view(), name="revenue-summary"),
    path("subscriptions/", views.SubscriptionViewSet.as_view({"get": "list"}), name="revenue-subscription-list"),
    path(
        "subscriptions/<int:pk>/",
        views.SubscriptionViewSet.as_view({"get": "retrieve"}),
        name="revenue-subscription-detail",
    ),
    path("stripe/webhook", views.StripeWebhookView.as_view(), name="revenue-stripe-webhook"),
]
