import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_rows


class Command(BaseCommand):
    help = (
        "Verify a JSON Lines audit export offline (no database): every row's HMAC, and that the rows form an "
        "unbroken chain from the first row's predecessor. Needs the AUDIT_HMAC_KEYS that sealed the rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="An export made with GET .../audit/export?type=jsonl (one chain).")

    def handle(self, *args, file, **options):
        try:
            with open(file, encoding="utf-8") as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        if not rows:
            raise CommandError(f"{file} holds no events")
        if len({row["chain"] for row in rows}) != 1:
            raise CommandError("the export mixes chains; export one organization at a time")
        for row in rows:
            row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
        first = rows[0]
        # Events redacted by an erasure carry their redaction seal (audit/redaction.py), checked instead of the hash.
        redactions = {
            row["sequence"]: (row["redaction_key_id"], row["redaction_seal"])
            for row in rows
            if row.get("redaction_seal")
        }
        result = verify_rows(
            rows, base_sequence=first["sequence"] - 1, base_hash=first["prev_hash"], expected_last=None,
            redactions=redactions,
        )  # fmt: skip
        if not result.ok:
            raise CommandError(f"BROKEN at #{result.first_broken_sequence}: {result.reason}")
        self.stdout.write(f"ok: events #{first['sequence']} to #{result.last_sequence} ({result.checked} events)")
