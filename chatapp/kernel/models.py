"""The tenancy base: every row an organization owns inherits from TenantModel."""

from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_org(self, organization):
        """Rows of one organization: the only way selectors start a tenant query."""
        return self.filter(organization=organization)


class TenantModel(models.Model):
    """A row owned by one organization. Cross-organization access is indistinguishable from a missing row."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (scheduled by beat every minute).

    Operators read it in the admin to see which workers are alive; `manage.py worker_ping` waits on it.
    """

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self):
        return self.hostname


# Encryption state lives with the encryption code; importing it here registers the models with the kernel app.
from chatapp.kernel.encryption.models import KeyRotation, KeyRotationStep, OrgDataKey  # noqa: E402, F401
