from audit.registry import Category, declare

USER_CREATED = declare(300, "user.created", Category.DATA_CHANGE, "{actor} created user {target}")
ORG_CREATED = declare(301, "org.created", Category.DATA_CHANGE, "{actor} created organization {target}")
MEMBER_ADDED = declare(302, "member.added", Category.DATA_CHANGE, "{actor} added {target} to the organization")
MEMBER_UPDATED = declare(303, "member.updated", Category.DATA_CHANGE, "{actor} changed the membership of {target}")
LOGIN_SUCCEEDED = declare(310, "auth.login", Category.SECURITY, "{actor} logged in")
LOGIN_FAILED = declare(311, "auth.login_failed", Category.SECURITY, "a login as {actor} failed")
LOGGED_OUT = declare(312, "auth.logout", Category.SECURITY, "{actor} logged out")
