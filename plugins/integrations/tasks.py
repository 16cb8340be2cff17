"""Thin Celery tasks of the integrations: they take ids and call the services; all are safe to run twice."""

from celery import shared_task

DELIVER_CHUNK = 20  # deliveries per task: one slow receiver holds up at most this many others


@shared_task(name="integrations.deliver_many", ignore_result=True)
def deliver_many(delivery_ids: list[int]):
    """Attempt these deliveries (queued after the event's transaction committed). Splits itself into chunks so
    workers share a fan-out; each attempt claims its delivery, so a duplicate task sends nothing twice."""
    from plugins.integrations.services.webhooks import deliveries_send

    if len(delivery_ids) > DELIVER_CHUNK:
        for start in range(0, len(delivery_ids), DELIVER_CHUNK):
            deliver_many.delay(delivery_ids[start : start + DELIVER_CHUNK])
        return
    deliveries_send(delivery_ids)


@shared_task(name="integrations.deliveries_due", ignore_result=True)
def deliveries_due():
    """Every 15 s (beat): queue the retries whose backoff has passed (and anything a lost worker dropped)."""
    from plugins.integrations.services.webhooks import deliveries_due as due

    ids = due()
    for start in range(0, len(ids), DELIVER_CHUNK):
        deliver_many.delay(ids[start : start + DELIVER_CHUNK])


@shared_task(name="integrations.events_pump", ignore_result=True)
def events_pump():
    """Every 10 s (beat): turn new audit events of organizations with webhooks into webhook events."""
    from plugins.integrations.services.events import events_pump as pump
    from plugins.integrations.services.events import organizations_with_endpoints

    for org in organizations_with_endpoints():
        while pump(org=org) >= 500:
            pass


@shared_task(name="integrations.disable_failing", ignore_result=True)
def disable_failing():
    """Daily (beat): disable endpoints failing for N days and email the organization's owners and admins."""
    from plugins.integrations.services.webhooks import endpoints_disable_failing

    endpoints_disable_failing()


@shared_task(name="integrations.inbound_process", ignore_result=True)
def inbound_process(integration: str, installation_id: int, event: str, payload: dict):
    """Work that another tool must not wait for (Slack wants an answer within 3 s)."""
    from plugins.integrations.services.inbound import process

    process(integration=integration, installation_id=installation_id, event=event, payload=payload)


@shared_task(name="integrations.slack_import_run", ignore_result=True)
def slack_import_run(import_id: int):
    from plugins.integrations.slack.importer import import_run

    import_run(import_id)
