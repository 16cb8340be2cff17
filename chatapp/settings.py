"""chatapp settings: everything comes from the environment (django-environ).

Two profiles: development (the default; SQLite, filesystem broker and file e-mail in var/, no servers
needed) and production (CHATAPP_ENV=production; secrets required, HTTPS hardening on). See README.md,
"Configuration", for every variable.
"""

import base64
import re
import secrets
import ssl
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

CHATAPP_ENV = env.str("CHATAPP_ENV", default="development")
if CHATAPP_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"CHATAPP_ENV must be 'development' or 'production', not {CHATAPP_ENV!r}")
PRODUCTION = CHATAPP_ENV == "production"

# Runtime state of the embedded default (SQLite database, broker folders, e-mails, generated secret).
VAR_DIR = Path(env.str("CHATAPP_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=not PRODUCTION)


def _server_secret(name: str, generate, file: str) -> str:
    """The environment variable `name`: required in production; in development generated once by `generate()`
    into var/`file` (readable by the owner only) and kept, so a restart keeps sessions, keys and chains valid."""
    if value := env.str(name, default=""):
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} is required when CHATAPP_ENV=production")
    key_file = VAR_DIR / file
    if not key_file.exists():
        key_file.write_text(generate())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _random_base64_32() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _base64_32_keys(name: str, raw: str, ids: tuple[str, str] = (r"[^=,\s]+", "")) -> dict[str, str]:
    """Parse "id=<base64 of 32 random bytes>,..." (newest first), refusing short keys and repeated ids.
    `ids` is the pattern key ids must match and how the error message describes it."""
    pattern, described = ids
    keys = {}
    for item in raw.split(","):
        key_id, _, encoded = item.strip().partition("=")
        try:
            valid = len(base64.b64decode(encoded, validate=True)) == 32
        except ValueError:
            valid = False
        if not re.fullmatch(pattern, key_id) or key_id in keys or not valid:
            raise ImproperlyConfigured(
                f"{name} entries look like id=<base64 of 32 random bytes>, with unique ids{described}"
            )
        keys[key_id] = encoded
    return keys


SECRET_KEY = _server_secret("SECRET_KEY", lambda: secrets.token_urlsafe(64), "secret_key")


def _audit_hmac_keys() -> dict[str, str]:
    """AUDIT_HMAC_KEYS="k2=secret,k1=older": the first seals new audit events, all of them verify old ones.

    Separate from SECRET_KEY so that rotating one never breaks the other.
    """
    keys = {}
    for item in _server_secret("AUDIT_HMAC_KEYS", lambda: "dev=" + secrets.token_urlsafe(48), "audit_hmac_key").split(
        ","
    ):
        key_id, _, secret = item.strip().partition("=")
        if not key_id or len(secret) < 32:
            raise ImproperlyConfigured("AUDIT_HMAC_KEYS entries look like id=secret, with secrets of 32+ characters")
        keys[key_id] = secret
    return keys


AUDIT_HMAC_KEYS = _audit_hmac_keys()

# API_KEY_HMAC_KEY: the server key API keys are stored under (HMAC-SHA256; docs/security.md, "API keys").
# Changing it invalidates every API key.
API_KEY_HMAC_KEY = _server_secret("API_KEY_HMAC_KEY", lambda: secrets.token_urlsafe(48), "api_key_hmac_key")
if len(API_KEY_HMAC_KEY) < 32:
    raise ImproperlyConfigured("API_KEY_HMAC_KEY must be at least 32 characters")
# Owners are e-mailed this many days before a key expires (daily beat task accounts.api_keys_warn_expiring).
API_KEY_EXPIRY_WARNING_DAYS = env.int("API_KEY_EXPIRY_WARNING_DAYS", default=7)

# AUDIT_SIGNING_KEYS="k1=<base64 of a 32-byte Ed25519 seed>": signs audit checkpoints (the first key signs).
AUDIT_SIGNING_KEYS = _base64_32_keys(
    "AUDIT_SIGNING_KEYS",
    _server_secret("AUDIT_SIGNING_KEYS", lambda: "dev=" + _random_base64_32(), "audit_signing_key"),
)
# api.request events are buffered per worker and written after a response once this many seconds have passed
# (or this many wait); with AUDIT_API_AUTOFLUSH off they wait for an explicit flush (the tests do that).
AUDIT_API_AUTOFLUSH = env.bool("AUDIT_API_AUTOFLUSH", default=True)
AUDIT_API_FLUSH_SECONDS = env.float("AUDIT_API_FLUSH_SECONDS", default=1.0)
AUDIT_API_FLUSH_MAX = env.int("AUDIT_API_FLUSH_MAX", default=500)
# Audit streaming may connect to private/loopback addresses and plain http (tests and on-prem collectors only).
AUDIT_STREAM_ALLOW_PRIVATE = env.bool("AUDIT_STREAM_ALLOW_PRIVATE", default=False)
# SSO (OIDC discovery, JWKS, token URLs): allow private/loopback addresses and plain http. Tests and on-premises
# IdPs only; off by default because the URLs are chosen by organization admins (SSRF).
SSO_ALLOW_PRIVATE = env.bool("SSO_ALLOW_PRIVATE", default=False)
# SAML: our public https origin for entity IDs and ACS URLs (set it in production: without it they come from the
# request), and how many days ahead an expiring IdP certificate is reported.
SAML_SP_BASE_URL = env.str("SAML_SP_BASE_URL", default="")
SAML_CERTIFICATE_WARNING_DAYS = env.int("SAML_CERTIFICATE_WARNING_DAYS", default=30)
# Refused SSO responses (SAML ACS, OIDC callback) allowed per client address and provider per window; beyond it
# the callback answers 429 without parsing or auditing each junk post (one sso.login_throttled event instead).
SSO_FAILURE_LIMIT = env.int("SSO_FAILURE_LIMIT", default=20)
SSO_FAILURE_WINDOW_SECONDS = env.int("SSO_FAILURE_WINDOW_SECONDS", default=300)
# E-mail domains proven by DNS TXT records (accounts.services.domains): with this on, identity providers serve
# only domains their organization verified. DNS_NAMESERVERS ("host" or "host:port") overrides the system resolver.
SSO_REQUIRE_VERIFIED_DOMAINS = env.bool("SSO_REQUIRE_VERIFIED_DOMAINS", default=False)
DNS_NAMESERVERS = env.list("DNS_NAMESERVERS", default=[])
# Redirect URIs (custom schemes) of the mobile and desktop apps that may receive a browser SSO sign-in
# (accounts.services.app_handoff). Exact matches only.
SSO_APP_REDIRECT_URIS = env.list("SSO_APP_REDIRECT_URIS", default=["chatapp://sso-callback"])
# Proxies in front of the app that append to X-Forwarded-For; the client address audited is the entry before them.
AUDIT_TRUSTED_PROXIES = env.int("AUDIT_TRUSTED_PROXIES", default=0)

# FIELD_ENCRYPTION_KEYS="k2=<base64 of 32 random bytes>,k1=<older>": AES-256-GCM keys of encrypted fields. The
# first key encrypts, every key decrypts (docs/data-protection.md, "Rotating keys"). Ids are letters, digits,
# '-' and '_' only: the envelope "v1:<id>:..." also carries organization key ids, "org.<hex>".
FIELD_ENCRYPTION_KEYS = _base64_32_keys(
    "FIELD_ENCRYPTION_KEYS",
    _server_secret("FIELD_ENCRYPTION_KEYS", lambda: "dev=" + _random_base64_32(), "field_encryption_key"),
    ids=(r"[A-Za-z0-9_-]{1,32}", " of letters, digits, '-' and '_'"),
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when CHATAPP_ENV=production")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "chatapp.kernel",
    "accounts",
    "rbac",
    "audit",
    "chatapp.chat",
    "analytics.revenue",
    "analytics.observability",
    "plugins.integrations",
    "plugins",
    "analytics",
    "reports",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "chatapp.kernel.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "chatapp.kernel.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
    "audit.context.AuditContextMiddleware",
    "audit.api_requests.ApiRequestAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout found during authentication into the lockout response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "chatapp.urls"
WSGI_APPLICATION = "chatapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "chatapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------


def _is_local(host: str) -> bool:
    """A unix socket or loopback address: traffic that never crosses a network, so TLS is not required."""
    return not host or host.startswith("/") or host in {"localhost", "127.0.0.1", "::1", "[::1]"}


# django_prometheus' backends wrap Django's own ones to count queries and errors for /metrics.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
_PROMETHEUS_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
_db["ENGINE"] = _PROMETHEUS_ENGINES.get(_db["ENGINE"], _db["ENGINE"])
if _db["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process read while the Celery worker writes; IMMEDIATE avoids "database is locked"
    # on lock upgrades. SQLite is the no-server default, not a production database.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests run on an in-memory database (said explicitly: tools only recognise Django's own engine name).
    _db["TEST"] = {"NAME": ":memory:"}
else:
    # Persistent connections with health checks: the fast path under gunicorn sync workers (PITFALLS.md).
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    # TLS to PostgreSQL: libpq's sslmode (verify-full checks the server's certificate and name against
    # DATABASE_SSLROOTCERT) and an optional client certificate. A `?sslmode=` in DATABASE_URL works too.
    for _var, _option in (
        ("DATABASE_SSLMODE", "sslmode"),
        ("DATABASE_SSLROOTCERT", "sslrootcert"),
        ("DATABASE_SSLCERT", "sslcert"),
        ("DATABASE_SSLKEY", "sslkey"),
    ):
        if _value := env.str(_var, default=""):
            _db["OPTIONS"][_option] = _value
    _SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
    if _db["OPTIONS"].get("sslmode", "prefer") not in _SSLMODES:
        raise ImproperlyConfigured(f"DATABASE_SSLMODE must be one of {', '.join(_SSLMODES)}")
    if (
        PRODUCTION
        and not _is_local(_db.get("HOST", ""))
        and _db["OPTIONS"].get("sslmode", "prefer") not in {"require", "verify-ca", "verify-full"}
        and not env.bool("DATABASE_ALLOW_PLAINTEXT", default=False)
    ):
        # libpq's default "prefer" falls back to clear text without a word: refuse it across a network.
        raise ImproperlyConfigured(
            "DATABASE_SSLMODE must be require, verify-ca or verify-full for a remote database when "
            "CHATAPP_ENV=production (or set DATABASE_ALLOW_PLAINTEXT=true)"
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# rediss:// URLs (cache and Celery broker) speak TLS; the server's certificate is checked against
# REDIS_SSL_CA_CERTS (or the system's CAs) unless REDIS_SSL_CERT_REQS says otherwise.
REDIS_SSL_CERT_REQS = env.str("REDIS_SSL_CERT_REQS", default="required")
if REDIS_SSL_CERT_REQS not in {"required", "optional", "none"}:
    raise ImproperlyConfigured("REDIS_SSL_CERT_REQS must be 'required', 'optional' or 'none'")
REDIS_SSL_CA_CERTS = env.str("REDIS_SSL_CA_CERTS", default="") or None


def _redis_tls_options(url: str) -> dict:
    if not url.startswith("rediss://"):
        if (
            PRODUCTION
            and not _is_local(urlsplit(url).hostname or "")
            and not env.bool("REDIS_ALLOW_PLAINTEXT", default=False)
        ):
            raise ImproperlyConfigured(
                "Redis URLs must be rediss:// (TLS) for a remote server when CHATAPP_ENV=production "
                "(or set REDIS_ALLOW_PLAINTEXT=true)"
            )
        return {}
    return {
        "ssl_cert_reqs": REDIS_SSL_CERT_REQS,
        "ssl_ca_certs": REDIS_SSL_CA_CERTS,
        "ssl_check_hostname": REDIS_SSL_CERT_REQS == "required",
    }


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chatapp",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2, **_redis_tls_options(REDIS_URL)},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "chatapp"}}

# --- Auth -----------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out user or address before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Addresses whose domain an enabled LDAP provider serves are checked by that directory, and only by it.
    "accounts.sso.ldap_backend.LDAPDirectoryBackend",
    "accounts.backends.EmailBackend",
]
# Argon2id for new and changed passwords; PBKDF2 hashes made before still verify and are upgraded at login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",  # Argon2id at OWASP's cost (accounts/hashers.py says why)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
ARGON2_MEMORY_KIB = env.int("ARGON2_MEMORY_KIB", default=19456)
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_PARALLELISM = env.int("ARGON2_PARALLELISM", default=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/security/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"

# django-allauth: browser pages for login, sign-up (by invitation), e-mail verification and password reset.
ACCOUNT_ADAPTER = "accounts.auth.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Open sign-up lets anyone create an account (development); otherwise only an invitation does.
ACCOUNT_OPEN_SIGNUP = env.bool("ACCOUNT_OPEN_SIGNUP", default=not PRODUCTION)
# allauth's own limits stay on beside axes: they cover sign-up, reset and verification e-mails.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}

# django-otp: TOTP codes of 6 digits every 30 s, accepted one step either side; failures wait 1, 2, 4, 8 s...
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="chatapp")
OTP_TOTP_TOLERANCE = 1
OTP_TOTP_THROTTLE_FACTOR = 1
# No drift learning: a device that once accepted a late code must not widen its window for good.
OTP_TOTP_SYNC = False
# Step-up: sensitive actions need an MFA verification this recent (an organization may ask for less).
MFA_STEP_UP_MINUTES = env.int("MFA_STEP_UP_MINUTES", default=15)

# Data-subject requests (docs/data-protection.md, "Data-subject requests"): days a self-service erasure waits
# before it runs (the person may cancel meanwhile), and who is told daily about requests past their legal due date.
PRIVACY_ERASURE_GRACE_DAYS = env.int("PRIVACY_ERASURE_GRACE_DAYS", default=14)
PRIVACY_TEAM_EMAILS = env.list("PRIVACY_TEAM_EMAILS", default=[])
# WebAuthn relying party: the site's host name; browsers refuse any other origin.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default="chatapp")
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=["http://localhost:8000"])

# django-axes: N failed logins for one account from one address lock that pair out for the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.auth.lockout.username_of"
AXES_CLIENT_IP_CALLABLE = "accounts.auth.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.auth.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "code", "otp_token"]

# --- Internationalisation and time ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail ---------------------------------------------------------------------------------------------
# Development writes every e-mail to var/mail/ so a newcomer can read them; production names an SMTP URL.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _email = environ.Env.email_url_config(EMAIL_URL)
    vars().update(_email)
    # smtp+tls:// (STARTTLS, port 587) or smtp+ssl:// (implicit TLS, port 465); Django verifies the certificate.
    if (
        PRODUCTION
        and _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
        and not (_email.get("EMAIL_USE_TLS") or _email.get("EMAIL_USE_SSL"))
        and not env.bool("EMAIL_ALLOW_PLAINTEXT", default=False)
    ):
        raise ImproperlyConfigured(
            "EMAIL_URL must be smtp+tls:// or smtp+ssl:// when CHATAPP_ENV=production "
            "(or set EMAIL_ALLOW_PLAINTEXT=true for a relay on the same host)"
        )
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chatapp <noreply@chatapp.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Request limits -------------------------------------------------------------------------------------
# Bodies above this answer 413 before anything parses them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)

# --- REST framework -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first: its WWW-Authenticate (Bearer) is the one a 401 carries.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "chatapp.kernel.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "chatapp.kernel.pagination.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chatapp.kernel.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "chatapp.kernel.throttling.AnonRateThrottle",
        "chatapp.kernel.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 200

SPECTACULAR_SETTINGS = {
    "TITLE": "chatapp API",
    "DESCRIPTION": "The chatapp enterprise API. Organization-scoped resources live under "
    "/api/v1/orgs/{org_slug}/. Errors are RFC 9457 problem details.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from drf-spectacular-sidecar: the docs work with no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "accounts.models.Membership.Role",
        "AccessReviewStatusEnum": "rbac.models.AccessReview.Status",
        "StreamKindEnum": "audit.models.StreamKind",
        "ApiKeyKindEnum": "accounts.models.ApiKey.Kind",
        "RetentionRunStatusEnum": "chatapp.chat.models.RetentionRun.Status",
        "AuditVerifyStatusEnum": [("ok", "ok"), ("broken", "broken")],  # named once a third "status" enum came
        "PrivacyRequestStatusEnum": "accounts.models.PrivacyRequest.Status",
        "PrivacyRequestKindEnum": "accounts.models.PrivacyRequest.Kind",
        "PrivacyRequestRegulationEnum": "accounts.models.PrivacyRequest.Regulation",
        "OrgExportKindEnum": "accounts.models.OrgExport.Kind",
        "OrgExportStatusEnum": "accounts.models.OrgExport.Status",
        "OrgExportFormatEnum": "accounts.models.OrgExport.Format",
    },
}

# --- Celery ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
else:
    # Redelivery after a lost worker: an unacked message comes back after the visibility timeout,
    # which must exceed the longest task (hard limit below).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) and (_broker_tls := _redis_tls_options(CELERY_BROKER_URL)):
    # kombu wants ssl module constants here (and refuses a rediss:// URL without them).
    CELERY_BROKER_USE_SSL = {
        "ssl_cert_reqs": {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}[
            REDIS_SSL_CERT_REQS
        ],
        "ssl_ca_certs": REDIS_SSL_CA_CERTS,
        "ssl_check_hostname": _broker_tls["ssl_check_hostname"],
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, and a worker killed mid-task gives it back: tasks are idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging --------------------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "console")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'console', not {LOG_FORMAT!r}")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = None  # configured by chatapp.kernel.logging below, after Django's defaults are off
from chatapp.kernel.logging import configure_logging  # noqa: E402

configure_logging(log_format=LOG_FORMAT, level=LOG_LEVEL)

# --- Health and metrics ---------------------------------------------------------------------------------
PROMETHEUS_EXPORT_MIGRATIONS = False
# Addresses allowed to read /metrics (empty: anyone; put it behind the proxy's allowlist in production).
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# --- Security -------------------------------------------------------------------------------------------
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(days=14).total_seconds()))
# With Redis, sessions are read from the shared cache and written through to the database: one query less on
# every signed-in request. Not with the per-process local-memory cache, where a revoked session could live on
# in another worker's memory (revocation deletes through the session engine, which clears the cache too).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    # TLS ends at the proxy, which says so in X-Forwarded-Proto (deploy/nginx.conf).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Health and metrics are probed over plain HTTP on the private network.
    SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]

