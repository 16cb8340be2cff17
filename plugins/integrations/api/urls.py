from django.urls import path

from plugins.integrations.api import views

P = "integrations/"

urlpatterns = [
    path(f"{P}catalogue/", views.CatalogueViewSet.as_view({"get": "list"}), name="integrations-catalogue"),
    path(f"{P}installations/", views.InstallationViewSet.as_view({"get": "list", "post": "create"}),
         name="integrations-installation-list"),
    path(f"{P}installations/<slug:integration>/",
         views.InstallationViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="integrations-installation-detail"),
    path(f"{P}installations/<slug:integration>/rotate-inbound-url/",
         views.InstallationViewSet.as_view({"post": "rotate_inbound_url"}), name="integrations-installation-rotate"),
    path(f"{P}webhooks/endpoints/", views.EndpointViewSet.as_view({"get": "list", "post": "create"}),
         name="integrations-endpoint-list"),
    path(f"{P}webhooks/endpoints/<int:pk>/",
         views.EndpointViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="integrations-endpoint-detail"),
    path(f"{P}webhooks/endpoints/<int:pk>/rotate-secret/", views.EndpointViewSet.as_view({"post": "rotate_secret"}),
         name="integrations-endpoint-rotate"),
    path(f"{P}webhooks/endpoints/<int:pk>/test/", views.EndpointViewSet.as_view({"post": "test"}),
         name="integrations-endpoint-test"),
    path(f"{P}webhooks/endpoints/<int:pk>/replay/", views.EndpointViewSet.as_view({"post": "replay"}),
         name="integrations-endpoint-replay"),
    path(f"{P}webhooks/deliveries/", views.DeliveryViewSet.as_view({"get": "list"}),
         name="integrations-delivery-list"),
    path(f"{P}webhooks/deliveries/<int:pk>/", views.DeliveryViewSet.as_view({"get": "retrieve"}),
         name="integrations-delivery-detail"),
    path(f"{P}webhooks/deliveries/<int:pk>/replay/", views.DeliveryViewSet.as_view({"post": "replay"}),
         name="integrations-delivery-replay"),
    path(f"{P}webhooks/incoming/", views.IncomingViewSet.as_view({"get": "list", "post": "create"}),
         name="integrations-incoming-list"),
    path(f"{P}webhooks/incoming/<int:pk>/", views.IncomingViewSet.as_view({"delete": "destroy"}),
         name="integrations-incoming-detail"),
    path(f"{P}<slug:integration>/issues/", views.MessageActionViewSet.as_view({"post": "create_issue"}),
         name="integrations-issue-create"),
    path(f"{P}<slug:integration>/comments/", views.MessageActionViewSet.as_view({"post": "comment"}),
         name="integrations-comment-create"),
]  # fmt: skip
