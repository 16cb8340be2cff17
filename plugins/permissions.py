from rbac.registry import declare

PLUGINS_VIEW = declare("plugins.view", "See the plugins installed in the organization, their health and metrics.")
PLUGINS_MANAGE = declare(
    "plugins.manage", "Install, configure, enable, disable, upgrade and uninstall plugins, consenting to capabilities."
)
PLUGINS_PUBLISH = declare(
    "plugins.publish", "Manage the organization's publisher: signing keys, uploads, private plugins and components."
)
