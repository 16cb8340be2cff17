from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "plugins.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from plugins.integrations import catalogue

        catalogue.load()
