"""The shipped report templates: a starting definition that a report copies (and may then change)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportTemplate:
    key: str
    title: str
    description: str
    period: str
    sections: list


def _metric(key: str, title: str = "") -> dict:
    return {"type": "metric", "title": title, "params": {"metric": key, "periods": 8}}


TEMPLATES = {
    t.key: t
    for t in (
        ReportTemplate(
            "weekly_usage",
            "Weekly usage",
            "Messages, active and new members, and the busiest channels.",
            "week",
            [
                _metric("active_members"),
                _metric("messages_posted"),
                _metric("new_members"),
                {
                    "type": "comparison",
                    "title": "",
                    "params": {"metrics": ["messages_posted", "active_members", "new_members"]},
                },
                {"type": "channels_by_activity", "title": "", "params": {}},
            ],
        ),
        ReportTemplate(
            "monthly_executive",
            "Monthly executive summary",
            "Adoption and activity over the month, against the month before.",
            "month",
            [
                {
                    "type": "text",
                    "title": "About this report",
                    "params": {
                        "markdown": (
                            "Active users, adoption and activity for the month. Performance against the SLO, "
                            "errors and "
                            "revenue join this report once the analytics metrics are available."
                        )
                    },
                },
                {
                    "type": "comparison",
                    "title": "",
                    "params": {"metrics": ["active_members", "messages_posted", "new_members", "failed_logins"]},
                },
                _metric("active_members"),
                _metric("messages_posted"),
                _metric("new_members"),
            ],
        ),
        ReportTemplate(
            "security_compliance",
            "Security and compliance",
            "Admin actions, permission and policy changes, failed logins, API keys, MFA and access reviews.",
            "month",
            [
                {"type": "compliance", "title": "", "params": {}},
                _metric("failed_logins"),
                _metric("admin_actions"),
                {"type": "failed_logins", "title": "", "params": {}},
                {"type": "audit_summary", "title": "", "params": {}},
                {"type": "api_keys", "title": "", "params": {}},
                {"type": "access_reviews", "title": "", "params": {}},
            ],
        ),
        ReportTemplate(
            "access_review_evidence",
            "Access review evidence",
            "The organization's access reviews and who holds which role, for auditors.",
            "quarter",
            [
                {"type": "access_reviews", "title": "", "params": {}},
                {"type": "members", "title": "Members and roles", "params": {}},
                {"type": "compliance", "title": "", "params": {}},
            ],
        ),
    )
}
