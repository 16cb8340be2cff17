import pytest


@pytest.fixture(autouse=True)
def _report_files(settings, tmp_path):
    # Rendered PDFs go to a temporary directory, never into the worktree or var/.
    settings.REPORTS_FILES_DIR = tmp_path / "report-files"
