"""Delivery: render once per delivery, send per destination, log each attempt; unsubscribe and download links.

The delivery log is DeliveryTarget: one row per (delivery, kind, address) with status, message id, size,
attempts and error. E-mail is the one kind today; Slack, Teams and webhook destinations add a kind and a
sender function and reuse the rest (retries, log, owner alert).
"""

from email.mime.image import MIMEImage
from email.utils import make_msgid

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, get_connection, send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization, User
from audit.services import Actor, audit_record
from rbac.services import require_perm
from reports import audit_events as events
from reports.models import Delivery, DeliveryTarget, Recipient, ReportRun, Schedule
from reports.permissions import REPORTS_MANAGE

UNSUBSCRIBE_SALT = "reports.unsubscribe"
DOWNLOAD_SALT = "reports.download"


def unsubscribe_token(recipient: Recipient) -> str:
    """Signed with SECRET_KEY: names the recipient and its current nonce, so it works until used once."""
    return signing.dumps({"r": recipient.pk, "n": recipient.unsubscribe_nonce}, salt=UNSUBSCRIBE_SALT, compress=True)


def download_token(run: ReportRun, address: str) -> str:
    return signing.dumps({"run": run.pk, "to": address}, salt=DOWNLOAD_SALT, compress=True)


def absolute(path: str) -> str:
    return settings.REPORTS_BASE_URL.rstrip("/") + path


def _link_actor(address: str, user: User | None = None) -> Actor:
    """Who acted through an e-mailed link: the member it was sent to, or the outside address (no login)."""
    if user is not None:
        return Actor.of(user)
    return Actor.system(f"e-mail link sent to {address}")


class TokenRefused(Exception):
    pass


