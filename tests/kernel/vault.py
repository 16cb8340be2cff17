"""A test-only model with every kind of encrypted field (its table is made by tests/kernel/conftest.py)."""

import uuid

from django.db import models

from chatapp.kernel.encryption import EncryptedJSONField, EncryptedTextField
from chatapp.kernel.models import TenantModel


class Vault(TenantModel):
    encryption_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    label = models.TextField(blank=True)  # the plain twin of `secret`, for comparisons
    secret = EncryptedTextField(null=True, blank=True)
    data = EncryptedJSONField(null=True, blank=True)
    private = EncryptedTextField(null=True, blank=True, per_org=True)

    class Meta:
        app_label = "kernel"  # an installed app, so the model registry (and so rotation) sees it
