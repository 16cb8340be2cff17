from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "chatapp.kernel"
    label = "kernel"
    verbose_name = "Operations"

    def ready(self):
        from chatapp.kernel import schema  # noqa: F401  (registers the OpenAPI extensions)
