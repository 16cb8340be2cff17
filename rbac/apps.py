from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "Roles and permissions"

    def ready(self):
        # Every app's permissions.py is imported here, then the catalogue is closed.
        from django.utils.module_loading import autodiscover_modules

        from rbac import checks  # noqa: F401  (registers the system check)
        from rbac.registry import permissions

        autodiscover_modules("permissions")
        permissions.freeze()
