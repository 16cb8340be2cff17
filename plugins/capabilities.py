"""The catalogues of the plugin system: capabilities a plugin may request and events it may subscribe to.

Both are declared here, in code, with the kernel's write-once `Registry`; the manifest schema's enums, the
consent screen and docs/plugins/reference.md are generated from them. A capability names the WIT interface
that reaches it, so the marketplace scanner can compare a component's imports with its manifest, and the RBAC
permission the plugin's service identity must also hold (the second check on every call).
"""

from dataclasses import dataclass

from chatapp.kernel.registry import Registry


@dataclass(frozen=True)
class Capability:
    key: str
    description: str  # what the org admin consents to, in their words
    interface: str = ""  # the WIT interface (chatapp:plugin/<interface>) whose import reaches it
    permission: str = ""  # the RBAC code the plugin's service identity must also hold, if any
    sensitive: bool = False  # shown with a warning on the consent screen


@dataclass(frozen=True)
class EventType:
    key: str
    description: str
    capability: str  # what a subscriber must also have consented to, to see the payload


capabilities: Registry[Capability] = Registry("plugin capability")
event_types: Registry[EventType] = Registry("plugin event")


def declare(key: str, description: str, **kwargs) -> Capability:
    return capabilities.register(Capability(key, description, **kwargs))


def declare_event(key: str, description: str, capability: str) -> EventType:
    return event_types.register(EventType(key, description, capability))


CHANNELS_READ = declare(
    "channels.read", "See the names and topics of the channels it was granted.", interface="channels",
    permission="channels.view",
)  # fmt: skip
MESSAGES_READ = declare(
    "messages.read", "Read the messages of the channels it was granted.", interface="messages",
    permission="channels.view", sensitive=True,
)  # fmt: skip
MESSAGES_POST = declare(
    "messages.post", "Post messages in the channels it was granted.", interface="messages", permission="messages.post"
)
MEMBERS_READ = declare(
    "members.read", "See the names of the organization's members.", interface="members", permission="members.view"
)
KV_STORE = declare(
    "kv.store", "Keep its own data (a key-value store with a quota) in this organization.", interface="kv"
)
HTTP_OUTBOUND = declare(
    "http.outbound", "Send data to the internet hosts its manifest lists.", interface="http", sensitive=True
)
COMMANDS_REGISTER = declare("commands.register", "Add slash commands.")
ACTIONS_REGISTER = declare("actions.register", "Add actions to the menu of messages.")
EVENTS_SUBSCRIBE = declare("events.subscribe", "Be told when things happen (messages posted, members joining...).")
COMPONENTS_RENDER = declare("components.render", "Show cards and forms in chat.")
SCHEDULED_JOBS = declare("jobs.schedule", "Run on a schedule.")

# Interfaces every plugin may import: they reach nothing of the organization's.
FREE_INTERFACES = frozenset({"log", "handler"})

declare_event("message.posted", "A message was posted in a channel the plugin was granted.", "messages.read")
declare_event("member.joined", "Someone joined the organization.", "members.read")
declare_event("channel.created", "A channel was created.", "channels.read")
declare_event("channel.member_added", "Someone was added to a channel the plugin was granted.", "channels.read")
