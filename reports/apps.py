from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        # Section types are declared in reports/sections.py; the catalogue is closed once the apps are ready.
        from reports import checks  # noqa: F401  (registers the system check)
        from reports.sections import sections

        sections.freeze()
