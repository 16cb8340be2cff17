"""The event, stat, feature and metric catalogues as Markdown, for docs/analytics.md (between its markers)."""

import re

from django.core.management.base import BaseCommand, CommandError

from analytics.events import catalogue as event_catalogue
from analytics.features import catalogue as feature_catalogue
from analytics.metrics import catalogue as metric_catalogue
from analytics.stats import ORDER
from analytics.stats import catalogue as stat_catalogue


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def sections() -> dict[str, str]:
    return {
        "events": _table(["event", "meaning"], [[f"`{e.key}`", e.description] for e in event_catalogue]),
        "stats": _table(
            ["stat", "title", "frequency", "per", "subgroup", "counts"],
            [[f"`{s.key}`", s.title, s.frequency, s.dimension + (" (+ instance)" if s.source else ""),
              s.subgroup or "–", ", ".join(f"`{n}`" for n in s.names) if s.names else
              (f"distinct people of `{s.source}` over {s.window_days} day(s)" if s.source else "every event")]
             for s in (stat_catalogue[key] for key in ORDER)],
        ),  # fmt: skip
        "features": _table(
            ["feature", "title", "used when", "core"],
            [[f"`{f.key}`", f.title, ", ".join(f"`{n}`" for n in f.events), "yes" if f.core else "no"]
             for f in feature_catalogue],
        ),  # fmt: skip
        "metrics": _table(
            ["metric", "title", "unit", "scope", "breakdowns", "filters", "intervals", "number tile"],
            [[f"`{m.key}`", m.title, m.unit or "–", ", ".join(m.scope), ", ".join(m.breakdowns) or "–",
              ", ".join(m.filters) or "–", ", ".join(m.intervals), m.summary] for m in metric_catalogue],
        ),  # fmt: skip
    }


class Command(BaseCommand):
    help = "Print the analytics catalogues as Markdown, or write them into a document between their markers."

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="FILE", help="Replace each <!-- analytics-<name>:begin/end --> block.")

    def handle(self, *args, write=None, **options):
        tables = sections()
        if not write:
            for name, table in tables.items():
                self.stdout.write(f"## {name}\n\n{table}\n")
            return
        with open(write, encoding="utf-8") as handle:
            text = handle.read()
        for name, table in tables.items():
            begin, end = f"<!-- analytics-{name}:begin -->", f"<!-- analytics-{name}:end -->"
            if begin not in text:
                raise CommandError(f"{write} has no {begin} marker")
            text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: f"{begin}\n{table}\n{end}", text,
                          flags=re.DOTALL)  # fmt: skip
        with open(write, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stdout.write(f"wrote the analytics catalogues into {write}")
