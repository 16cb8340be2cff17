"""Alerts about an issue (new, regressed, spike) by e-mail and webhook.

Organization issues alert their project's addresses and webhook; chatapp's own server issues alert the operator
(OBSERVABILITY_ALERT_EMAILS, OBSERVABILITY_ALERT_WEBHOOK_URL). Webhooks go through the SSRF-safe transport of
audit streaming (public addresses only, no redirects). An alert carries the issue's title, culprit and counts,
which were scrubbed before they were stored.
"""

import json
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from analytics.observability import audit_events as events
from analytics.observability.models import ErrorIssue, IssueStatus
from analytics.observability.services.errors import SYSTEM
from audit.models import Outcome
from audit.services import audit_record
from audit.streaming import transport

logger = logging.getLogger(__name__)

REASONS = {"new": "New issue", "regressed": "Regression", "spike": "Spike"}


def _payload(issue: ErrorIssue, reason: str) -> dict:
    return {
        "type": f"error_issue.{reason}",
        "issue": {
            "id": issue.pk, "title": issue.title, "culprit": issue.culprit, "level": issue.level,
            "status": issue.status, "times_seen": issue.times_seen, "users_affected": issue.users_affected,
            "first_seen": issue.first_seen.isoformat(), "last_seen": issue.last_seen.isoformat(),
            "project": issue.project.name if issue.project_id else "chatapp server",
            "organization": issue.organization.slug if issue.organization_id else None,
        },
    }  # fmt: skip


def issue_alert_send(*, issue_id: int, reason: str) -> dict:
    """Send the alert; returns {"email": n, "webhook": status or error}. Safe to run twice (it only notifies)."""
    issue = ErrorIssue.objects.select_related("project", "organization").filter(pk=issue_id).first()
    if issue is None or issue.status == IssueStatus.IGNORED or reason not in REASONS:
        return {}
    if issue.project_id:
        emails, webhook = issue.project.alert_emails, issue.project.alert_webhook_url
    else:
        emails, webhook = settings.OBSERVABILITY_ALERT_EMAILS, settings.OBSERVABILITY_ALERT_WEBHOOK_URL
    result, failed = {}, []
    if emails:
        context = {"issue": issue, "reason": REASONS[reason],
                   "admin_path": reverse("admin:observability_errorissue_change", args=[issue.pk])}  # fmt: skip
        subject = f"[chatapp errors] {REASONS[reason]}: {issue.title}"[:200]
        try:
            result["email"] = send_mail(
                subject, render_to_string("observability/issue_alert.txt", context), None, list(emails)
            )
        except Exception as exc:  # SMTP down: recorded, retried by nothing (the next spike alerts again)
            logger.warning("errors: alert e-mail failed (%s)", type(exc).__name__)
            failed.append(f"email: {type(exc).__name__}")
    if webhook:
        body = json.dumps(_payload(issue, reason)).encode()
        try:
            status = transport.post(webhook, body, {"Content-Type": "application/json"})
            result["webhook"] = status
            if not 200 <= status < 300:
                failed.append(f"webhook answered {status}")
        except transport.DeliveryError as exc:
            result["webhook"] = str(exc)
            failed.append(f"webhook: {exc}")
    if emails or webhook:
        with transaction.atomic():
            audit_record(
                org=issue.organization, event=events.ERROR_ALERT_FAILED if failed else events.ERROR_ALERT_SENT,
                actor=SYSTEM, target=issue, outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
                metadata={"reason": reason, "emails": len(emails), "webhook": bool(webhook), "failures": failed},
            )  # fmt: skip
    return result