@transaction.atomic
def unsubscribe(*, token: str) -> Recipient:
    """One-click unsubscribe without login (RFC 8058). A token works once; a forged or used one is refused."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise TokenRefused("This unsubscribe link is not valid.") from None
    recipient = Recipient.objects.select_for_update().filter(pk=data.get("r")).first()
    if recipient is None or recipient.unsubscribe_nonce != data.get("n") or recipient.unsubscribed_at:
        raise TokenRefused("This unsubscribe link was already used or no longer applies.")
    recipient.unsubscribed_at = timezone.now()
    recipient.unsubscribe_nonce = ""  # spent: the same link cannot act again
    recipient.save(update_fields=["unsubscribed_at", "unsubscribe_nonce"])
    owner = recipient.schedule or recipient.trigger
    audit_record(org=recipient.organization, event=events.UNSUBSCRIBED,
                 actor=_link_actor(recipient.email, recipient.user), target=owner,
                 metadata={"recipient": recipient.pk})  # fmt: skip
    return recipient


def download_run(*, token: str) -> tuple[ReportRun, bytes]:
    """The PDF behind an e-mailed link: signed, expiring after REPORTS_DOWNLOAD_DAYS, audited."""
    from reports.services import run_download

    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.REPORTS_DOWNLOAD_DAYS * 86400)
    except signing.SignatureExpired:
        raise TokenRefused("This download link has expired.") from None
    except signing.BadSignature:
        raise TokenRefused("This download link is not valid.") from None
    run = ReportRun.objects.select_related("organization").filter(pk=data["run"]).first()
    if run is None:
        raise TokenRefused("This report no longer exists.")
    return run, run_download(actor=_link_actor(data["to"]), org=run.organization, run=run, via="link")


# --- preparing and sending -----------------------------------------------------------------------------------


def _recipients(delivery: Delivery):
    if delivery.kind == Delivery.Kind.TEST:
        return []
    owner = delivery.schedule if delivery.schedule_id else delivery.trigger
    return list(owner.recipients.all())


def delivery_prepare(*, delivery_id: int) -> list[int]:
    """Render the delivery's report (once, with the owner's permissions) and create its log rows. Returns the
    targets still to send: a retried or repeated task finds the sent ones done and skips them."""
    from reports.services import run_create, run_render

    delivery = Delivery.objects.select_related("schedule", "trigger", "report", "organization").get(pk=delivery_id)
    owner = (delivery.schedule or delivery.trigger).owner
    if delivery.report_id and delivery.run_id is None:
        tz = delivery.schedule.timezone if delivery.schedule_id else "UTC"
        with transaction.atomic():
            locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
            if locked.run_id is None:
                locked.run = run_create(org=delivery.organization, report=delivery.report, requested_by=owner,
                                        now=delivery.slot, tz_name=tz)  # fmt: skip
                locked.status = Delivery.Status.SENDING
                locked.save(update_fields=["run", "status"])
            delivery = locked
    if delivery.run_id:
        run_render(run=delivery.run, viewer=owner)
    for recipient in _recipients(delivery):
        DeliveryTarget.objects.get_or_create(
            delivery=delivery, kind=DeliveryTarget.Kind.EMAIL, address=recipient.email,
            defaults={"organization": delivery.organization, "recipient": recipient,
                      "status": DeliveryTarget.Status.SKIPPED if recipient.unsubscribed_at else
                      DeliveryTarget.Status.PENDING},
        )  # fmt: skip
    pending = delivery.targets.filter(status__in=[DeliveryTarget.Status.PENDING, DeliveryTarget.Status.RETRYING])
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        _finish(delivery)
    return ids


def build_email(*, delivery: Delivery, target: DeliveryTarget) -> EmailMultiAlternatives:
    from reports.rendering import render_email, table_csv
    from reports.services import run_pdf

    run, report = delivery.run, delivery.report
    computed = run.data.get("sections", []) if run else []
    recipient = target.recipient
    unsubscribe_url = absolute(reverse("reports:unsubscribe", args=[unsubscribe_token(recipient)])) if recipient else ""
    pdf, link = b"", ""
    if run is not None:
        if run.size_bytes and run.size_bytes > settings.REPORTS_ATTACH_MAX_BYTES:
            link = absolute(reverse("reports:download", args=[download_token(run, target.address)]))
        else:
            pdf = run_pdf(run)
    subject = report.title if report else delivery.trigger.name
    if delivery.kind == Delivery.Kind.TRIGGER:
        subject = f"Alert: {delivery.trigger.name}"
    elif delivery.kind == Delivery.Kind.TEST:
        subject = f"[Test] {subject}"
    if report is not None and run is not None:
        html, text, images = render_email(report=report, run=run, sections=computed, link=link,
                                          unsubscribe_url=unsubscribe_url)  # fmt: skip
    else:
        html, text, images = "", "", []
    if delivery.summary:
        text = f"{delivery.summary}\n\n{text}"
        html = f"<p><strong>{_escape(delivery.summary)}</strong></p>{html}"
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "chatapp.localhost"
    headers = {"Message-ID": make_msgid(domain=domain)}
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(subject=subject, body=text or subject, to=[target.address], headers=headers)
    if html:
        message.attach_alternative(html, "text/html")
    message.mixed_subtype = "related"  # the PNG charts are parts the HTML refers to by cid:
    for cid, png in images:
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{cid}>")
        image.add_header("Content-Disposition", "inline", filename=f"{cid}.png")
        message.attach(image)
    if pdf:
        message.attach(f"{_slug(report.title)}.pdf", pdf, "application/pdf")
    if delivery.schedule_id and delivery.schedule.attach_csv:
        for index, section in enumerate(computed):
            if "rows" in section["data"]:
                message.attach(f"{index + 1}-{_slug(section['title'])}.csv", table_csv(section), "text/csv")
    return message


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def _slug(text: str) -> str:
    from django.utils.text import slugify

    return slugify(text)[:60] or "report"


def target_send(*, target_id: int, attempt: int = 1) -> DeliveryTarget:
    """Send one destination. Raises SMTPException for the task to retry; a sent target is never sent again."""
    target = DeliveryTarget.objects.select_related(
        "delivery__run", "delivery__report__organization", "delivery__schedule", "delivery__trigger", "recipient"
    ).get(pk=target_id)
    if target.status in (DeliveryTarget.Status.SENT, DeliveryTarget.Status.SKIPPED, DeliveryTarget.Status.FAILED):
        return target
    message = build_email(delivery=target.delivery, target=target)
    DeliveryTarget.objects.filter(pk=target.pk).update(attempts=attempt)
    try:
        with get_connection() as connection:
            connection.send_messages([message])
    except Exception as exc:
        DeliveryTarget.objects.filter(pk=target.pk).update(status=DeliveryTarget.Status.RETRYING, error=str(exc)[:1000])
        raise
    with transaction.atomic():
        target.status, target.attempts, target.error = DeliveryTarget.Status.SENT, attempt, ""
        target.message_id, target.sent_at = message.extra_headers["Message-ID"], timezone.now()
        target.size_bytes = len(message.message().as_bytes())
        target.save()
        audit_record(org=target.organization, event=events.DELIVERY_SENT, actor=Actor.system("reports.send_target"),
                     target=target.delivery, metadata={"to": target.address, "attempts": attempt,
                                                       "bytes": target.size_bytes})  # fmt: skip
    _finish(target.delivery)
    return target


def target_failed(*, target_id: int, error: str) -> None:
    """The last attempt failed: log it, and tell the schedule's or trigger's owner."""
    target = DeliveryTarget.objects.select_related("delivery__schedule__owner", "delivery__trigger__owner").get(
        pk=target_id
    )
    with transaction.atomic():
        DeliveryTarget.objects.filter(pk=target.pk).update(status=DeliveryTarget.Status.FAILED, error=error[:1000])
        audit_record(org=target.organization, event=events.DELIVERY_FAILED, actor=Actor.system("reports.send_target"),
                     target=target.delivery, metadata={"to": target.address, "error": error[:200]})  # fmt: skip
    owner = (target.delivery.schedule or target.delivery.trigger).owner
    if owner.email.lower() != target.address.lower():
        send_mail(
            subject="A report could not be delivered",
            message=f"The report delivery {target.delivery_id} to {target.address} failed after "
            f"{target.attempts} attempts: {error[:300]}",
            from_email=None, recipient_list=[owner.email], fail_silently=True,
        )  # fmt: skip
    _finish(target.delivery)


def _finish(delivery: Delivery) -> None:
    statuses = set(delivery.targets.values_list("status", flat=True))
    if statuses & {DeliveryTarget.Status.PENDING, DeliveryTarget.Status.RETRYING}:
        return
    failed = DeliveryTarget.Status.FAILED in statuses
    sent = DeliveryTarget.Status.SENT in statuses
    status = Delivery.Status.PARTIAL if failed and sent else Delivery.Status.FAILED if failed else Delivery.Status.SENT
    Delivery.objects.filter(pk=delivery.pk).update(status=status)


@transaction.atomic
def send_test(*, actor: User, org: Organization, schedule: Schedule) -> Delivery:
    """ "Send a test to me": the schedule's report, rendered now, to the caller only (no unsubscribe link)."""
    require_perm(user=actor, org=org, perm=REPORTS_MANAGE)
    if schedule.organization_id != org.pk:
        raise PermissionDenied("The schedule belongs to another organization.")
    delivery = Delivery.objects.create(
        organization=org, kind=Delivery.Kind.TEST, report=schedule.report, version=schedule.report.version,
        schedule=schedule, slot=timezone.now(),
    )  # fmt: skip
    DeliveryTarget.objects.create(organization=org, delivery=delivery, address=actor.email)
    audit_record(org=org, event=events.TEST_SENT, actor=actor, target=schedule, metadata={"delivery": delivery.pk})
    from reports.tasks import deliver

    transaction.on_commit(lambda: deliver.delay(delivery.pk))
    return delivery
