"""Tenant isolation on every organization-scoped route, found by walking the URLconf (new routes included)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone

from accounts.models import ApiKey, IdentityProvider
from accounts.services import api_key_create
from chatapp.chat.models import LegalHold
from chatapp.kernel.api import OrgScopedViewSet
from plugins.models import Component
from rbac.models import AccessReview, Grant, Role, Team, TeamMember
from tests.factories import ChannelFactory, MembershipFactory, MessageFactory

pytestmark = pytest.mark.django_db


def org_routes():
    """(path template, view set class, {http method: action}) for every route under /api/v1/orgs/<org_slug>/."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, route)
            elif "<slug:org_slug>" in route:
                yield route, pattern.callback

    routes = []
    for route, callback in walk(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None)
        assert view_class and issubclass(view_class, OrgScopedViewSet), f"{route} is not an OrgScopedViewSet"
        routes.append((route, view_class, tuple(m for m in callback.actions if m != "head")))
    return routes


ROUTES = org_routes()


def fill(route, org_slug, ids):
    path = route.replace("<slug:org_slug>", org_slug)
    return "/" + re.sub(r"<\w+:(\w+)>", lambda m: str(ids[m.group(1)]), path)


def has_object(route) -> bool:
    """The route names an object (an id, a key, a plugin id), not only the organization."""
    return bool(re.search(r"<(?!slug:org_slug>)\w+:\w+>", route))


def test_every_org_route_is_covered():
    assert len(ROUTES) >= 20


@pytest.mark.parametrize("route, view_class, actions", ROUTES, ids=[r[0] for r in ROUTES])
def test_other_orgs_objects_are_404_on_every_route_and_method(acme, globex, client_for, route, view_class, actions):
    foreign_message = MessageFactory(channel=globex.public, author=globex.member, body="globex secret")
    team = Team.objects.create(organization=globex.org, name="globex team")
    TeamMember.objects.create(organization=globex.org, team=team, user=globex.member)
    role = Role.objects.create(organization=globex.org, name="globex role", permissions=["channels.view"])
    grant = Grant.objects.create(organization=globex.org, role=role, user=globex.member)
    review = AccessReview.objects.create(organization=globex.org, name="globex review", due_at=timezone.now())
    api_key = api_key_create(actor=globex.member, org=globex.org, name="globex key", scopes=["channels.view"]).key
    provider = IdentityProvider.objects.create(
        organization=globex.org, kind="oidc", slug="globex-idp", name="globex idp", email_domains=["globex.test"]
    )
    hold = LegalHold.objects.create(organization=globex.org, channel=globex.public, reason="globex matter")
    pk_by_route = {"rbac/reviews/": review.pk, "messages/": foreign_message.pk, "rbac/roles/": role.pk,
                   "rbac/teams/": team.pk, "rbac/grants/": grant.pk, "channels/": globex.public.pk,
                   "api-keys/": api_key.pk, "identity-providers/": provider.pk,
                   "retention/holds/": hold.pk}  # fmt: skip
    pk = next((value for prefix, value in pk_by_route.items() if f"<slug:org_slug>/{prefix}" in route), None)
    ids = {
        "pk": pk,
        "channel_pk": globex.public.pk,
        "team_pk": team.pk,
        "user_id": globex.member.pk,
        "review_pk": review.pk,
        # plugins: a component of globex, and a plugin id (installed or not, it is not acme's)
        "key": Component.objects.create(
            organization=globex.org, key="globex-card", name="globex card", template={}
        ).key,
        "plugin_id": "com.globex.plugin",
        "integration": "github",  # an integration acme has not installed: its actions are 404 there too
        "name": "members.csv",  # a report run's table (the run id is globex's or none)
    }
    intruder = client_for(acme.owner)  # an owner: every permission, but in the wrong organization
    # the word the foreign message holds (without naming its organization), and a period for reports that need one
    params = {"q": "secret", "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    for method in actions:
        # through the other organization's slug: as if it did not exist
        response = getattr(intruder, method)(fill(route, "globex", ids), params if method == "get" else {})
        assert response.status_code == 404, (method, route, response.content)
        if has_object(route):
            # the other organization's object ids through one's own slug: as if they did not exist
            response = getattr(intruder, method)(fill(route, "acme", ids), params if method == "get" else {})
            assert response.status_code == 404, (method, route, response.content)
        elif method == "get" and route.endswith("rbac/explain"):
            # explain about another organization's member: the same 400 as for a user who does not exist
            response = intruder.get(fill(route, "acme", ids), {"user": globex.member.pk, "permission": "org.view"})
            assert response.status_code == 400 and "globex" not in response.content.decode()
        elif method == "get":
            # one's own lists show nothing of the other organization
            response = intruder.get(fill(route, "acme", ids), params)
            assert response.status_code == 200
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert "globex" not in body.decode()
    foreign_message.refresh_from_db()
    globex.public.refresh_from_db()
    assert foreign_message.deleted is None and not globex.public.is_archived
    assert Grant.objects.filter(pk=grant.pk).exists() and TeamMember.objects.filter(team=team).count() == 1
    api_key.refresh_from_db()
    assert api_key.revoked_at is None and not ApiKey.objects.filter(rotated_from=api_key).exists()
    provider.refresh_from_db()
    assert provider.name == "globex idp" and not globex.org.__class__.objects.get(pk=globex.org.pk).sso_enforced
    hold.refresh_from_db()
    assert hold.released_at is None


LISTS = [
    ("/api/v1/orgs/acme/members/", lambda acme: MembershipFactory(organization=acme.org)),
    ("/api/v1/orgs/acme/channels/", lambda acme: ChannelFactory(organization=acme.org)),
    ("/api/v1/orgs/acme/messages/search", lambda acme: MessageFactory(channel=acme.public, body="needle")),
]


@pytest.mark.parametrize("url, make", LISTS, ids=[u for u, _ in LISTS])
def test_list_query_count_is_the_same_for_one_row_and_a_full_page(acme, client_for, url, make):
    for _ in range(30):
        make(acme)
    client = client_for(acme.owner)
    counts = []
    for size in (1, 30):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": size, "q": "needle"} if "search" in url else {"page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
