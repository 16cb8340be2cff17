"""Permission codes for areas whose own app does not exist yet (roles, teams, billing, API keys, SSO).

When the owning app lands (billing, accounts' API keys and SSO), move its declaration there: the code
(the string) stays the same, so stored roles and grants keep working.
"""

from rbac.registry import declare

ROLES_MANAGE = declare("roles.manage", "Create, edit and delete custom roles, and grant or revoke roles.")
TEAMS_MANAGE = declare("teams.manage", "Create, rename, nest and delete teams and manage any team's members.")
MEMBERS_INVITE = declare("members.invite", "Invite people to join the organization.")
BILLING_MANAGE = declare("billing.manage", "See invoices and change the plan and payment details.")
API_KEYS_MANAGE = declare("api_keys.manage", "Create and revoke the organization's API keys.")
SSO_MANAGE = declare("sso.manage", "Configure single sign-on, directory sync and identity-group mappings.")
