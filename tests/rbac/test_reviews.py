"""Access reviews: campaign -> items -> decisions (applied through the real services) -> reminders -> close."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from audit.models import AuditEvent
from chatapp.kernel.errors import Conflict
from rbac.models import AccessReview, AccessReviewItem, Grant, Team, TeamMember
from rbac.services import reviews
from rbac.services.roles import built_in_role
from tests.factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(org, suffix):
    return f"/api/v1/orgs/{org.org.slug}/{suffix}"


def soon(days=10):
    return timezone.now() + timedelta(days=days)


def test_lifecycle_from_campaign_to_revocation(acme, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    mod_grant = grant(role, user=acme.member)
    acme.member.last_login = timezone.now() - timedelta(days=200)
    acme.member.save()
    MessageFactory(channel=acme.public, author=acme.member, created=timezone.now() - timedelta(days=5))
    review = reviews.review_create(actor=acme.admin, org=acme.org, name="Q3 review", due_at=soon())
    items = {(item.kind, item.user_id): item for item in review.items.all()}
    assert len(items) == 6 + 1  # six base-role memberships, one grant
    member_base = items[("base_role", acme.member.pk)]
    assert member_base.last_activity is not None and member_base.inactive is False  # posted recently
    assert items[("base_role", acme.guest.pk)].inactive is True  # never logged in, never posted
    assert items[("grant", acme.member.pk)].role_name == "Mods"

    with pytest.raises(Conflict, match="open"):
        reviews.item_decide(actor=acme.owner, org=acme.org, item=member_base, decision="keep")
    reviews.review_open(actor=acme.admin, org=acme.org, review=review)
    with pytest.raises(PermissionDenied, match="not a reviewer"):  # reviewers are the owners
        reviews.item_decide(actor=acme.admin, org=acme.org, item=member_base, decision="keep")
    with pytest.raises(PermissionDenied, match="own access"):
        reviews.item_decide(actor=acme.owner, org=acme.org, item=items[("base_role", acme.owner.pk)], decision="keep")

    decided = reviews.item_decide(
        actor=acme.owner, org=acme.org, item=items[("grant", acme.member.pk)], decision="revoke", comment="Left team"
    )
    assert not Grant.objects.filter(pk=mod_grant.pk).exists()
    assert decided.outcome == "applied" and decided.decided_by == acme.owner and decided.comment == "Left team"
    names = list(AuditEvent.objects.filter(organization=acme.org).values_list("event_name", flat=True))
    assert {"rbac.review.created", "rbac.review.opened", "rbac.grant.revoked", "rbac.review.item_decided",
            "rbac.review.item_applied"} <= set(names)  # fmt: skip

    guest = items[("base_role", acme.guest.pk)]
    reviews.item_decide(actor=acme.owner, org=acme.org, item=guest, decision="revoke")
    assert Membership.objects.get(organization=acme.org, user=acme.guest).is_active is False
    auditor_role = built_in_role(org=acme.org, key="guest")
    reviews.item_decide(
        actor=acme.owner, org=acme.org, item=items[("base_role", acme.billing.pk)], decision="change",
        new_role=auditor_role,
    )  # fmt: skip
    assert Membership.objects.get(organization=acme.org, user=acme.billing).role == "guest"
    with pytest.raises(Conflict, match="already been decided"):
        reviews.item_decide(actor=acme.owner, org=acme.org, item=guest, decision="keep")


def test_change_of_a_grant_replaces_it_and_refusals_change_nothing(acme, role_factory, grant):
    old = role_factory(acme.org, "Mods", ["channels.manage"])
    new = role_factory(acme.org, "Viewers", ["channels.view_private"])
    grant(old, user=acme.member, resource=acme.public)
    review = reviews.review_create(
        actor=acme.admin, org=acme.org, name="Channels", due_at=soon(), scope="resource_type",
        resource_type="chat.channel", reviewer_kind="users", reviewers=[acme.admin, acme.auditor],
    )  # fmt: skip
    reviews.review_open(actor=acme.admin, org=acme.org, review=review)
    [item] = review.items.all()
    # The auditor reviews but cannot revoke grants (no roles.manage): the decision is refused, nothing written.
    with pytest.raises(PermissionDenied, match=r"roles\.manage"):
        reviews.item_decide(actor=acme.auditor, org=acme.org, item=item, decision="revoke")
    item.refresh_from_db()
    assert item.decision == "" and Grant.objects.filter(role=old).exists()
    reviews.item_decide(actor=acme.admin, org=acme.org, item=item, decision="change", new_role=new)
    replaced = Grant.objects.get(user=acme.member)
    assert replaced.role == new and replaced.resource_id == acme.public.pk


def test_team_scope_reviewed_by_maintainers(acme, role_factory, grant):
    team = Team.objects.create(organization=acme.org, name="Support")
    TeamMember.objects.create(organization=acme.org, team=team, user=acme.member, is_maintainer=True)
    TeamMember.objects.create(organization=acme.org, team=team, user=acme.guest)
    grant(role_factory(acme.org, "Inviters", ["members.invite"]), team=team)
    review = reviews.review_create(
        actor=acme.admin, org=acme.org, name="Support", due_at=soon(), scope="team", team=team,
        reviewer_kind="team_maintainers",
    )  # fmt: skip
    assert sorted(review.items.values_list("kind", flat=True)) == ["grant", "team_member", "team_member"]
    reviews.review_open(actor=acme.admin, org=acme.org, review=review)
    guest_item = review.items.get(kind="team_member", user=acme.guest)
    reviews.item_decide(actor=acme.member, org=acme.org, item=guest_item, decision="revoke")
    assert not TeamMember.objects.filter(team=team, user=acme.guest).exists()


def test_reminders_in_the_outbox_once_a_day(acme):
    with time_machine.travel("2026-03-01 09:00Z", tick=False):
        review = reviews.review_create(
            actor=acme.admin, org=acme.org, name="Quarterly", due_at=timezone.now() + timedelta(days=5),
            reviewer_kind="users", reviewers=[acme.owner, acme.auditor],
        )  # fmt: skip
        assert reviews.reviews_remind() == 0  # a draft is not reminded
        reviews.review_open(actor=acme.admin, org=acme.org, review=review)
        assert reviews.reviews_remind() == 0  # due in 5 days, reminders start 3 days before
    with time_machine.travel("2026-03-03 10:00Z", tick=False):
        assert reviews.reviews_remind() == 2
        assert sorted(message.to[0] for message in mail.outbox) == [acme.auditor.email, acme.owner.email]
        assert "Quarterly" in mail.outbox[0].subject and "6 item(s)" in mail.outbox[0].body
        assert reviews.reviews_remind() == 0  # safe to run twice
    with time_machine.travel("2026-03-04 10:00Z", tick=False):
        assert reviews.reviews_remind() == 2
    assert AuditEvent.objects.filter(event_name="rbac.review.reminded").count() == 2


def test_close_at_due_date_applies_the_default_action(acme, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    with time_machine.travel("2026-03-01 09:00Z", tick=False):
        kept = grant(role, user=acme.member)
        dropped = grant(role, user=acme.guest)
        review = reviews.review_create(
            actor=acme.admin, org=acme.org, name="Mods", due_at=timezone.now() + timedelta(days=7), scope="role",
            role=role, default_action="revoke",
        )  # fmt: skip
        reviews.review_open(actor=acme.admin, org=acme.org, review=review)
        reviews.item_decide(actor=acme.owner, org=acme.org, item=review.items.get(grant=kept), decision="keep")
    with time_machine.travel("2026-03-07 09:00Z", tick=False):
        assert reviews.reviews_close_due() == 0
    with time_machine.travel("2026-03-08 09:01Z", tick=False):
        assert reviews.reviews_close_due() == 1
        assert reviews.reviews_close_due() == 0
    review.refresh_from_db()
    assert review.status == "closed"
    assert Grant.objects.filter(pk=kept.pk).exists() and not Grant.objects.filter(pk=dropped.pk).exists()
    item = review.items.get(user=acme.guest)
    assert item.decision == "revoke" and item.decided_by is None and item.outcome == "applied"
    revoked = AuditEvent.objects.get(event_name="rbac.grant.revoked")
    assert revoked.actor_id == str(acme.admin.pk)  # default actions act for the review's creator


def test_default_revocation_that_fails_is_recorded_not_fatal(acme):
    review = reviews.review_create(
        actor=acme.admin, org=acme.org, name="Owners", due_at=soon(), scope="role",
        role=built_in_role(org=acme.org, key="owner"), default_action="revoke",
    )  # fmt: skip
    reviews.review_open(actor=acme.admin, org=acme.org, review=review)
    reviews.reviews_close_due(now=soon(11))
    item = review.items.get()
    assert item.outcome == "failed" and "refused" in item.outcome_detail  # an admin cannot remove an owner
    assert Membership.objects.get(organization=acme.org, user=acme.owner).is_active


# --- API -------------------------------------------------------------------------------------------------------


def test_api_lifecycle_bulk_decisions_and_summary(acme, client_for, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    grant(role, user=acme.member)
    grant(role, user=acme.guest)
    admin, owner = client_for(acme.admin), client_for(acme.owner)
    response = admin.post(
        url(acme, "rbac/reviews/"),
        {"name": "Q3", "scope": "role", "role_id": role.pk, "due_at": soon().isoformat(), "reviewer_kind": "users",
         "reviewer_ids": [acme.owner.pk]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    review = response.json()
    assert review["status"] == "draft" and review["item_count"] == 2 and review["reviewer_ids"] == [acme.owner.pk]
    base = url(acme, f"rbac/reviews/{review['id']}")
    assert admin.patch(f"{base}/", {"name": "Q3 mods"}).json()["name"] == "Q3 mods"
    assert admin.post(f"{base}/open").json()["status"] == "open"
    items = owner.get(f"{base}/items/?decision=undecided").json()["results"]
    assert len(items) == 2
    ids = [item["id"] for item in items]
    response = owner.post(f"{base}/decide", {"item_ids": ids, "decision": "revoke", "comment": "tidy"}, format="json")
    assert response.status_code == 200, response.json()
    assert {item["decision"] for item in response.json()} == {"revoke"}
    assert not Grant.objects.filter(role=role).exists()
    assert owner.get(f"{base}/items/?decision=undecided").json()["results"] == []
    assert owner.post(f"{base}/decide", {"item_ids": ids, "decision": "keep"}, format="json").status_code == 409

    summary = admin.get(f"{base}/summary").json()
    assert summary["counts"]["decided"] == 2 and summary["counts"]["by_decision"]["revoke"] == 2
    assert summary["reviewers"] == [
        {"user_id": acme.owner.pk, "email": acme.owner.email, "decided": 2, "keep": 0, "revoke": 2, "change": 0}
    ]
    response = admin.get(f"{base}/summary?type=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["decided_by"] for row in rows} == {acme.owner.email} and {row["decision"] for row in rows} == {"revoke"}
    assert admin.get(f"{base}/summary?type=xml").status_code == 400
    assert admin.post(f"{base}/close").json()["status"] == "closed"
    assert admin.delete(f"{base}/").status_code == 409  # evidence stays


def test_bulk_decision_is_all_or_nothing(acme, client_for, role_factory, grant):
    grant(role_factory(acme.org, "Mods", ["channels.manage"]), user=acme.member)
    review = reviews.review_create(actor=acme.admin, org=acme.org, name="All", due_at=soon())
    reviews.review_open(actor=acme.admin, org=acme.org, review=review)
    ids = list(review.items.values_list("pk", flat=True))  # includes the owner's own item: refused
    response = client_for(acme.owner).post(
        url(acme, f"rbac/reviews/{review.pk}/decide"), {"item_ids": ids, "decision": "keep"}, format="json"
    )
    assert response.status_code == 403
    assert not review.items.exclude(decision="").exists()


def test_members_get_403_and_reviewers_see_only_theirs(acme, client_for):
    member = client_for(acme.member)
    response = member.post(url(acme, "rbac/reviews/"), {"name": "x", "due_at": soon().isoformat()}, format="json")
    assert response.status_code == 403
    review = reviews.review_create(actor=acme.admin, org=acme.org, name="Mine", due_at=soon())
    assert member.get(url(acme, "rbac/reviews/")).json()["results"] == []
    assert member.get(url(acme, f"rbac/reviews/{review.pk}/")).status_code == 404
    assert member.get(url(acme, f"rbac/reviews/{review.pk}/items/")).status_code == 404
    assert member.post(url(acme, f"rbac/reviews/{review.pk}/open")).status_code == 404
    assert client_for(acme.auditor).get(url(acme, f"rbac/reviews/{review.pk}/")).status_code == 200
    assert client_for(acme.owner).get(url(acme, "rbac/reviews/")).json()["results"][0]["id"] == review.pk


def test_cross_org_is_404(acme, globex, client_for):
    review = reviews.review_create(actor=globex.admin, org=globex.org, name="Globex", due_at=soon())
    admin = client_for(acme.admin)
    for path in [f"rbac/reviews/{review.pk}/", f"rbac/reviews/{review.pk}/items/", f"rbac/reviews/{review.pk}/summary"]:
        assert admin.get(url(acme, path)).status_code == 404, path
    assert admin.post(url(acme, f"rbac/reviews/{review.pk}/open")).status_code == 404
    assert admin.delete(url(acme, f"rbac/reviews/{review.pk}/")).status_code == 404
    assert client_for(globex.owner).get(url(acme, "rbac/reviews/")).status_code == 404
    response = admin.post(
        url(acme, "rbac/reviews/"),
        {"name": "x", "due_at": soon().isoformat(), "reviewer_kind": "users", "reviewer_ids": [globex.owner.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert AccessReview.objects.filter(organization=acme.org).count() == 0


def test_input_errors_are_400(acme, client_for):
    admin = client_for(acme.admin)
    cases = [
        {"name": "x", "due_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "due_at": soon().isoformat(), "scope": "role"},
        {"name": "x", "due_at": soon().isoformat(), "scope": "resource_type", "resource_type": "accounts.user"},
        {"name": "x", "due_at": soon().isoformat(), "reviewer_kind": "team_maintainers"},
        {"name": "x", "due_at": soon().isoformat(), "reviewer_kind": "users"},
        {"name": "x", "due_at": soon().isoformat(), "colour": "red"},
    ]
    for body in cases:
        assert admin.post(url(acme, "rbac/reviews/"), body, format="json").status_code == 400, body
    assert not AccessReview.objects.exists()


def test_item_list_query_count_does_not_grow(acme, client_for, role_factory, grant):
    owner = client_for(acme.owner)
    review = reviews.review_create(actor=acme.admin, org=acme.org, name="Small", due_at=soon())

    def count(pk):
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(url(acme, f"rbac/reviews/{pk}/items/")).status_code == 200
            assert owner.get(url(acme, "rbac/reviews/")).status_code == 200
            assert owner.get(url(acme, f"rbac/reviews/{pk}/summary")).status_code == 200
        return len(captured)

    small = count(review.pk)
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    for index in range(10):
        user = UserFactory()
        Membership.objects.create(organization=acme.org, user=user)
        grant(role, user=user)
    big = reviews.review_create(
        actor=acme.admin, org=acme.org, name="Big", due_at=soon(), reviewer_kind="users", reviewers=[acme.owner]
    )
    reviews.review_open(actor=acme.admin, org=acme.org, review=big)
    reviews.items_decide(
        actor=acme.owner, org=acme.org, review=big, decision="keep",
        item_ids=big.items.exclude(user=acme.owner).values_list("pk", flat=True)[:8],
    )  # fmt: skip
    assert AccessReviewItem.objects.filter(review=big).count() > 20
    assert count(big.pk) == small


def test_admin_reviews_and_bulk_decisions(acme, client, role_factory, grant):
    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)
    grant(role_factory(acme.org, "Mods", ["channels.manage"]), user=acme.member)
    due = soon()
    response = client.post(
        "/admin/rbac/accessreview/add/",
        {"organization": acme.org.pk, "name": "Admin review", "description": "", "scope": "organization",
         "scope_role": "", "scope_team": "", "scope_resource_type": "", "reviewer_kind": "owners",
         "due_at_0": due.strftime("%Y-%m-%d"), "due_at_1": due.strftime("%H:%M:%S"), "default_action": "keep",
         "inactive_days": "90", "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
         "items-MAX_NUM_FORMS": "1000"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    review = AccessReview.objects.get(name="Admin review")
    assert review.items.count() == 7
    assert client.get(f"/admin/rbac/accessreview/{review.pk}/change/").status_code == 200
    client.post("/admin/rbac/accessreview/", {"action": "open_reviews", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.status == "open"
    assert client.get(f"/admin/rbac/accessreviewitem/?review__id__exact={review.pk}").status_code == 200
    grant_item = review.items.get(kind="grant")
    client.post("/admin/rbac/accessreviewitem/", {"action": "revoke_items", "_selected_action": [grant_item.pk]})
    grant_item.refresh_from_db()
    assert grant_item.decision == "revoke" and grant_item.decided_by == root
    assert not Grant.objects.exists()
