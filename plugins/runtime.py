"""Running plugins: events to subscribers, slash commands and message actions, with metrics and health.

`events_emit` is the seam the rest of chatapp calls (inside the transaction of the change): after commit, each
enabled installation of that organization that subscribes to the event, consented to it and was granted the
channel gets one delivery (a Celery task). A delivery runs a built-in plugin's handler in-process or a
sandboxed plugin in a fresh WebAssembly instance; its calls, errors, latency and fuel are counted, and a
plugin that fails PLUGIN_FAILURE_LIMIT times within PLUGIN_FAILURE_WINDOW_SECONDS is disabled in that
organization, its admins told by e-mail.
"""

import contextlib
import time
from datetime import timedelta

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.models import Outcome
from audit.services import Actor, Target, audit_record
from plugins import audit_events as events
from plugins.capabilities import event_types
from plugins.host import PluginContext, PluginDenied, count_call
from plugins.models import Installation, Plugin

logger = structlog.get_logger(__name__)

HANDLER_NAMES = {"event": "handle_event", "command": "handle_command", "action": "handle_action", "job": "run_job"}


class DeliveryFailed(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _subscribers(org, event: str, channel_id: int | None):
    capability = event_types[event].capability
    rows = Installation.objects.for_org(org).filter(enabled=True).select_related("version").prefetch_related("channels")
    for installation in rows:
        manifest = installation.version.manifest
        consented = set(installation.consented_capabilities)
        if event not in manifest.get("events", []) or not {"events.subscribe", capability} <= consented:
            continue
        if channel_id is not None and channel_id not in {c.pk for c in installation.channels.all()}:
            continue
        yield installation


def events_emit(*, org, event: str, payload: dict, source_installation_id: int | None = None) -> None:
    """Deliver an event to the organization's subscribed plugins after the current transaction commits.

    `payload` carries ids and the event's data; `channel_id` in it limits delivery to plugins granted that
    channel. An event a plugin caused itself is not delivered back to it (no reply loops).
    """
    from plugins.tasks import deliver_event

    def schedule():
        for installation in _subscribers(org, event, payload.get("channel_id")):
            if installation.pk != source_installation_id:
                deliver_event.delay(installation.pk, event, payload)

    transaction.on_commit(schedule)


def source_installation(user) -> int | None:
    """The installation a service identity belongs to (for events_emit's loop guard), or None for people."""
    actor = getattr(user, "audit_actor", None)
    if actor is None:
        return None
    return Installation.objects.filter(service_user=user).values_list("pk", flat=True).first()


def deliver(installation: Installation, *, kind: str, name: str, payload: dict):
    """Run one delivery now; returns the handler's result. DeliveryFailed (already recorded) on failure."""
    from plugins import sandbox

    if not installation.enabled:
        raise DeliveryFailed(
            "disabled", f"the plugin is disabled in this organization ({installation.disabled_reason})"
        )
    ctx = PluginContext(installation)
    started = time.perf_counter()
    fuel = 0
    try:
        if installation.plugin.kind == Plugin.Kind.BUILTIN:
            result = _run_builtin(installation, ctx, kind=kind, name=name, payload=payload)
        else:
            run = sandbox.run(installation.version.wasm_sha256, ctx, kind=kind, name=name, payload=payload)
            result, fuel = run.value, run.fuel_used
        if ctx.denials:  # the plugin swallowed a refusal: still a failure for its health
            raise DeliveryFailed("denied", ctx.denials[0])
    except sandbox.SandboxError as exc:
        failure = DeliveryFailed(exc.kind, str(exc))
    except PluginDenied as exc:
        failure = DeliveryFailed("denied", str(exc))
    except DeliveryFailed as exc:
        failure = exc
    except Exception as exc:  # a built-in plugin's bug must not break the caller
        logger.exception("plugin.handler_crashed", plugin=installation.plugin.plugin_id)
        failure = DeliveryFailed("error", f"{type(exc).__name__} in the plugin's handler")
    else:
        elapsed = int((time.perf_counter() - started) * 1_000_000)
        count_call(installation, calls=1, latency_us_total=elapsed, fuel_total=fuel)
        Installation.objects.filter(pk=installation.pk).update(last_called_at=timezone.now())
        return result
    elapsed = int((time.perf_counter() - started) * 1_000_000)
    count_call(installation, calls=1, errors=1, latency_us_total=elapsed)
    record_failure(installation, kind=kind, name=name, failure=failure)
    raise failure


def _run_builtin(installation, ctx, *, kind, name, payload):
    from plugins.registry import builtin_plugins

    plugin_id = installation.plugin.plugin_id
    if plugin_id not in builtin_plugins:
        raise DeliveryFailed("missing", f"built-in plugin {plugin_id} is not installed on this server")
    handler = builtin_plugins[plugin_id].handler(HANDLER_NAMES[kind])
    if handler is None:
        raise DeliveryFailed("missing", f"{plugin_id} has no {HANDLER_NAMES[kind]} handler")
    return handler(ctx, name, payload) if kind != "job" else handler(ctx, name)


@transaction.atomic
def record_failure(installation: Installation, *, kind: str, name: str, failure: DeliveryFailed) -> None:
    """Audit the failure; disable the plugin when the window holds too many (its admins are told)."""
    locked = Installation.objects.select_for_update().select_related("plugin", "version").get(pk=installation.pk)
    actor = Actor.plugin(locked.plugin.plugin_id, locked.version.version)
    audit_record(
        org=locked.organization, event=events.PLUGIN_FAILED, actor=actor,
        target=Target(f"plugin.{kind}", name, f"{kind} {name}"), outcome=Outcome.FAILURE,
        metadata={"reason": failure.kind, "detail": str(failure)[:300]},
    )  # fmt: skip
    now = timezone.now()
    since = now - timedelta(seconds=settings.PLUGIN_FAILURE_WINDOW_SECONDS)
    recent = [t for t in locked.recent_failures if t >= since.isoformat()] + [now.isoformat()]
    locked.recent_failures = recent[-settings.PLUGIN_FAILURE_LIMIT :]
    locked.last_error = f"{failure.kind}: {failure}"[:300]
    fields = ["recent_failures", "last_error"]
    if locked.enabled and len(recent) >= settings.PLUGIN_FAILURE_LIMIT:
        locked.enabled = False
        locked.disabled_reason = (
            f"disabled automatically after {len(recent)} failures within "
            f"{settings.PLUGIN_FAILURE_WINDOW_SECONDS // 60} minutes (last: {failure.kind})"
        )
        fields += ["enabled", "disabled_reason"]
        audit_record(
            org=locked.organization, event=events.PLUGIN_AUTO_DISABLED, actor=Actor.system("plugin health"),
            target=locked, changes={"enabled": [True, False]}, metadata={"failures": len(recent)},
        )  # fmt: skip
        transaction.on_commit(lambda: _tell_admins(locked))
    locked.save(update_fields=fields)
    installation.enabled, installation.disabled_reason = locked.enabled, locked.disabled_reason


def _tell_admins(installation: Installation) -> None:
    from accounts.models import Membership

    recipients = list(
        Membership.objects.filter(
            organization=installation.organization, is_active=True,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN], user__is_active=True,
        ).values_list("user__email", flat=True)
    )  # fmt: skip
    if recipients:
        send_mail(
            subject=f"[chatapp] Plugin {installation.plugin.name} was disabled in {installation.organization.name}",
            message=(
                f"The plugin {installation.plugin.name} ({installation.plugin.plugin_id} "
                f"{installation.version.version}) was {installation.disabled_reason}.\n\n"
                f"Last error: {installation.last_error}\n\n"
                "Look at its metrics and audit trail, then enable it again from the plugins page when fixed."
            ),
            from_email=None,
            recipient_list=recipients,
            fail_silently=True,
        )


