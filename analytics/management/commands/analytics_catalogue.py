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


def _stat_row(s) -> list[str]:
    if s.names:
        counts = ", ".join(f"`{n}`" for n in s.names)
    elif s.source:
        counts = f"distinct people of `{s.source}` over {s.window_days} day(s)"
    else:
        counts = "every event"
    per = s.dimension + (" (+ instance)" if s.source else "")
    return [f"`{s.key}`", s.title, s.frequency, per, s.subgroup or "-", counts]


def _metric_row(m) -> list[str]:
    joined = [", ".join(values) or "-" for values in (m.scope, m.breakdowns, m.filters, m.intervals)]
    return [f"`{m.key}`", m.title, m.unit or "-", *joined, m.summary]


def sections() -> dict[str, str]:
    return {
        "events": _table(["event", "meaning"], [[f"`{e.key}`", e.description] for e in event_catalogue]),
        "stats": _table(
            ["stat", "title", "frequency", "per", "subgroup", "counts"],
            [_stat_row(stat_catalogue[key]) for key in ORDER],
        ),
        "features": _table(
            ["feature", "title", "used when", "core"],
            [
                [f"`{f.key}`", f.title, ", ".join(f"`{n}`" for n in f.events), "yes" if f.core else "no"]
                for f in feature_catalogue
            ],
        ),
        "metrics": _table(
            ["metric", "title", "unit", "scope", "breakdowns", "filters", "intervals", "number tile"],
            [_metric_row(m) for m in metric_catalogue],
        ),
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
            block = f"{begin}\n{table}\n{end}"
            text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _, block=block: block, text,
                          flags=re.DOTALL)  # fmt: skip
        with open(write, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stdout.write(f"wrote the analytics catalogues into {write}")
