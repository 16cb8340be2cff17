"""The PDF: text with headings and numbers, page count, not blank, no network; CSV of table sections."""

import subprocess
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from reports import services
from reports.models import ReportRun
from tests.factories import MessageFactory


def _messages(org, channel, author, *, day: datetime, count: int):
    for _ in range(count):
        MessageFactory(organization=org, channel=channel, author=author, created=day)


@pytest.fixture
def weekly(acme):
    # Monday 2026-11-16 .. Sunday 22 is "last week" on Wednesday 25 November 2026.
    _messages(acme.org, acme.public, acme.member, day=datetime(2026, 11, 17, 10, tzinfo=UTC), count=7)
    _messages(acme.org, acme.public, acme.owner, day=datetime(2026, 11, 18, 10, tzinfo=UTC), count=5)
    _messages(acme.org, acme.public, acme.member, day=datetime(2026, 11, 10, 10, tzinfo=UTC), count=4)
    return services.report_create(actor=acme.owner, org=acme.org, template="weekly_usage")


def _render(report, user, now):
    run = services.run_create(org=report.organization, report=report, requested_by=user, now=now)
    return services.run_render(run=run)


def test_weekly_pdf_has_headings_numbers_and_pages(weekly, acme, tmp_path):
    run = _render(weekly, acme.owner, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert run.status == ReportRun.Status.DONE and run.progress == 100
    pdf = services.run_pdf(run)
    reader = PdfReader(__import__("io").BytesIO(pdf))
    # cover + contents + one page per section (5)
    assert run.page_count == len(reader.pages) == 7
    text = "\n".join(page.extract_text() for page in reader.pages)
    for heading in ("Weekly usage", "Contents", "1. Active members", "2. Messages posted", "5. Channels by activity"):
        assert heading in text
    assert "Page 3 of 7" in text and "Acme" in text
    assert "12" in reader.pages[3].extract_text()  # 7 + 5 messages last week
    assert "+200.0 %" in reader.pages[3].extract_text()  # against 4 the week before
    # A page drawn to PNG is not blank (pdftoppm, then count non-white pixels).
    (tmp_path / "r.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-f", "4", "-l", "4", "-r", "40", "-gray", "-png", str(tmp_path / "r.pdf"),
                    str(tmp_path / "p")], check=True)  # fmt: skip
    png = next(tmp_path.glob("p*.png"))
    from PIL import Image

    histogram = Image.open(png).convert("L").histogram()
    assert sum(histogram[:200]) > sum(histogram) * 0.01  # more than 1 % of the page is ink


def test_long_tables_as_lines_and_no_network(acme, tmp_path):
    """A long table becomes monospaced lines with the header repeated per block; the renderer fetches nothing."""
    import http.server
    import threading
    from io import BytesIO

    from reports.models import Report
    from reports.rendering import LINE_CHUNK_ROWS, render_pdf

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    rows = [[f"user{i}@example.com", i] for i in range(300)]
    computed = [
        {"type": "text", "kind": "text", "title": "Notes", "data": {"html": f'<img src="http://127.0.0.1:{port}/x.png">'
                                                                            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/s.css">'}},
        {"type": "members", "kind": "table", "title": "Members", "data": {"columns": ["E-mail", "Messages"],
                                                                          "rows": rows, "truncated": False}},
    ]  # fmt: skip
    run = ReportRun(organization=acme.org, pk=1, version=1, period_start=datetime(2026, 11, 16, tzinfo=UTC),
                    period_end=datetime(2026, 11, 23, tzinfo=UTC))  # fmt: skip
    pdf, pages = render_pdf(report=Report(organization=acme.org, pk=1, title="Long"), run=run, sections=computed)
    server.shutdown()
    assert hits == []
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "user299@example.com" in text and "user0@example.com" in text
    assert text.count("E-mail") == -(-300 // LINE_CHUNK_ROWS)  # the header once per block
    assert pages >= 4
