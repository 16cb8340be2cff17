"""Every built-in role against the chat API's actions: the documented permission sets, end to end."""

import pytest

from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "member", "guest", "auditor", "billing"]

# action: (method, path template, body, {role: expected status})
MATRIX = {
    "list channels": ("get", "channels/", None, dict.fromkeys(ROLES, 200)),
    "create channel": ("post", "channels/", {"name": "new"}, {
        "owner": 201, "admin": 201, "member": 201, "guest": 403, "auditor": 403, "billing": 403}),
    "see public channel": ("get", "channels/{public}/", None, {
        "owner": 200, "admin": 200, "member": 200, "guest": 404, "auditor": 200, "billing": 404}),
    "see private channel": ("get", "channels/{private}/", None, {
        "owner": 200, "admin": 200, "member": 404, "guest": 404, "auditor": 404, "billing": 404}),
    "read public messages": ("get", "channels/{public}/messages/", None, {
        "owner": 200, "admin": 200, "member": 200, "guest": 404, "auditor": 200, "billing": 404}),
    "read private messages": ("get", "channels/{private}/messages/", None, {
        "owner": 200, "admin": 404, "member": 404, "guest": 404, "auditor": 404, "billing": 404}),
    "post in public channel": ("post", "channels/{public}/messages/", {"body": "hi"}, {
        "owner": 201, "admin": 201, "member": 201, "guest": 404, "auditor": 403, "billing": 404}),
    "archive public channel": ("post", "channels/{public}/archive", None, {
        "owner": 200, "admin": 200, "member": 403, "guest": 404, "auditor": 403, "billing": 404}),
    "add someone to public channel": ("post", "channels/{public}/members/", {"user_id": "{guest_id}"}, {
        "owner": 201, "admin": 201, "member": 201, "guest": 404, "auditor": 403, "billing": 404}),
    "delete another's message": ("delete", "messages/{message}/", None, {
        "owner": 204, "admin": 204, "member": 403, "guest": 404, "auditor": 403, "billing": 404}),
    "search messages": ("get", "messages/search?q=hello", None, dict.fromkeys(ROLES, 200)),
    "list members": ("get", "members/", None, dict.fromkeys(ROLES, 200)),
    "read audit trail": ("get", "audit/events", None, {
        "owner": 200, "admin": 200, "member": 403, "guest": 403, "auditor": 200, "billing": 403}),
}  # fmt: skip

CASES = [(action, role) for action in MATRIX for role in ROLES]


@pytest.mark.parametrize("action, role", CASES, ids=[f"{a}-{r}" for a, r in CASES])
def test_role_matrix(acme, client_for, action, role):
    method, template, body, expected = MATRIX[action]
    user = getattr(acme, role)
    message = MessageFactory(channel=acme.public, author=acme.member if role != "member" else acme.owner,
                             body="hello world")  # fmt: skip
    values = {"public": acme.public.pk, "private": acme.private.pk, "message": message.pk, "guest_id": acme.guest.pk}
    path = f"/api/v1/orgs/acme/{template.format(**values)}"
    if body is not None:
        body = {k: int(v.format(**values)) if isinstance(v, str) and v.startswith("{") else v for k, v in body.items()}
    client = client_for(user)
    response = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
    assert response.status_code == expected[role], response.content


def test_channel_level_grants_apply_to_that_channel_only(acme, client_for):
    from rbac.services.grants import grant_create
    from rbac.services.roles import role_create
    from tests.factories import ChannelFactory

    other = ChannelFactory(organization=acme.org, name="other", created_by=acme.owner)
    moderator = role_create(
        actor=acme.owner, org=acme.org, name="Moderator",
        permissions=["channels.manage", "channels.view_private", "messages.delete_any"],
    )  # fmt: skip
    grant_create(actor=acme.owner, org=acme.org, role=moderator, user=acme.member, resource=acme.public)
    grant_create(actor=acme.owner, org=acme.org, role=moderator, user=acme.member, resource=acme.private)
    client = client_for(acme.member)
    # view_private on the private channel: it is listed now (its messages still need membership)
    names = {c["name"] for c in client.get("/api/v1/orgs/acme/channels/").json()["results"]}
    assert names == {"general", "secret", "other"}
    assert client.get(f"/api/v1/orgs/acme/channels/{acme.private.pk}/messages/").status_code == 404
    # manage and delete_any on #general only
    assert client.post(f"/api/v1/orgs/acme/channels/{acme.public.pk}/archive").status_code == 200
    assert client.post(f"/api/v1/orgs/acme/channels/{other.pk}/archive").status_code == 403
    in_general = MessageFactory(channel=acme.public, author=acme.owner)
    in_other = MessageFactory(channel=other, author=acme.owner)
    assert client.delete(f"/api/v1/orgs/acme/messages/{in_general.pk}/").status_code == 204
    assert client.delete(f"/api/v1/orgs/acme/messages/{in_other.pk}/").status_code == 403
