"""People and tenants: users log in by e-mail; organizations own everything else; memberships join them."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("A user needs an e-mail address")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The e-mail address is the login name and is unique whatever its letter case."""

    # unique=True for Django's auth checks; the Lower() constraint below makes it unique whatever the case.
    email = models.EmailField("e-mail address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive users cannot log in.")
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        ordering = ["email"]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


class Organization(models.Model):
    """A tenant: one customer company. Its slug appears in every API path (/api/v1/orgs/{slug}/)."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now, editable=False)
    is_active = models.BooleanField(default=True, help_text="A suspended organization's members cannot reach its data.")
    # Credential policy (docs/security.md, "API keys" and "Sessions"). Session limits are enforced for a user by
    # the strictest value among all their active organizations; empty means "no limit from this organization".
    api_key_max_lifetime_days = models.PositiveIntegerField(
        default=365,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="No API key of this organization may live longer than this many days.",
    )
    session_idle_timeout_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(60 * 24 * 30)],
        help_text="Members' sessions end after this many minutes without a request (empty: no idle limit).",
    )
    session_max_lifetime_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text="Members' sessions end this many hours after login, active or not (empty: no limit).",
    )

    class MfaPolicy(models.TextChoices):
        OPTIONAL = "optional", "Optional"
        ADMINS = "admins", "Required for owners and admins"
        EVERYONE = "everyone", "Required for everyone"

    mfa_policy = models.CharField(
        "MFA policy", max_length=16, choices=MfaPolicy.choices, default=MfaPolicy.OPTIONAL,
        help_text="Who must use a second factor at password login.",
    )  # fmt: skip
    mfa_grace_days = models.PositiveSmallIntegerField(
        "MFA enrolment grace (days)", default=7, validators=[MaxValueValidator(90)],
        help_text="Days a member may still log in without a second factor after the policy starts to apply to them.",
    )  # fmt: skip
    mfa_policy_since = models.DateTimeField(
        "MFA policy in force since", default=timezone.now, editable=False,
        help_text="When the current MFA policy was set: grace periods count from here (or from joining, if later).",
    )  # fmt: skip
    step_up_minutes = models.PositiveSmallIntegerField(
        "step-up window (minutes)", default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="Sensitive actions (API keys, roles, SSO settings, exports) need an MFA check this recent.",
    )  # fmt: skip
    sso_enforced = models.BooleanField(
        "enforce SSO", default=False,
        help_text="Refuse password login to users whose e-mail domain an enabled identity provider of this "
        "organization serves (break-glass owners excepted; LDAP passwords go to the directory).",
    )  # fmt: skip

    erasure_deletes_messages = models.BooleanField(
        "erasure deletes messages", default=False,
        help_text="When a member's personal data is erased, also delete the bodies of their messages here "
        "(otherwise the messages stay, authored by the pseudonymous account).",
    )  # fmt: skip

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in an organization, with the base role that decides what they may do there."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"
        GUEST = "guest", "Guest"
        AUDITOR = "auditor", "Auditor"
        BILLING = "billing", "Billing"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(
        default=True, help_text="A deactivated member keeps their history but cannot reach the organization."
    )
    joined = models.DateTimeField(default=timezone.now, editable=False)
    sso_break_glass = models.BooleanField(
        "SSO break-glass", default=False,
        help_text="Owners only: may still log in with a password when SSO is enforced (for when the IdP is down).",
    )  # fmt: skip

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "organization"], name="membership_user_org")]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(models.Model):
    """An invitation into an organization, sent by e-mail; the link carries a token kept here only as a digest."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["organization", "email"], name="invitation_org_email")]

    def __str__(self):
        return f"{self.email} to {self.organization}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()
