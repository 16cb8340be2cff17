"""Changing an issue's status: resolve, ignore, reopen. Organization issues need errors.manage in that
organization; chatapp's own server issues (no organization) are the operator's: superusers only."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from analytics.observability import audit_events as events
from analytics.observability.models import ErrorIssue, IssueStatus
from analytics.observability.permissions import ERRORS_MANAGE
from audit.services import audit_record
from rbac.services import require_perm

_EVENTS = {
    IssueStatus.RESOLVED: events.ERROR_ISSUE_RESOLVED,
    IssueStatus.IGNORED: events.ERROR_ISSUE_IGNORED,
    IssueStatus.UNRESOLVED: events.ERROR_ISSUE_REOPENED,
}


def require_manage(*, actor, org) -> None:
    if org is None:
        if not (actor is not None and actor.is_superuser):
            raise PermissionDenied("Only the platform operator manages chatapp's own server issues.")
    else:
        require_perm(user=actor, org=org, perm=ERRORS_MANAGE)


def _set_status(*, actor, org, issue: ErrorIssue, status: str) -> ErrorIssue:
    if issue.organization_id != (org.pk if org is not None else None):
        raise PermissionDenied("The issue belongs to another organization.")
    require_manage(actor=actor, org=org)
    with transaction.atomic():
        locked = ErrorIssue.objects.select_for_update().get(pk=issue.pk)
        before = locked.status
        locked.status = status
        locked.resolved_at = timezone.now() if status == IssueStatus.RESOLVED else None
        locked.save(update_fields=["status", "resolved_at"])
        audit_record(
            org=org, event=_EVENTS[status], actor=actor, target=locked,
            changes={"status": [before, status]},
        )  # fmt: skip
    return locked


def issue_resolve(*, actor, org, issue: ErrorIssue) -> ErrorIssue:
    """Resolved: the next event of this issue marks it regressed (and alerts)."""
    return _set_status(actor=actor, org=org, issue=issue, status=IssueStatus.RESOLVED)


def issue_ignore(*, actor, org, issue: ErrorIssue) -> ErrorIssue:
    """Ignored: still counted, never alerted."""
    return _set_status(actor=actor, org=org, issue=issue, status=IssueStatus.IGNORED)


def issue_reopen(*, actor, org, issue: ErrorIssue) -> ErrorIssue:
    return _set_status(actor=actor, org=org, issue=issue, status=IssueStatus.UNRESOLVED)
