"""E-mail domains proven by DNS TXT records, against a real DNS server on loopback."""

import pytest
from rest_framework.test import APIClient

from accounts.models import DomainClaim, IdentityProvider
from accounts.services.sso import providers_for_email
from audit.models import AuditEvent
from tests.accounts.dns_server import TxtServer

URL = "/api/v1/orgs/{org}/sso-domains/"


@pytest.fixture(scope="module")
def dns_server():
    server = TxtServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _resolver(settings, dns_server):
    settings.DNS_NAMESERVERS = [dns_server.address]
    dns_server.records.clear()
    dns_server.fail = False


def provider(org, slug, domains=("acme.test",)):
    return IdentityProvider.objects.create(
        organization=org, kind="oidc", slug=slug, name=slug, email_domains=list(domains), config={}
    )


def claim(client, org="acme", domain="acme.test"):
    response = client.post(URL.format(org=org), {"domain": domain}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_claim_publish_verify(acme, dns_server, verified_client_for):
    client = verified_client_for(acme.owner)
    body = claim(client, domain="  ACME.test ")
    assert body["domain"] == "acme.test" and body["status"] == "pending"
    assert body["record_name"] == "_chatapp-challenge.acme.test"
    assert body["record_value"].startswith("chatapp-domain-verification=")

    verify = URL.format(org="acme") + f"{body['id']}/verify"
    not_yet = client.post(verify)
    assert not_yet.status_code == 200 and not_yet.json()["status"] == "pending"
    assert "No TXT record" in not_yet.json()["last_error"]

    dns_server.records["_chatapp-challenge.acme.test"] = ["v=spf1 -all", body["record_value"]]
    done = client.post(verify).json()
    assert done["status"] == "verified" and done["verified_at"] and not done["last_error"]
    names = list(AuditEvent.objects.filter(organization=acme.org).values_list("event_name", flat=True))
    assert {"sso.domain_claimed", "sso.domain_verification_failed", "sso.domain_verified"} <= set(names)


def test_a_dns_failure_is_reported_not_a_500(acme, dns_server, verified_client_for):
    client = verified_client_for(acme.owner)
    body = claim(client)
    dns_server.fail = True
    response = client.post(URL.format(org="acme") + f"{body['id']}/verify")
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and "DNS lookup" in response.json()["last_error"]


def test_a_verified_claim_takes_the_domain_from_a_squatter(acme, globex, dns_server, verified_client_for):
    squatter = provider(globex.org, "squat")  # globex listed acme.test first
    assert providers_for_email("ann@acme.test") == [squatter]
    ours = provider(acme.org, "okta", domains=())

    body = claim(verified_client_for(acme.owner))
    dns_server.records["_chatapp-challenge.acme.test"] = [body["record_value"]]
    verified_client_for(acme.owner).post(URL.format(org="acme") + f"{body['id']}/verify")

    ours.email_domains = ["acme.test"]
    ours.save()
    assert providers_for_email("ann@acme.test") == [ours]  # the squatter no longer routes acme.test

    # globex can neither claim it now nor add it to a provider through the API
    response = verified_client_for(globex.owner).post(URL.format(org="globex"), {"domain": "acme.test"}, format="json")
    assert response.status_code == 400 and "verified this domain" in str(response.json())


def test_verified_domains_required_by_policy(acme, settings, dns_server, verified_client_for):
    settings.SSO_REQUIRE_VERIFIED_DOMAINS = True
    okta = provider(acme.org, "okta")
    assert providers_for_email("ann@acme.test") == []  # listed but unverified: routes nowhere
    body = claim(verified_client_for(acme.owner))
    dns_server.records["_chatapp-challenge.acme.test"] = [body["record_value"]]
    verified_client_for(acme.owner).post(URL.format(org="acme") + f"{body['id']}/verify")
    assert providers_for_email("ann@acme.test") == [okta]


def test_only_one_organization_verifies_a_domain(acme, globex, dns_server, verified_client_for):
    ours = claim(verified_client_for(acme.owner))
    theirs = claim(verified_client_for(globex.owner), org="globex")  # pending claims may coexist
    dns_server.records["_chatapp-challenge.acme.test"] = [ours["record_value"], theirs["record_value"]]
    assert verified_client_for(acme.owner).post(URL.format(org="acme") + f"{ours['id']}/verify").status_code == 200
    response = verified_client_for(globex.owner).post(URL.format(org="globex") + f"{theirs['id']}/verify")
    assert response.status_code == 409
    assert DomainClaim.objects.filter(status="verified").count() == 1


def test_release_needs_step_up_and_is_audited(acme, client_for, verified_client_for):
    body = claim(verified_client_for(acme.owner))
    detail = URL.format(org="acme") + f"{body['id']}/"
    assert client_for(acme.owner).delete(detail).status_code == 403
    assert verified_client_for(acme.owner).delete(detail).status_code == 204
    assert not DomainClaim.objects.exists()
    assert AuditEvent.objects.filter(event_name="sso.domain_released").count() == 1


def test_bad_input_permissions_and_isolation(acme, globex, client_for, verified_client_for):
    client = verified_client_for(acme.owner)
    for bad in ({}, {"domain": "not a domain"}, {"domain": "x" * 300}, {"domain": "acme.test", "extra": 1}):
        assert client.post(URL.format(org="acme"), bad, format="json").status_code == 400, bad
    assert claim(client)["domain"] == "acme.test"
    assert client.post(URL.format(org="acme"), {"domain": "acme.test"}, format="json").status_code == 409
    assert client_for(acme.member).get(URL.format(org="acme")).status_code == 403
    theirs = DomainClaim.objects.create(organization=globex.org, domain="globex.test", token="t")
    assert client.get(URL.format(org="acme") + f"{theirs.pk}/").status_code == 404
    assert client.post(URL.format(org="acme") + f"{theirs.pk}/verify").status_code == 404
    assert client.delete(URL.format(org="acme") + f"{theirs.pk}/").status_code == 404
    assert APIClient().get(URL.format(org="acme")).status_code in (401, 403)
    assert DomainClaim.objects.count() == 2


def test_admin_claims_shows_the_record_and_verifies(acme, client, dns_server):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/accounts/domainclaim/add/", {"organization": acme.org.pk, "domain": "Acme.Test"}, follow=True
    )
    assert response.status_code == 200
    made = DomainClaim.objects.get()
    assert made.domain == "acme.test"
    page = client.get(f"/admin/accounts/domainclaim/{made.pk}/change/")
    assert made.record_value.encode() in page.content and b"_chatapp-challenge.acme.test" in page.content

    dns_server.records[made.record_name] = [made.record_value]
    result = client.post(
        "/admin/accounts/domainclaim/", {"action": "verify_now", "_selected_action": [made.pk]}, follow=True
    )
    shown = [str(m) for m in result.context["messages"]]
    assert "acme.test is verified." in shown, shown
    made.refresh_from_db()
    assert made.status == "verified"
    assert client.get("/admin/accounts/domainclaim/?status__exact=verified").status_code == 200
