"""Error projects: where an organization's apps send errors with the Sentry SDKs (one DSN each)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from analytics.observability import audit_events as events
from analytics.observability.models import ErrorProject, new_public_key
from analytics.observability.permissions import ERRORS_MANAGE
from audit.services import audit_record, diff, snapshot
from audit.streaming import transport
from rbac.services import require_perm

FIELDS = ("name", "platform", "is_active", "rate_limit_per_minute", "alert_emails", "alert_webhook_url")
MAX_RATE = 100_000
MAX_EMAILS = 20


def _clean(values: dict) -> dict:
    errors = {}
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"] or len(values["name"]) > 100:
            errors["name"] = ["A name of 1 to 100 characters is required."]
    if "rate_limit_per_minute" in values and not 1 <= int(values["rate_limit_per_minute"]) <= MAX_RATE:
        errors["rate_limit_per_minute"] = [f"Between 1 and {MAX_RATE}."]
    if "alert_emails" in values:
        emails = [str(email).strip() for email in values["alert_emails"] or []]
        if len(emails) > MAX_EMAILS:
            errors["alert_emails"] = [f"At most {MAX_EMAILS} addresses."]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                errors.setdefault("alert_emails", []).append(f"{email!r} is not an e-mail address.")
        values["alert_emails"] = sorted(set(emails))
    if values.get("alert_webhook_url"):
        problem = transport.check_url(values["alert_webhook_url"])
        if problem:
            errors["alert_webhook_url"] = [problem]
    if errors:
        raise ValidationError(errors)
    return values


def project_create(*, actor, org, name: str, **values) -> ErrorProject:
    require_perm(user=actor, org=org, perm=ERRORS_MANAGE)
    values = _clean({"name": name, **{key: value for key, value in values.items() if key in FIELDS}})
    try:
        with transaction.atomic():
            project = ErrorProject.objects.create(organization=org, **values)
            audit_record(
                org=org, event=events.ERROR_PROJECT_CREATED, actor=actor, target=project,
                changes=diff({}, snapshot(project, FIELDS)),
            )  # fmt: skip
    except IntegrityError:
        raise ValidationError({"name": ["A project of this organization already has this name."]}) from None
    return project


def project_update(*, actor, org, project: ErrorProject, **values) -> ErrorProject:
    require_perm(user=actor, org=org, perm=ERRORS_MANAGE)
    if project.organization_id != org.pk:
        raise ValidationError("The project belongs to another organization.")
    values = _clean({key: value for key, value in values.items() if key in FIELDS})
    try:
        with transaction.atomic():
            locked = ErrorProject.objects.select_for_update().get(pk=project.pk)
            before = snapshot(locked, FIELDS)
            for key, value in values.items():
                setattr(locked, key, value)
            locked.save()
            audit_record(
                org=org, event=events.ERROR_PROJECT_UPDATED, actor=actor, target=locked,
                changes=diff(before, snapshot(locked, FIELDS)),
            )  # fmt: skip
    except IntegrityError:
        raise ValidationError({"name": ["A project of this organization already has this name."]}) from None
    return locked


def project_rotate_key(*, actor, org, project: ErrorProject) -> ErrorProject:
    """A new DSN key; the old one stops working at once (SDKs with the old DSN get 403)."""
    require_perm(user=actor, org=org, perm=ERRORS_MANAGE)
    if project.organization_id != org.pk:
        raise ValidationError("The project belongs to another organization.")
    with transaction.atomic():
        locked = ErrorProject.objects.select_for_update().get(pk=project.pk)
        locked.public_key = new_public_key()
        locked.save(update_fields=["public_key"])
        audit_record(org=org, event=events.ERROR_PROJECT_KEY_ROTATED, actor=actor, target=locked)
    return locked


def project_delete(*, actor, org, project: ErrorProject) -> None:
    """Deletes the project with its issues and events."""
    require_perm(user=actor, org=org, perm=ERRORS_MANAGE)
    if project.organization_id != org.pk:
        raise ValidationError("The project belongs to another organization.")
    with transaction.atomic():
        audit_record(org=org, event=events.ERROR_PROJECT_DELETED, actor=actor, target=project)
        project.delete()
