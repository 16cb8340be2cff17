from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from audit.models import PLATFORM_CHAIN, AuditChain
from audit.selectors import audit_verify


class Command(BaseCommand):
    help = "Verify audit hash chains: every organization's (or one with --org), and the platform chain."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Only this organization's chain (its slug).")

    def handle(self, *args, org=None, **options):
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"no organization with slug {org!r}")
            chains = [(organization.pk, organization.slug)]
        else:
            slugs = dict(Organization.objects.values_list("pk", "slug"))
            chains = [
                (chain, "platform" if chain == PLATFORM_CHAIN else slugs.get(chain, f"chain {chain}"))
                for chain in AuditChain.objects.order_by("chain").values_list("chain", flat=True)
            ]
        broken = 0
        for chain_id, name in chains:
            result = audit_verify(chain_id=chain_id)
            if result.ok:
                self.stdout.write(f"{name}: ok ({result.checked} events, head #{result.last_sequence})")
            else:
                broken += 1
                self.stdout.write(f"{name}: BROKEN at #{result.first_broken_sequence}: {result.reason}")
        if broken:
            raise CommandError(f"{broken} chain(s) broken")
