from django.core.management.base import BaseCommand

from audit.registry import events

BEGIN, END = "<!-- audit-catalogue:begin -->", "<!-- audit-catalogue:end -->"


def catalogue_markdown() -> str:
    lines = ["| id | event | category | template |", "| --- | --- | --- | --- |"]
    lines += [f"| {e.code} | `{e.name}` | {e.category} | {e.template} |" for e in sorted(events, key=lambda e: e.code)]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the audit event catalogue as Markdown, or write it into a document between its markers."

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="FILE", help=f"Replace the text between {BEGIN} and {END} in FILE.")

    def handle(self, *args, write=None, **options):
        table = catalogue_markdown()
        if not write:
            self.stdout.write(table)
            return
        with open(write, encoding="utf-8") as handle:
            text = handle.read()
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        with open(write, "w", encoding="utf-8") as handle:
            handle.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
        self.stdout.write(f"wrote the catalogue ({len(events)} events) into {write}")
