"""Resources that roles can be granted on, by model label. A resource grant gives only the role's codes that
the registry declares for that kind of resource (a channel grant of a role holding `org.manage` gives no
`org.manage`)."""

from django.apps import apps
from django.db import models

# model label (lower case) -> the `resource` name permission codes declare in their app's permissions.py
GRANTABLE_RESOURCES: dict[str, str] = {
    "chat.channel": "channel",
    "analytics.dashboard": "dashboard",
}


def resource_type_of(obj_or_model) -> str:
    return obj_or_model._meta.label_lower


def resource_kind(resource_type: str) -> str | None:
    return GRANTABLE_RESOURCES.get(resource_type)


def resource_model(resource_type: str) -> type[models.Model] | None:
    if resource_type not in GRANTABLE_RESOURCES:
        return None
    return apps.get_model(resource_type)
