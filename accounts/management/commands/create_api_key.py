"""Create an API key from the command line; the key is printed once and never stored."""

import re
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rest_framework.exceptions import APIException

from accounts.models import Organization, ServiceAccount, User
from accounts.services import api_key_create
from audit.services import Actor

DURATION_RE = re.compile(r"^(\d{1,5})([dh])$")


def parse_duration(value: str) -> timedelta:
    match = DURATION_RE.match(value.strip())
    if not match:
        raise CommandError(f"--expires takes a number of days or hours such as 30d or 12h, not {value!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if amount == 0:
        raise CommandError("--expires must be more than zero")
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def _reason(exc) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return str(exc.detail) if isinstance(exc, APIException) else str(exc)


class Command(BaseCommand):
    help = "Create an API key for a member (or a service account) of an organization and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--user", help="E-mail of the member who owns the key (a personal key).")
        owner.add_argument("--service", help="Name of the organization's service account (a service key).")
        parser.add_argument("--scopes", required=True, help="Comma-separated permission codes, e.g. channels.view.")
        parser.add_argument("--name", default="command line", help="A name to recognise the key by.")
        parser.add_argument("--write", action="store_true", help="Allow unsafe methods (default: read-only).")
        parser.add_argument("--expires", help="Lifetime such as 30d or 12h (default: the organization's maximum).")
        parser.add_argument("--allowed-ips", default="", help="Comma-separated CIDR ranges the key may be used from.")

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organization with the slug {options['org']!r}")
        owner = account = None
        if options["user"]:
            owner = User.objects.filter(email__iexact=options["user"].strip()).first()
            if owner is None:
                raise CommandError(f"No user with the e-mail address {options['user']!r}")
        else:
            account = ServiceAccount.objects.for_org(org).filter(name=options["service"]).first()
            if account is None:
                raise CommandError(f"No service account named {options['service']!r} in {org.slug}")
        expires_at = timezone.now() + parse_duration(options["expires"]) if options["expires"] else None
        try:
            result = api_key_create(
                actor=Actor.system("manage.py create_api_key"), org=org, name=options["name"], owner=owner,
                service_account=account, scopes=[s.strip() for s in options["scopes"].split(",") if s.strip()],
                write=options["write"], expires_at=expires_at,
                allowed_ips=[r.strip() for r in options["allowed_ips"].split(",") if r.strip()],
            )  # fmt: skip
        except (ValidationError, PermissionDenied, APIException) as exc:
            raise CommandError(_reason(exc)) from None
        key = result.key
        self.stderr.write(
            f"Created key {key.prefix}… '{key.name}' in {org.slug}, expires {key.expires_at:%Y-%m-%d %H:%M} UTC, "
            f"scopes {', '.join(key.scopes)}{' (write)' if key.write else ' (read-only)'}. It is shown only now:"
        )
        self.stdout.write(result.secret)
