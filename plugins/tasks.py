"""Thin Celery tasks: they take ids and call the plugin runtime or the marketplace services."""

import contextlib

from celery import shared_task

from plugins.models import Installation


@shared_task(ignore_result=True)
def deliver_event(installation_id: int, event: str, payload: dict) -> None:
    from plugins.runtime import DeliveryFailed, deliver

    installation = (
        Installation.objects.select_related("plugin", "version", "organization", "service_user")
        .filter(pk=installation_id, enabled=True)
        .first()
    )
    if installation is None:  # uninstalled or disabled since: nothing to do
        return
    with contextlib.suppress(DeliveryFailed):  # recorded (audit, health) by deliver
        deliver(installation, kind="event", name=event, payload=payload)


@shared_task(ignore_result=True)
def package_scan(version_id: int) -> None:
    from plugins.services.marketplace import version_scan

    version_scan(version_id=version_id)
