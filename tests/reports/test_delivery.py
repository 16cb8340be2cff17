"""E-mail delivery to a real SMTP server on loopback (aiosmtpd): PDF attached, PNG charts inline, RFC 8058
unsubscribe headers; retries with backoff; the unsubscribe token works once and a forged one is refused."""

import email
import socket
from datetime import UTC, datetime, time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.core import signing

from audit.models import AuditEvent
from reports import delivery, schedules, services
from reports.models import Delivery, DeliveryTarget, Recipient, Schedule
from reports.tasks import send_target


class Inbox:
    """Collects messages; refuses the first `fail_first`, and any to `refuse`, with a temporary error (451)."""

    def __init__(self, fail_first: int = 0, refuse: frozenset = frozenset()):
        self.messages, self.fail_first, self.refuse, self.tries = [], fail_first, refuse, 0

    async def handle_DATA(self, server, session, envelope):
        self.tries += 1
        if self.tries <= self.fail_first or set(envelope.rcpt_tos) & self.refuse:
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _free_port() -> int:
    # aiosmtpd with port=0 does not say which port it got (PITFALLS): pick one first.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    def start(fail_first: int = 0, refuse: frozenset = frozenset()) -> Inbox:
        inbox = Inbox(fail_first, refuse)
        port = _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        return inbox

    started = []
    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def due_delivery(acme, settings):
    settings.REPORTS_BASE_URL = "https://chat.example.test"
    settings.REPORTS_RETRY_BASE_SECONDS = 0
    report = services.report_create(actor=acme.owner, org=acme.org, template="weekly_usage")
    schedule = schedules.schedule_create(actor=acme.owner, org=acme.org, report=report, frequency="daily",
                                         time_of_day=time(9), timezone="UTC",
                                         recipients=[acme.member.email, acme.admin.email])  # fmt: skip
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime(2026, 11, 25, 9, tzinfo=UTC))
    [delivery_id] = schedules.schedules_dispatch(now=datetime(2026, 11, 25, 9, 1, tzinfo=UTC), enqueue=False)
    return Delivery.objects.get(pk=delivery_id)


def _send_all(delivery_id: int) -> list[int]:
    targets = delivery.delivery_prepare(delivery_id=delivery_id)
    for target_id in targets:
        send_target.apply(args=[target_id])
    return targets


def test_emails_arrive_with_pdf_charts_and_unsubscribe_headers(smtp, due_delivery, acme, client):
    inbox = smtp()
    assert len(_send_all(due_delivery.pk)) == 2
    assert sorted(m["To"] for m in inbox.messages) == ["admin@acme.test", "member@acme.test"]
    message = inbox.messages[0]
    assert message["Subject"] == "Weekly usage"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["application/pdf"].get_content()[:5] == b"%PDF-"
    assert "image/png" in parts and "cid:chart-1" in parts["text/html"].get_content()
    assert "Active members" in parts["text/html"].get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert url.startswith("https://chat.example.test/reports/unsubscribe/")

    # The log per recipient: sent, message id, size, one attempt.
    target = DeliveryTarget.objects.get(address=message["To"])
    assert (target.status, target.attempts, target.message_id) == ("sent", 1, message["Message-ID"])
    assert target.size_bytes > 10_000
    due_delivery.refresh_from_db()
    assert due_delivery.status == Delivery.Status.SENT and due_delivery.version == 1

    # One-click unsubscribe, as a mail provider does it: a POST without cookies. It works once.
    path = url.removeprefix("https://chat.example.test")
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    recipient = Recipient.objects.get(email=message["To"])
    assert recipient.unsubscribed_at is not None
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 400
    unsubscribed = AuditEvent.objects.get(event_name="report.unsubscribed")
    assert (unsubscribed.actor_type, unsubscribed.actor_label) == ("user", message["To"])
    # A GET (link scanners) changes nothing; a forged token is refused.
    forged = signing.dumps({"r": recipient.pk, "n": "guess"}, salt="not-the-salt")
    assert client.post(f"/reports/unsubscribe/{forged}").status_code == 400


def test_a_retried_task_does_not_send_twice(smtp, due_delivery):
    inbox = smtp()
    first = _send_all(due_delivery.pk)
    again = delivery.delivery_prepare(delivery_id=due_delivery.pk)  # the deliver task delivered a second time
    for target_id in first:
        send_target.apply(args=[target_id])  # and each send task redelivered
    assert again == [] and len(inbox.messages) == 2


def test_smtp_errors_are_retried_then_logged(smtp, due_delivery):
    inbox = smtp(fail_first=2)
    targets = delivery.delivery_prepare(delivery_id=due_delivery.pk)
    send_target.apply(args=[targets[0]])
    target = DeliveryTarget.objects.get(pk=targets[0])
    assert (target.status, target.attempts) == ("sent", 3)
    assert len(inbox.messages) == 1


def test_the_owner_is_told_after_the_last_attempt(smtp, due_delivery, settings, acme):
    inbox = smtp(refuse=frozenset({"member@acme.test"}))
    settings.REPORTS_SEND_ATTEMPTS = 2
    _send_all(due_delivery.pk)
    target = DeliveryTarget.objects.get(address="member@acme.test")
    assert (target.status, target.attempts) == ("failed", 2) and "451" in target.error
    assert AuditEvent.objects.filter(event_name="report.delivery_failed").count() == 1
    due_delivery.refresh_from_db()
    assert due_delivery.status == Delivery.Status.PARTIAL  # the admin got it
    alert = [m for m in inbox.messages if m["Subject"] == "A report could not be delivered"]
    assert [m["To"] for m in alert] == [acme.owner.email] and "member@acme.test" in alert[0].get_content()


def test_large_pdfs_go_as_an_expiring_signed_link(smtp, due_delivery, settings, client):
    inbox = smtp()
    settings.REPORTS_ATTACH_MAX_BYTES = 1000
    _send_all(due_delivery.pk)
    message = inbox.messages[0]
    assert "application/pdf" not in {p.get_content_type() for p in message.walk()}
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    link = html.split('href="https://chat.example.test', 1)[1].split('"', 1)[0]
    response = client.get(link)
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"
    assert AuditEvent.objects.filter(event_name="report.downloaded").exists()
    assert client.get(link[:-3] + "xyz").status_code == 400
