from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def streaming_stays_public(app_configs, **kwargs):
    """Audit streaming to private addresses or plain http is for tests and on-prem collectors, never by accident."""
    if settings.AUDIT_STREAM_ALLOW_PRIVATE:
        return [
            checks.Warning(
                "AUDIT_STREAM_ALLOW_PRIVATE is on: audit events may be sent to private addresses and over plain http.",
                hint="Leave it off in production unless the SIEM collector really is on a private network.",
                id="audit.W001",
            )
        ]
    return []
