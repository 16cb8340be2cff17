"""Server-side login sessions as the user sees them: which device, from where, since when."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class UserSession(models.Model):
    """One logged-in Django session (same key), kept by accounts.middleware.SessionActivityMiddleware.

    Revoking deletes the Django session too, so the browser's next request is anonymous (401 in the API).
    `last_activity` is written at most once a minute, not on every request.
    """

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions")
    user_agent = models.CharField(max_length=512, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_activity", "-id"]
        indexes = [models.Index(fields=["user", "last_activity"], name="user_session_user_activity")]

    def __str__(self):
        return f"{self.user} on {self.user_agent[:40] or 'unknown device'}"