# --- Revenue analytics (analytics.revenue, docs/revenue.md) ----------------------------------------------
# STRIPE_WEBHOOK_SECRET="whsec_new,whsec_old": the Stripe endpoint's signing secrets; a signature made with any
# of them is accepted (rotation). Empty: the webhook answers 503 and stores nothing. Never logged.
STRIPE_WEBHOOK_SECRET = env.list("STRIPE_WEBHOOK_SECRET", default=[])
# Oldest (and furthest in the future) a signed timestamp may be, in seconds: Stripe's libraries use 300.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Every figure is reported in this currency, converted with the exchange rates kept in the admin.
REVENUE_REPORTING_CURRENCY = env.str("REVENUE_REPORTING_CURRENCY", default="USD").upper()
# LTV = ARPA / monthly logo churn, the churn averaged over this many months (one month alone is too noisy).
REVENUE_LTV_CHURN_MONTHS = env.int("REVENUE_LTV_CHURN_MONTHS", default=6)
# Named here rather than in SPECTACULAR_SETTINGS above, so the revenue block stays in one place.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["RevenueSubscriptionStatusEnum"] = (
    "analytics.revenue.models.SubscriptionStatus"
)
# --- Organization export and import (accounts.services.portability; docs/data-protection.md) --------------
# Where export archives are written (and a tmp/ work area); keep it off the web root, on a disk with room for the
# largest organization. Files are deleted PORTABILITY_EXPORT_TTL_DAYS after they are ready (hourly beat task).
PORTABILITY_EXPORT_DIR = Path(env.str("PORTABILITY_EXPORT_DIR", default=str(VAR_DIR / "exports")))
PORTABILITY_EXPORT_TTL_DAYS = env.int("PORTABILITY_EXPORT_TTL_DAYS", default=7)
# An export's Celery task may run this long (seconds); a job left running longer by a dead worker is restarted.
PORTABILITY_EXPORT_TIME_LIMIT = env.int("PORTABILITY_EXPORT_TIME_LIMIT", default=3600)
PORTABILITY_COMPRESSLEVEL = env.int("PORTABILITY_COMPRESSLEVEL", default=6)
# Names this instance in the manifests it writes (the source of an archive, for the operator who imports it).
PORTABILITY_INSTANCE_NAME = env.str("PORTABILITY_INSTANCE_NAME", default="chatapp")
# --- Performance metrics and error tracking (analytics.observability; docs/observability.md) --------------
# Request metrics are counted in each process and written every OBSERVABILITY_FLUSH_SECONDS (after a response).
MIDDLEWARE.insert(
    MIDDLEWARE.index("chatapp.kernel.middleware.RequestIdMiddleware") + 1,
    "analytics.observability.middleware.ObservabilityMiddleware",
)
OBSERVABILITY_AUTOFLUSH = env.bool("OBSERVABILITY_AUTOFLUSH", default=True)
OBSERVABILITY_FLUSH_SECONDS = env.float("OBSERVABILITY_FLUSH_SECONDS", default=10.0)
# The release and alert targets of chatapp's own server errors (the operator's).
OBSERVABILITY_RELEASE = env.str("OBSERVABILITY_RELEASE", default="")
OBSERVABILITY_ALERT_EMAILS = env.list("OBSERVABILITY_ALERT_EMAILS", default=[])
OBSERVABILITY_ALERT_WEBHOOK_URL = env.str("OBSERVABILITY_ALERT_WEBHOOK_URL", default="")
# A spike: this many events of one issue in an hour, and this many times its hourly mean over the previous day.
OBSERVABILITY_SPIKE_MIN_EVENTS = env.int("OBSERVABILITY_SPIKE_MIN_EVENTS", default=50)
OBSERVABILITY_SPIKE_FACTOR = env.float("OBSERVABILITY_SPIKE_FACTOR", default=10.0)
# Sentry ingest: the largest envelope once decompressed (bodies are capped by MAX_REQUEST_BODY_BYTES before).
OBSERVABILITY_INGEST_MAX_BYTES = env.int("OBSERVABILITY_INGEST_MAX_BYTES", default=5 * 1024 * 1024)
OBSERVABILITY_EVENT_RETENTION_DAYS = env.int("OBSERVABILITY_EVENT_RETENTION_DAYS", default=30)
OBSERVABILITY_METRICS_RETENTION_DAYS = env.int("OBSERVABILITY_METRICS_RETENTION_DAYS", default=400)
# SLO targets of the performance view.
OBSERVABILITY_SLO_P95_MS = env.float("OBSERVABILITY_SLO_P95_MS", default=100.0)
OBSERVABILITY_SLO_ERROR_RATE = env.float("OBSERVABILITY_SLO_ERROR_RATE", default=0.001)
OBSERVABILITY_SLO_AVAILABILITY = env.float("OBSERVABILITY_SLO_AVAILABILITY", default=0.999)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["ErrorIssueStatusEnum"] = "analytics.observability.models.IssueStatus"
# Three apps take an `interval` with different choices: each its own enum name in the schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["PerformanceIntervalEnum"] = "analytics.observability.selectors.INTERVALS"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["RevenueIntervalEnum"] = "analytics.revenue.selectors.INTERVALS"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["AnalyticsIntervalEnum"] = "analytics.models.Tile.Interval"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["BillingIntervalEnum"] = "analytics.revenue.models.Interval"
# --- Integrations (plugins.integrations) ---------------------------------------------------------------
# Outbound HTTP to admin-chosen URLs (chatapp.kernel.outbound): ports allowed besides none, and internal hosts the
# operator trusts (exact names, ".suffix" for a domain, or CIDR networks; they may use any port).
OUTBOUND_ALLOWED_PORTS = env.list("OUTBOUND_ALLOWED_PORTS", cast=int, default=[80, 443])
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
# Integrations may connect to private/loopback addresses and plain http (tests and on-premises only).
INTEGRATIONS_ALLOW_PRIVATE = env.bool("INTEGRATIONS_ALLOW_PRIVATE", default=False)
# Outgoing webhooks: attempts before the dead letter, and days of failing before an endpoint is disabled.
INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS = env.int("INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS", default=8)
INTEGRATIONS_WEBHOOK_DISABLE_AFTER_DAYS = env.int("INTEGRATIONS_WEBHOOK_DISABLE_AFTER_DAYS", default=5)
# Incoming webhooks: requests per minute per hook.
INTEGRATIONS_INCOMING_RATE_PER_MINUTE = env.int("INTEGRATIONS_INCOMING_RATE_PER_MINUTE", default=60)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["WebhookDeliveryStatusEnum"] = "plugins.integrations.models.DeliveryStatus"
# --- Plugins (plugins/, docs/plugins/) ------------------------------------------------------------------
import tomllib  # noqa: E402

