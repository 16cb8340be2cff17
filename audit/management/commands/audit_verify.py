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
            slugs = {organization.pk: organization.slug}
            chains = [(chain, _name(chain, slugs)) for chain in (organization.pk, -organization.pk)]
        else:
            slugs = dict(Organization.objects.values_list("pk", "slug"))
            chains = [(chain, _name(chain, slugs)) for chain in AuditChain.objects.values_list("chain", flat=True)]
            chains.sort(key=lambda item: item[1])
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


def _name(chain: int, slugs: dict[int, str]) -> str:
    if chain == PLATFORM_CHAIN:
        return "platform"
    slug = slugs.get(abs(chain), f"organization {abs(chain)}")
    return slug if chain > 0 else f"{slug} (API calls)"