def data_migrate(*, installation_id: int, handler: str, from_version: str) -> None:
    """After a version change, run the data migration the new version declares (`data_migrations` in its
    manifest) for data written by `from_version`: a built-in plugin's module function `handler(ctx, from_version)`,
    or a sandboxed plugin's handler called with kind "job" and name "migrate:<handler>". A failure is recorded
    like any other (audited, counted toward the health limit)."""
    installation = Installation.objects.select_related("plugin", "version", "organization", "service_user").get(
        pk=installation_id
    )
    if installation.plugin.kind == Plugin.Kind.BUILTIN:
        from plugins.registry import builtin_plugins

        function = builtin_plugins[installation.plugin.plugin_id].handler(handler)
        if function is None:
            record_failure(installation, kind="job", name=handler,
                           failure=DeliveryFailed("missing", f"the plugin has no {handler} function"))  # fmt: skip
            return
        try:
            function(PluginContext(installation), from_version)
        except Exception as exc:
            logger.exception("plugin.data_migration_failed", plugin=installation.plugin.plugin_id)
            record_failure(installation, kind="job", name=handler,
                           failure=DeliveryFailed("error", f"{type(exc).__name__} in {handler}"))  # fmt: skip
        return
    with contextlib.suppress(DeliveryFailed):  # recorded by deliver
        deliver(installation, kind="job", name=f"migrate:{handler}", payload={"from_version": from_version})
