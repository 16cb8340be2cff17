from django.urls import path, register_converter

from plugins.api import views


class PluginIdConverter:
    regex = r"[a-z][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(PluginIdConverter, "plugin_id")
inst = views.InstallationViewSet
listing = views.OrgListingViewSet
comp = views.ComponentViewSet

# under orgs/<org_slug>/
org_urlpatterns = [
    path("plugins/", inst.as_view({"get": "list", "post": "create"}), name="plugin-installation-list"),
    path("plugins/commands", inst.as_view({"post": "command"}), name="plugin-command"),
    path("plugins/components/", comp.as_view({"get": "list", "post": "create"}), name="component-list"),
    path("plugins/components/preview", comp.as_view({"post": "preview"}), name="component-preview"),
    path("plugins/components/<slug:key>/", comp.as_view({"get": "retrieve"}), name="component-detail"),
    path("plugins/components/<slug:key>/publish", comp.as_view({"post": "publish"}), name="component-publish"),
    path("plugins/listings/<plugin_id:plugin_id>/reviews", listing.as_view({"post": "review"}), name="plugin-review"),
    path("plugins/listings/<plugin_id:plugin_id>/report", listing.as_view({"post": "report"}), name="plugin-report"),
    path("plugins/<plugin_id:plugin_id>/", inst.as_view({"get": "retrieve", "delete": "destroy"}),
         name="plugin-installation-detail"),
    path("plugins/<plugin_id:plugin_id>/settings", inst.as_view({"patch": "configure"}), name="plugin-settings"),
    path("plugins/<plugin_id:plugin_id>/enable", inst.as_view({"post": "enable"}), name="plugin-enable"),
    path("plugins/<plugin_id:plugin_id>/disable", inst.as_view({"post": "disable"}), name="plugin-disable"),
    path("plugins/<plugin_id:plugin_id>/pin", inst.as_view({"post": "pin"}), name="plugin-pin"),
    path("plugins/<plugin_id:plugin_id>/unpin", inst.as_view({"post": "unpin"}), name="plugin-unpin"),
    path("plugins/<plugin_id:plugin_id>/version", inst.as_view({"post": "change_version"}), name="plugin-version"),
    path("plugins/<plugin_id:plugin_id>/consent", inst.as_view({"post": "consent"}), name="plugin-consent"),
    path("plugins/<plugin_id:plugin_id>/channels", inst.as_view({"put": "set_channels"}), name="plugin-channels"),
]  # fmt: skip

pub = views.PublisherViewSet
queue = views.ReviewQueueViewSet
# under marketplace/
marketplace_urlpatterns = [
    path("plugins/", views.MarketplaceViewSet.as_view({"get": "list"}), name="marketplace-list"),
    path("plugins/<plugin_id:plugin_id>/", views.MarketplaceViewSet.as_view({"get": "retrieve"}),
         name="marketplace-detail"),
    path("publishers/", pub.as_view({"post": "create"}), name="publisher-list"),
    path("publishers/<slug:slug>/", pub.as_view({"get": "retrieve"}), name="publisher-detail"),
    path("publishers/<slug:slug>/keys/", pub.as_view({"post": "add_key"}), name="publisher-keys"),
    path("publishers/<slug:slug>/keys/<str:key_id>/revoke", pub.as_view({"post": "revoke_key"}),
         name="publisher-key-revoke"),
    path("publishers/<slug:slug>/packages/", pub.as_view({"get": "submissions", "post": "upload"}),
         name="publisher-packages"),
    path("components/", views.MarketplaceComponentViewSet.as_view({"get": "list"}), name="marketplace-components"),
    path("review-queue/", queue.as_view({"get": "list"}), name="review-queue"),
    path("review-queue/<int:pk>/start", queue.as_view({"post": "start"}), name="review-start"),
    path("review-queue/<int:pk>/approve", queue.as_view({"post": "approve"}), name="review-approve"),
    path("review-queue/<int:pk>/reject", queue.as_view({"post": "reject"}), name="review-reject"),
    path("review-queue/<int:pk>/yank", queue.as_view({"post": "yank"}), name="review-yank"),
]  # fmt: skip