# The version plugins' min/max_chatapp_version are checked against: the project's own version.
CHATAPP_VERSION = env.str(
    "CHATAPP_VERSION", default=tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]
)
# Built-in plugins by module path, besides those installed packages declare in the `chatapp.plugins` entry points.
CHATAPP_BUILTIN_PLUGINS = env.list("CHATAPP_BUILTIN_PLUGINS", default=[])
# Where compiled components and uploaded packages are kept (compiled files are only loaded from here).
PLUGIN_STORE_DIR = Path(env.str("PLUGIN_STORE_DIR", default=str(VAR_DIR / "plugins")))
# Development mode: unsigned and unapproved plugins install (shown as such everywhere). Never in production.
PLUGIN_DEV_MODE = env.bool("PLUGIN_DEV_MODE", default=False)
# Sandbox limits per event: WebAssembly fuel (instructions, roughly), linear memory, wall-clock time.
PLUGIN_FUEL = env.int("PLUGIN_FUEL", default=200_000_000)
PLUGIN_MEMORY_BYTES = env.int("PLUGIN_MEMORY_BYTES", default=128 * 1024 * 1024)
PLUGIN_TIMEOUT_MS = env.int("PLUGIN_TIMEOUT_MS", default=2000)
# Health: this many failures within the window disable a plugin in an organization (its admins are told).
PLUGIN_FAILURE_LIMIT = env.int("PLUGIN_FAILURE_LIMIT", default=5)
PLUGIN_FAILURE_WINDOW_SECONDS = env.int("PLUGIN_FAILURE_WINDOW_SECONDS", default=600)
PLUGIN_KV_QUOTA_BYTES = env.int("PLUGIN_KV_QUOTA_BYTES", default=1024 * 1024)
PLUGIN_PACKAGE_MAX_BYTES = env.int("PLUGIN_PACKAGE_MAX_BYTES", default=64 * 1024 * 1024)
# SHA-256 of packages or components known to be malicious: refused at upload and never run.
PLUGIN_BLOCKED_SHA256 = env.list("PLUGIN_BLOCKED_SHA256", default=[])
# Package uploads (POST /api/v1/marketplace/publishers/<slug>/packages) may exceed the general body limit.
BODY_SIZE_LIMIT_BY_PATH_PREFIX = {"/api/v1/marketplace/publishers/": PLUGIN_PACKAGE_MAX_BYTES + 64 * 1024}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"PluginKindEnum": "plugins.models.Plugin.Kind", "PluginVersionStatusEnum": "plugins.models.PluginVersion.Status"}
)
# --- Analytics (analytics/) -----------------------------------------------------------------------------
ANALYTICS_ENABLED = env.bool("ANALYTICS_ENABLED", default=True)
# Raw events are kept this long (whole monthly partitions on PostgreSQL); rollups are kept for good.
ANALYTICS_RETENTION_DAYS = env.int("ANALYTICS_RETENTION_DAYS", default=90)
# track() buffers events in the process and writes them after responses: at most this often, or this many.
ANALYTICS_AUTOFLUSH = env.bool("ANALYTICS_AUTOFLUSH", default=True)
ANALYTICS_FLUSH_SECONDS = env.float("ANALYTICS_FLUSH_SECONDS", default=1.0)
ANALYTICS_FLUSH_MAX = env.int("ANALYTICS_FLUSH_MAX", default=500)
# An undeclared event name in track() raises (tests, development) instead of being logged and dropped.
ANALYTICS_STRICT_EVENTS = env.bool("ANALYTICS_STRICT_EVENTS", default=DEBUG or "pytest" in __import__("sys").modules)
# Events received this long before a fill pass started are re-checked as late arrivals by the next pass.
ANALYTICS_LATE_MARGIN_SECONDS = env.int("ANALYTICS_LATE_MARGIN_SECONDS", default=300)
# Largest PostHog ingest body accepted, after decompression.
ANALYTICS_INGEST_MAX_BYTES = env.int("ANALYTICS_INGEST_MAX_BYTES", default=5 * 1024 * 1024)
# --- Reports (reports/, docs/reports.md) ----------------------------------------------------------------
# Rendering (WeasyPrint) and sending run on their own queue, never in a web process: start a worker with
# `-Q celery,reports` (or a dedicated `-Q reports` worker). Added to any routes set above.
CELERY_TASK_ROUTES = {
    **globals().get("CELERY_TASK_ROUTES", {}),
    "reports.*": {"queue": env.str("REPORTS_QUEUE", default="reports")},
}
# Public origin of the links in report e-mails (unsubscribe, download); set it in production.
REPORTS_BASE_URL = env.str("REPORTS_BASE_URL", default="http://localhost:8000")
# A PDF larger than this goes as a signed, expiring link instead of an attachment.
REPORTS_ATTACH_MAX_BYTES = env.int("REPORTS_ATTACH_MAX_BYTES", default=8 * 1024 * 1024)
# Days a rendered PDF (and its download link) stays available.
REPORTS_DOWNLOAD_DAYS = env.int("REPORTS_DOWNLOAD_DAYS", default=7)
# Attempts per recipient on SMTP errors, waiting base * 2^n seconds between them (60 s, 120 s, 240 s...).
REPORTS_SEND_ATTEMPTS = env.int("REPORTS_SEND_ATTEMPTS", default=4)
REPORTS_RETRY_BASE_SECONDS = env.int("REPORTS_RETRY_BASE_SECONDS", default=60)
# Rendered PDFs: a directory the rendering workers and the web processes share (downloads are served from it).
REPORTS_FILES_DIR = Path(env.str("REPORTS_FILES_DIR", default=str(VAR_DIR / "report-files")))
# --- Production kit: read replica (chatapp/kernel/db_router.py, docs/operations/replica.md) -------------------
# A streaming replica of the primary for reads that opt in with `replica_reads()` (analytics, reports). Unset:
# everything reads the primary. Reads fall back to the primary when the replica is down or lags more than
# DATABASE_REPLICA_MAX_LAG_SECONDS, and for the rest of any request that wrote.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=10.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=5.0)
if DATABASE_REPLICA_URL:
    _replica = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"] = {
        **DATABASES["default"],
        **{key: value for key, value in _replica.items() if key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        # Connecting to a dead replica must not stall a request for long: the router then uses the primary.
        "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), **_replica.get("OPTIONS", {}), "connect_timeout": 2},
        # Tests read and write one database: the replica alias mirrors the default one.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = [*globals().get("DATABASE_ROUTERS", []), "chatapp.kernel.db_router.ReplicaRouter"]
MIDDLEWARE.insert(0, "chatapp.kernel.db_router.PrimaryPinningMiddleware")
