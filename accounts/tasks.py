from celery import shared_task

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
