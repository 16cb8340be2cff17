"""LDAP / Active Directory identity providers: their configuration, validated, and turned into django-auth-ldap
settings for one connection.

`IdentityProvider.config` of an LDAP provider (non-secret; the bind password is `secrets["bind_password"]`):

    server_uris        ["ldaps://dc1.example.com", "ldaps://dc2.example.com"]  tried in order
    start_tls          upgrade ldap:// URIs before anything is sent (default: on unless every URI is ldaps://)
    ca_cert            PEM of the CA(s) that issued the server certificate; empty: the system's trust store
    bind_dn            the service account that searches the directory
    user_search_base   "ou=people,dc=example,dc=com"
    user_filter        "(mail=%(user)s)"; %(user)s is the e-mail address typed at login, escaped by django-auth-ldap
    group_type         "groupOfNames", "posixGroup" or "activeDirectory" (AD groups, nested ones included)
    group_search_base  where groups live (default: the directory's user search base)
    required_groups    group DNs: a user must be in at least one of them (empty: no requirement)
    denied_groups      group DNs: members of any of them are refused
    timeout            seconds for connecting and for each operation (default 5)

`attribute_map` names directory attributes: {"email": "mail", "full_name": "cn", "subject": "entryUUID"}.
Certificates are always verified (OPT_X_TLS_DEMAND): there is no setting to turn that off.
"""

import hashlib
import tempfile
from pathlib import Path

import ldap
from django_auth_ldap.config import (
    GroupOfNamesType,
    LDAPSearch,
    LDAPSettings,
    NestedActiveDirectoryGroupType,
    PosixGroupType,
)

from accounts.sso import kinds
from accounts.sso import ldap_events as ldap_events

GROUP_TYPES = {
    "groupOfNames": (GroupOfNamesType, "(objectClass=groupOfNames)"),
    "posixGroup": (PosixGroupType, "(objectClass=posixGroup)"),
    "activeDirectory": (NestedActiveDirectoryGroupType, "(objectClass=group)"),
}
DEFAULT_TIMEOUT = 5
DEFAULT_ATTRIBUTES = {"email": "mail", "full_name": "cn"}
# The stable identifier of an entry when the attribute map names none (a DN changes when a person is renamed).
DEFAULT_SUBJECT = {"activeDirectory": "objectGUID"}
OPENLDAP_SUBJECT = "entryUUID"
AD_ACCOUNT_DISABLED = 0x2  # userAccountControl's ACCOUNTDISABLE bit


def config_of(provider) -> dict:
    config = dict(provider.config or {})
    uris = config.get("server_uris") if isinstance(config.get("server_uris"), list) else []
    # StartTLS unless every URI is already ldaps://; a mix is refused by validate().
    config.setdefault("start_tls", not all(str(uri).lower().startswith("ldaps://") for uri in uris))
    config.setdefault("user_filter", "(mail=%(user)s)")
    config.setdefault("group_type", "groupOfNames")
    config.setdefault("required_groups", [])
    config.setdefault("denied_groups", [])
    config.setdefault("timeout", DEFAULT_TIMEOUT)
    if not config.get("group_search_base"):
        config["group_search_base"] = config.get("user_search_base", "")
    return config


def attribute(provider, name: str) -> str:
    """The directory attribute that holds `name` (email, full_name, subject) for this provider."""
    mapped = (provider.attribute_map or {}).get(name)
    if mapped:
        return mapped
    if name == "subject":
        return DEFAULT_SUBJECT.get(config_of(provider)["group_type"], OPENLDAP_SUBJECT)
    return DEFAULT_ATTRIBUTES.get(name, "")


# --- validation (the kind registry calls this from the create/update services and the admin form) ------------


def _is_dn(value) -> bool:
    return isinstance(value, str) and bool(value.strip()) and ldap.dn.is_dn(value)


