"""Streaming export of audit events as CSV, JSON Lines or OCSF (JSON Lines of OCSF events, audit/ocsf.py): rows go
out as they are read, never all in memory."""

import csv
import io
import json
from collections.abc import Iterator

from audit.chain import SEALED_FIELDS

EXPORT_FIELDS = ("id", *SEALED_FIELDS, "hash")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "ocsf": "application/x-ndjson"}
FILE_SUFFIXES = {"csv": "csv", "jsonl": "jsonl", "ocsf": "ocsf.jsonl"}


def _jsonable(row: dict) -> dict:
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in row.items()}


def with_redactions(rows) -> Iterator[dict]:
    """Rows with the redaction seal of each redacted event (`redaction_key_id`, `redaction_seal`), so that a JSON
    Lines export still verifies offline after an erasure (audit/redaction.py). Redactions are few: each chain's
    are read once, when its first row goes by."""
    from audit.selectors import redactions_of

    seals: dict[int, dict] = {}
    for row in rows:
        chain = row["chain"]
        if chain not in seals:
            seals[chain] = redactions_of(chain_id=chain)
        if (seal := seals[chain].get(row["sequence"])) is not None:
            row = {**row, "redaction_key_id": seal[0], "redaction_seal": seal[1]}
        yield row


def export_lines(rows, kind: str) -> Iterator[str]:
    """Rows (dicts of EXPORT_FIELDS) as CSV (with a header), JSON Lines or OCSF events. Every sealed field and the
    hash are included (in OCSF, under `unmapped` where OCSF has no field), so CSV and JSON Lines exports can be
    verified offline against the chain."""
    if kind == "ocsf":
        from audit.ocsf import ocsf_event

        for row in rows:
            yield json.dumps(ocsf_event(row), sort_keys=True, ensure_ascii=False, default=str) + "\n"
        return
    if kind == "jsonl":
        for row in rows:
            yield json.dumps(_jsonable(row), sort_keys=True, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        row = _jsonable(row)
        row["changes"] = json.dumps(row["changes"], sort_keys=True, ensure_ascii=False)
        row["metadata"] = json.dumps(row["metadata"], sort_keys=True, ensure_ascii=False)
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
