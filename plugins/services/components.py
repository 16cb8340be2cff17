"""The component builder's writes: save a new version (every sample must render and match its snapshot) and
publish it to the marketplace."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from accounts.models import Organization, User
from audit.services import audit_record
from plugins import audit_events as events
from plugins.components import ComponentError, component_check
from plugins.models import Component
from plugins.permissions import PLUGINS_PUBLISH
from rbac.services import require_perm


@transaction.atomic
def component_save(*, actor: User, org: Organization, key: str, **fields) -> Component:
    require_perm(user=actor, org=org, perm=PLUGINS_PUBLISH)
    try:
        results = component_check(
            output=fields["output"], template=fields["template"], input_schema=fields["input_schema"],
            samples=fields["samples"],
        )  # fmt: skip
    except ComponentError as exc:
        raise ValidationError(exc.errors) from None
    failed = [f"{r['name']}: {r['detail']}" for r in results if not r["ok"]]
    if failed:
        raise ValidationError({"samples": failed})
    # a sample without an expected output takes the rendered one as its snapshot
    fields["samples"] = [
        {**sample, "expected": result["output"]} for sample, result in zip(fields["samples"], results, strict=True)
    ]
    latest = Component.objects.select_for_update().filter(organization=org, key=key).aggregate(v=Max("version"))["v"]
    component = Component.objects.create(organization=org, key=key, version=(latest or 0) + 1, created_by=actor,
                                         **fields)  # fmt: skip
    audit_record(org=org, event=events.COMPONENT_SAVED, actor=actor, target=component,
                 metadata={"version": component.version})  # fmt: skip
    return component


@transaction.atomic
def component_publish(*, actor: User, org: Organization, component: Component) -> Component:
    require_perm(user=actor, org=org, perm=PLUGINS_PUBLISH)
    if component.organization_id != org.pk:
        raise ValidationError({"component": ["No such component."]})
    if not component.published:
        component.published = True
        component.save(update_fields=["published"])
        audit_record(org=org, event=events.COMPONENT_PUBLISHED, actor=actor, target=component,
                     metadata={"version": component.version})  # fmt: skip
    return component
