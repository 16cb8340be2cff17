"""The feature catalogue: each feature and the events that mean it was used.

Adoption of a feature over a period = people who sent one of its events / people active in that period
(analytics.selectors.feature_adoption). `core` features make up the headline "feature adoption" figure that the
product's success metric (90 % or more) is read from.
"""

from dataclasses import dataclass

from chatapp.kernel.registry import Registry

ADOPTION_TARGET = 0.9


@dataclass(frozen=True)
class Feature:
    key: str
    title: str
    events: tuple[str, ...]
    description: str = ""
    core: bool = True


catalogue: Registry[Feature] = Registry("feature")


def declare(key: str, title: str, events: tuple[str, ...], description: str = "", core: bool = True) -> Feature:
    return catalogue.register(Feature(key, title, tuple(events), description, core))


MESSAGING = declare("messaging", "Messaging", ("message.posted",), "Posting messages in channels.")
CHANNELS = declare("channels", "Channels", ("channel.created",), "Creating channels.")
SSO = declare("sso", "Single sign-on", ("user.sso_logged_in",), "Signing in through the organization's IdP.")
API = declare("api", "API keys", ("api_key.used",), "Automations calling the API with a key.", core=False)
REPORTS = declare("reports", "Scheduled reports", ("report.delivered",), "Receiving scheduled reports.", core=False)
PLUGINS = declare("plugins", "Plugins", ("plugin.action",), "Using plugin actions.", core=False)
DASHBOARDS = declare("dashboards", "Analytics dashboards", ("dashboard.viewed",), "Opening dashboards.", core=False)


def features_of_event(name: str) -> list[Feature]:
    return [feature for feature in catalogue if name in feature.events]


def all_feature_events() -> set[str]:
    return {name for feature in catalogue for name in feature.events}
