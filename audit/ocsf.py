"""Audit events shaped as OCSF 1.3 events (https://schema.ocsf.io), for SIEMs that ingest OCSF natively.

One exported row becomes one OCSF event: the class comes from the table below, the base fields (time in
milliseconds, severity, status, metadata with our product and the event's `chain:sequence` id) from the row, and
every field OCSF has no place for goes to `unmapped`, hash and prev_hash included, so nothing is lost.
"""

from audit.models import ActorType, Outcome
from audit.registry import Category, events

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "chatapp", "vendor_name": "chatapp"}

# OCSF classes we emit: uid -> (name, category_uid, category_name).
CLASSES = {
    3001: ("Account Change", 3, "Identity & Access Management"),
    3002: ("Authentication", 3, "Identity & Access Management"),
    3005: ("User Access Management", 3, "Identity & Access Management"),
    6003: ("API Activity", 6, "Application Activity"),
}

# Our events -> (OCSF class_uid, activity_id, activity_name). The first entry whose key equals the event name, or
# is a prefix of it ending in ".", wins; an event none matches falls back on its category (CATEGORY_CLASSES).
# Why these classes: logins are Authentication (1 Logon, 2 Logoff); creating users and changing memberships
# changes accounts (Account Change: 1 Create, 99 Other); grants are privileges given or taken (User Access
# Management: 1 Assign Privileges, 2 Revoke Privileges); everything else is something done through our API to
# an application resource (API Activity: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other).
EVENT_CLASSES = {
    "auth.login_failed": (3002, 1, "Logon"),
    "auth.login": (3002, 1, "Logon"),
    "auth.logout": (3002, 2, "Logoff"),
    "user.created": (3001, 1, "Create"),
    "member.": (3001, 99, "Other"),
    "rbac.grant.created": (3005, 1, "Assign Privileges"),
    "rbac.grant.revoked": (3005, 2, "Revoke Privileges"),
    "rbac.grant.expired": (3005, 2, "Revoke Privileges"),
}
CATEGORY_CLASSES = dict.fromkeys(Category.values, 6003)

# API Activity's activity from the event's verb (data changes) or the HTTP method (api.request).
API_ACTIVITIES = {
    "created": (1, "Create"), "posted": (1, "Create"), "added": (1, "Create"),
    "read": (2, "Read"), "events_read": (2, "Read"), "exported": (2, "Read"), "verified": (2, "Read"),
    "updated": (3, "Update"), "edited": (3, "Update"), "archived": (3, "Update"), "unarchived": (3, "Update"),
    "retention_changed": (3, "Update"), "deleted": (4, "Delete"), "purged": (4, "Delete"),
}  # fmt: skip
HTTP_ACTIVITIES = {"POST": (1, "Create"), "GET": (2, "Read"), "HEAD": (2, "Read"), "PUT": (3, "Update"),
                   "PATCH": (3, "Update"), "DELETE": (4, "Delete")}  # fmt: skip

STATUS = {Outcome.SUCCESS: (1, "Success"), Outcome.FAILURE: (2, "Failure"), Outcome.DENIED: (2, "Failure")}
# Refusals weigh more than plain failures for a security team: Informational / Low / Medium.
SEVERITY = {Outcome.SUCCESS: (1, "Informational"), Outcome.FAILURE: (2, "Low"), Outcome.DENIED: (3, "Medium")}

MAPPED = frozenset({"occurred_at", "outcome", "actor_id", "actor_label", "api_key_id", "ip", "user_agent",
                    "request_id", "target_type", "target_id", "target_label"})  # fmt: skip


def ocsf_class(row: dict) -> tuple[int, int, str]:
    """(class_uid, activity_id, activity_name) of one exported row."""
    name = row["event_name"]
    for key, mapped in EVENT_CLASSES.items():
        if name == key or (key.endswith(".") and name.startswith(key)):
            return mapped
    if name == "api.request":
        return (6003, *HTTP_ACTIVITIES.get((row.get("metadata") or {}).get("method", ""), (99, "Other")))
    return (CATEGORY_CLASSES[row["category"]], *API_ACTIVITIES.get(name.rsplit(".", 1)[-1], (99, "Other")))


def ocsf_event(row: dict) -> dict:
    """One row of EXPORT_FIELDS (occurred_at a datetime, changes and metadata decoded) as an OCSF event."""
    class_uid, activity_id, activity_name = ocsf_class(row)
    class_name, category_uid, category_name = CLASSES[class_uid]
    status_id, status = STATUS.get(row["outcome"], (0, "Unknown"))
    severity_id, severity = SEVERITY.get(row["outcome"], (0, "Unknown"))
    user = {"uid": row["actor_id"], "name": row["actor_label"], "type": row["actor_type"]}
    if row["actor_type"] == ActorType.API_KEY or row["api_key_id"]:
        user["credential_uid"] = row["api_key_id"]
    event_type = events[row["event_name"]] if row["event_name"] in events else None  # noqa: SIM401 (no .get)
    event = {
        "class_uid": class_uid, "class_name": class_name,
        "category_uid": category_uid, "category_name": category_name,
        "activity_id": activity_id, "activity_name": activity_name, "type_uid": class_uid * 100 + activity_id,
        "time": int(row["occurred_at"].timestamp() * 1000),
        "severity_id": severity_id, "severity": severity, "status_id": status_id, "status": status,
        "status_detail": row["outcome"],
        "message": event_type.render(actor=row["actor_label"], target=row["target_label"]) if event_type else "",
        "metadata": {"version": OCSF_VERSION, "product": PRODUCT, "uid": f"{row['chain']}:{row['sequence']}",
                     "correlation_uid": row["request_id"], "log_name": "audit"},
        "actor": {"user": user},
        "src_endpoint": {"ip": row["ip"]},
        "http_request": {"user_agent": row["user_agent"]},
    }  # fmt: skip
    if row["target_type"]:
        event["resources"] = [{"type": row["target_type"], "uid": row["target_id"], "name": row["target_label"]}]
    if class_uid == 6003:  # API Activity names the operation
        event["api"] = {"operation": row["event_name"], "request": {"uid": row["request_id"]}}
    else:  # the identity classes name the account acted on; for a login, who tried to log in
        event["user"] = {"uid": row["target_id"] or row["actor_id"], "name": row["target_label"] or row["actor_label"]}
    event["unmapped"] = {name: value for name, value in row.items() if name not in MAPPED}
    return event
