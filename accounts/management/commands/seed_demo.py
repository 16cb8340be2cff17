"""Seed the demo: organizations acme and globex with owners, members, channels and a few hundred messages.

Idempotent: existing users, organizations, memberships and channels are reused, and a channel that already
has messages gets no more. Refuses to run in the production profile.
"""

import itertools

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services as account_services
from accounts.models import Membership, Organization, User
from chatapp.chat import services as chat_services
from chatapp.chat.models import Channel

DEMO_PASSWORD = "chatapp-demo-2026"  # demo data only; seed_demo refuses to run in production

ORGS = {
    "acme": {
        "name": "Acme Corp",
        "owner": ("owner@acme.example", "Ada Owner"),
        "people": [
            ("admin@acme.example", "Alan Admin", Membership.Role.ADMIN),
            *[(f"member{i}@acme.example", f"Acme Member {i}", Membership.Role.MEMBER) for i in range(1, 9)],
            ("guest@acme.example", "Grace Guest", Membership.Role.GUEST),
        ],
        "channels": [
            ("general", "Company-wide announcements", False),
            ("random", "Anything goes", False),
            ("engineering", "Build and ship", False),
            ("leadership", "Owners and admins", True),
        ],
    },
    "globex": {
        "name": "Globex",
        "owner": ("owner@globex.example", "Gus Owner"),
        "people": [(f"member{i}@globex.example", f"Globex Member {i}", Membership.Role.MEMBER) for i in range(1, 5)],
        "channels": [
            ("general", "Everyone at Globex", False),
            ("sales", "Deals and pipeline", False),
            ("board", "Board only", True),
        ],
    },
}
PHRASES = [
    "Morning all! Stand-up in five minutes.",
    "Deploy finished, dashboards look green.",
    "Can someone review my pull request?",
    "Lunch order closes at noon.",
    "The quarterly report draft is in the shared folder.",
    "Customer call moved to 3pm.",
    "Who owns the on-call rotation this week?",
    "Thanks for the quick fix!",
    "Reminder: security training is due Friday.",
    "Release notes are ready for review.",
]
MESSAGES_PER_CHANNEL = 60


class Command(BaseCommand):
    help = "Create the demo organizations (acme, globex), people, channels and messages. Safe to run again."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with a published password; not in production.")
        with transaction.atomic():
            operator = self._user("admin@chatapp.localhost", "Platform Operator")
            if not operator.is_superuser:
                operator.is_staff = operator.is_superuser = True
                operator.save(update_fields=["is_staff", "is_superuser"])
            for slug, spec in ORGS.items():
                self._org(slug, spec)
        self.stdout.write(self.style.SUCCESS("Demo ready. Every demo account's password: " + DEMO_PASSWORD))
        self.stdout.write("  admin site (platform operator): admin@chatapp.localhost")
        for spec in ORGS.values():
            self.stdout.write(f"  {spec['name']} owner: {spec['owner'][0]}")

    def _user(self, email, full_name):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = account_services.user_create(email=email, password=DEMO_PASSWORD, full_name=full_name)
            # Demo addresses cannot receive mail: they count as verified so the demo logins work at once.
            account_services.email_mark_verified(user=user)
        return user

    def _org(self, slug, spec):
        owner = self._user(*spec["owner"])
        org = Organization.objects.filter(slug=slug).first() or account_services.organization_create(
            slug=slug, name=spec["name"], owner=owner
        )
        people = [owner]
        for email, full_name, role in spec["people"]:
            person = self._user(email, full_name)
            if not Membership.objects.filter(organization=org, user=person).exists():
                account_services.member_add(actor=owner, org=org, user=person, role=role)
            people.append(person)
        for name, topic, private in spec["channels"]:
            channel = Channel.objects.for_org(org).filter(name=name).first() or chat_services.channel_create(
                actor=owner, org=org, name=name, topic=topic, is_private=private
            )
            if channel.messages.exists():
                continue
            if private:
                admins = Membership.objects.filter(organization=org, role__in=["owner", "admin"]).select_related("user")
                posters = [m.user for m in admins]
            else:
                posters = people if slug != "acme" else [p for p in people if not p.email.startswith("guest")]
            for poster in posters:
                chat_services.channel_member_add(actor=owner, org=org, channel=channel, user=poster)
            lines = itertools.cycle(PHRASES)
            for i, poster in zip(range(MESSAGES_PER_CHANNEL), itertools.cycle(posters), strict=False):
                chat_services.message_post(actor=poster, org=org, channel=channel, body=f"{next(lines)} (#{i + 1})")
        self.stdout.write(f"{org.name}: {len(people)} people, {len(spec['channels'])} channels")
