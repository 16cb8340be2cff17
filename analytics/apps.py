from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        # The catalogues: events, stats and features are closed at start-up; metrics stay open until the first
        # read, so other apps (observability, revenue) can register theirs from their own ready().
        from analytics import (
            checks,  # noqa: F401  (registers the system check)
            events,
            features,
            metrics,
            stats,
            tracking,
        )

        events.catalogue.freeze()
        stats.catalogue.freeze()
        features.catalogue.freeze()
        metrics.register_builtin()
        tracking.connect_signals()
