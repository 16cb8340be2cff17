"""Organization export and import, anonymized datasets (docs/data-protection.md, "Moving an organization").

registry.py  the catalogue of exportable models (apps declare theirs in <app>/portability.py)
archive.py   the tar.gz format: manifest, JSON Lines, checks that refuse a bad archive before any write
export.py    export jobs: request, run with progress, download, expiry
imports.py   import into an empty organization, all or nothing
anonymize.py anonymized datasets: keyed hashes, no free text, truncated IPs
"""

from accounts.services.portability.archive import ArchiveRefused
from accounts.services.portability.export import (
    org_archive_write,
    org_export_download,
    org_export_path,
    org_export_request,
    org_export_run,
    org_exports_expire,
)
from accounts.services.portability.imports import org_import

__all__ = [
    "ArchiveRefused",
    "org_archive_write",
    "org_export_download",
    "org_export_path",
    "org_export_request",
    "org_export_run",
    "org_exports_expire",
    "org_import",
]
