from celery import shared_task
from django.conf import settings

from accounts.services.api_keys import api_keys_warn_expiring
from accounts.services.sessions import sessions_clean


@shared_task(name="accounts.api_keys_warn_expiring", ignore_result=True)
def api_keys_warn_expiring_task():
    """E-mail owners of API keys that expire soon (beat: daily). Each key is warned once, so it is safe to rerun."""
    return api_keys_warn_expiring()


@shared_task(name="accounts.sessions_clean", ignore_result=True)
def sessions_clean_task():
    """Forget sessions that ended without a logout (beat: daily). Idempotent."""
    return sessions_clean()


@shared_task(name="accounts.privacy_erasures_run_due", ignore_result=True)
def privacy_erasures_run_due_task():
    """Anonymize people whose erasure grace period ended (beat: daily). An executed request is closed, so a rerun
    finds nothing more to do."""
    from accounts.services.privacy import privacy_erasures_run_due

    return privacy_erasures_run_due()


@shared_task(name="accounts.privacy_requests_alert_overdue", ignore_result=True)
def privacy_requests_alert_overdue_task():
    """E-mail the privacy team the requests past their legal due date (beat: daily)."""
    from accounts.services.privacy import privacy_requests_alert_overdue

    return privacy_requests_alert_overdue()


# Organization exports (docs/data-protection.md, "Moving an organization"). An export of a large organization
# takes minutes: its own time limit, well above the default. A redelivered task finds the job claimed and stops.
@shared_task(
    name="accounts.org_export_run", ignore_result=True,
    soft_time_limit=settings.PORTABILITY_EXPORT_TIME_LIMIT, time_limit=settings.PORTABILITY_EXPORT_TIME_LIMIT + 60,
)  # fmt: skip
def org_export_run_task(export_id: int):
    """Write one export's archive, keeping its progress on the job row."""
    from accounts.services.portability import org_export_run

    org_export_run(export_id=export_id)


@shared_task(name="accounts.org_exports_expire", ignore_result=True)
def org_exports_expire_task():
    """Delete export files past PORTABILITY_EXPORT_TTL_DAYS (beat: hourly). Idempotent."""
    from accounts.services.portability import org_exports_expire

    return org_exports_expire()
