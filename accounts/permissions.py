from rbac.registry import declare

ORG_VIEW = declare("org.view", "See the organization and its settings.")
ORG_MANAGE = declare("org.manage", "Change the organization's name and policies.")
MEMBERS_VIEW = declare("members.view", "See the organization's members.")
MEMBERS_MANAGE = declare("members.manage", "Change members' roles and deactivate members.")
# Organization export (docs/data-protection.md, "Moving an organization"): every message and member in one file,
# so a code of its own (owners hold it; grantable alone) rather than org.view or org.manage.
ORG_EXPORT = declare(
    "org.export", "Export the organization's data (full archive or anonymized dataset) and download the exports."
)
