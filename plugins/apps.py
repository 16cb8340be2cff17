from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Plugins and marketplace"

    def ready(self):
        from plugins import capabilities, checks  # noqa: F401  (declares the catalogues, registers the checks)
        from plugins.capabilities import capabilities as capability_registry
        from plugins.capabilities import event_types
        from plugins.registry import builtins_load

        capability_registry.freeze()
        event_types.freeze()
        builtins_load()
