"""The product event catalogue: every event a service records with `track()` is declared here, in code.

Clients (the events API, PostHog SDKs) may also send their own event names (`$pageview`, `checkout_opened`):
those are stored and counted by name, but a *server* event must be declared, and `track()` with an undeclared
name raises in tests and development (ANALYTICS_STRICT_EVENTS) and is dropped with a log line in production.
"""

from dataclasses import dataclass

from chatapp.kernel.registry import Registry


@dataclass(frozen=True)
class EventType:
    key: str
    description: str

    def __str__(self):
        return self.key


catalogue: Registry[EventType] = Registry("analytics event")


def declare(key: str, description: str) -> EventType:
    return catalogue.register(EventType(key, description))


MESSAGE_POSTED = declare("message.posted", "A member posted a message in a channel.")
CHANNEL_CREATED = declare("channel.created", "A member created a channel.")
MEMBER_JOINED = declare("member.joined", "A person joined the organization (accepted an invitation).")
USER_LOGGED_IN = declare("user.logged_in", "A person signed in with a password (and MFA when required).")
SSO_LOGGED_IN = declare("user.sso_logged_in", "A person signed in through SAML, OIDC or LDAP.")
API_KEY_USED = declare("api_key.used", "A request authenticated with an API key.")
REPORT_DELIVERED = declare("report.delivered", "A scheduled report was delivered.")
PLUGIN_ACTION = declare("plugin.action", "A plugin action ran.")
FEATURE_USED = declare("feature.used", "A feature was used (property `feature` names it).")
DASHBOARD_VIEWED = declare("dashboard.viewed", "A member opened an analytics dashboard.")
