from rbac.registry import declare

# Seeing reports is separate from building them: a manager receives and runs reports that an admin defined.
REPORTS_VIEW = declare("reports.view", "See reports, run them on demand and download their PDFs and tables.")
REPORTS_MANAGE = declare(
    "reports.manage", "Create and change reports, schedules and threshold triggers, and choose their recipients."
)
