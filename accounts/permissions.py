from rbac.registry import declare

ORG_VIEW = declare("org.view", "See the organization and its settings.")
ORG_MANAGE = declare("org.manage", "Change the organization's name and policies.")
MEMBERS_VIEW = declare("members.view", "See the organization's members.")
MEMBERS_MANAGE = declare("members.manage", "Change members' roles and deactivate members.")