def _filter_ok(value: str) -> bool:
    if "%(user)s" not in value or not (value.startswith("(") and value.endswith(")")):
        return False
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def validate(provider) -> dict[str, list[str]]:
    config, errors = config_of(provider), []
    uris = config.get("server_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(uri, str) for uri in uris):
        errors.append("server_uris: give at least one URI, like ldaps://dc1.example.com.")
    else:
        for uri in uris:
            scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
            if scheme not in {"ldap", "ldaps"} or not uri.split("://", 1)[1].strip("/"):
                errors.append(f"server_uris: {uri!r} is not an ldap:// or ldaps:// URI with a host.")
            elif scheme == "ldap" and not config["start_tls"]:
                errors.append(f"server_uris: {uri!r} would send passwords in clear: use ldaps:// or StartTLS.")
            elif scheme == "ldaps" and config["start_tls"]:
                errors.append(f"server_uris: {uri!r} is already TLS: turn StartTLS off for ldaps:// URIs.")
    if not isinstance(config["start_tls"], bool):
        errors.append("start_tls: true or false.")
    if config.get("ca_cert"):
        from cryptography import x509

        try:
            x509.load_pem_x509_certificates(str(config["ca_cert"]).encode())
        except ValueError:
            errors.append("ca_cert: not a PEM certificate (-----BEGIN CERTIFICATE----- ...).")
    if not _is_dn(config.get("bind_dn")):
        errors.append("bind_dn: the DN of the service account that searches the directory.")
    if not (provider.secrets or {}).get("bind_password"):
        errors.append("bind_password: the service account's password is required.")
    for name in ("user_search_base", "group_search_base"):
        if not _is_dn(config.get(name)):
            errors.append(f"{name}: a DN, like ou=people,dc=example,dc=com.")
    if not isinstance(config["user_filter"], str) or not _filter_ok(config["user_filter"]):
        errors.append("user_filter: a parenthesised LDAP filter containing %(user)s, like (mail=%(user)s).")
    if config["group_type"] not in GROUP_TYPES:
        errors.append(f"group_type: one of {', '.join(GROUP_TYPES)}.")
    for name in ("required_groups", "denied_groups"):
        groups = config[name]
        if not isinstance(groups, list) or not all(_is_dn(group) for group in groups):
            errors.append(f"{name}: a list of group DNs.")
    timeout = config["timeout"]
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 60:
        errors.append("timeout: whole seconds between 1 and 60.")
    return {"config": errors} if errors else {}


# --- django-auth-ldap settings for one provider ----------------------------------------------------------------


_ca_directory: Path | None = None


def _ca_file(pem: str) -> str:
    """The CA bundle as a file (libldap reads CAs from files), named by its hash so a changed CA is a new file.

    The directory is this process's own (mkdtemp: private, unpredictable): in a shared /tmp another local user
    could otherwise plant a file under the expected name and have us trust their CA.
    """
    global _ca_directory
    if _ca_directory is None:
        _ca_directory = Path(tempfile.mkdtemp(prefix="chatapp-ldap-ca-"))
    path = _ca_directory / f"{hashlib.sha256(pem.encode()).hexdigest()}.pem"
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", dir=_ca_directory, delete=False, suffix=".tmp") as partial:
            partial.write(pem)
        Path(partial.name).replace(path)  # atomic: a concurrent login never reads half a file
    return str(path)


def connection_options(config: dict) -> dict:
    timeout = config["timeout"]
    options = {
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_REFERRALS: 0,  # AD answers searches with referrals the service account cannot follow
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
        ldap.OPT_X_TLS_PROTOCOL_MIN: ldap.OPT_X_TLS_PROTOCOL_TLS1_2,
    }
    if config.get("ca_cert"):
        options[ldap.OPT_X_TLS_CACERTFILE] = _ca_file(config["ca_cert"])
    # Last (dicts keep order): a new TLS context for this connection, built from the options above, so one
    # organization's CA never leaks into another's connections through libldap's global context.
    options[ldap.OPT_X_TLS_NEWCTX] = 0
    return options


class ProviderSettings(LDAPSettings):
    """django-auth-ldap settings made from one provider's row, never from Django's AUTH_LDAP_* settings."""

    def __init__(self, values: dict):
        self._prefix = "IDENTITY_PROVIDER_"  # only used in django-auth-ldap's error messages
        for name, default in {**self.defaults, **values}.items():
            setattr(self, name, default)


def directory_settings(provider) -> ProviderSettings:
    config = config_of(provider)
    group_type, group_filter = GROUP_TYPES[config["group_type"]]
    attrlist = ["*", attribute(provider, "subject")]
    if config["group_type"] == "activeDirectory":
        attrlist.append("userAccountControl")
    return ProviderSettings(
        {
            "SERVER_URI": " ".join(config["server_uris"]),
            "START_TLS": config["start_tls"],
            "CONNECTION_OPTIONS": connection_options(config),
            "BIND_DN": config["bind_dn"],
            "BIND_PASSWORD": (provider.secrets or {}).get("bind_password", ""),
            "USER_SEARCH": LDAPSearch(config["user_search_base"], ldap.SCOPE_SUBTREE, config["user_filter"], attrlist),
            "USER_ATTRLIST": attrlist,
            "GROUP_SEARCH": LDAPSearch(config["group_search_base"], ldap.SCOPE_SUBTREE, group_filter),
            "GROUP_TYPE": group_type(),
            # Never cache: a group removed in the directory must take effect at the very next login.
            "CACHE_TIMEOUT": 0,
            # Users are created and updated by the SSO core's provisioning, not by django-auth-ldap.
            "ALWAYS_UPDATE_USER": False,
        }
    )


kinds.register("ldap", validate=validate, secret_fields=["bind_password"], login_url=None)

# Registers the sync task wherever Django starts (web and worker): Celery only autodiscovers <app>.tasks.
from accounts.sso import ldap_tasks as ldap_tasks  # noqa: E402
