from django.core.management.base import BaseCommand

from rbac.catalogue import catalogue_markdown


class Command(BaseCommand):
    help = "Print the permission catalogue and the built-in roles' permission sets as Markdown (for docs/rbac.md)."

    def handle(self, *args, **options):
        self.stdout.write(catalogue_markdown())
