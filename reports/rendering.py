"""Computed sections -> HTML -> PDF (WeasyPrint), e-mail bodies (PNG charts) and CSV/JSON tables.

Rendering is slow and memory-hungry, so it runs on the `reports` Celery queue only (reports/tasks.py), never in
a web process. Nothing is fetched from the network: the only URLs WeasyPrint may open are data: URIs (charts),
fonts come from Debian's fonts-dejavu-core through fontconfig.
"""

import base64
import csv
import io
import json
import logging
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone

from chatapp.kernel.charts import Chart, Series, render_png, render_svg, sparkline_svg

# Tables are cut into chunks that never span a page, each repeating its header. Up to LONG_TABLE_ROWS rows they
# are real (tagged) tables; longer ones are laid out as blocks of monospaced lines, one block per chunk: WeasyPrint
# lays out table cells ~10x slower than lines (2,000 rows: ~30 s as tables, ~2.5 s as lines on a busy 2-core
# machine; PITFALLS, "Documents and pages"). The CSV and JSON downloads carry the same rows.
TABLE_CHUNK_ROWS = 32
LONG_TABLE_ROWS = 150
LINE_CHUNK_ROWS = 60
MAX_COLUMN_CHARS = 40

# WeasyPrint logs every layout step at INFO; a report's worker log needs only its warnings.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def metric_chart(section: dict) -> Chart:
    data = section["data"]
    return Chart(
        kind="bar" if len(data["chart"]["values"]) <= 14 else "line",
        title=section["title"],
        x_labels=data["chart"]["x_labels"],
        series=[Series(section["title"], data["chart"]["values"])],
        unit=data.get("unit", ""),
        width=640,
        height=240,
    )


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _prepared(sections: list[dict], *, charts: str) -> list[dict]:
    """Sections with what the templates show: formatted numbers, chart pictures, table chunks."""
    out = []
    for index, section in enumerate(sections):
        item = dict(section, anchor=f"section-{index + 1}")
        data = section["data"]
        if section["kind"] == "metric":
            chart = metric_chart(section)
            item["value_text"] = _fmt(data["value"])
            item["change_text"] = "" if data["change_pct"] is None else f"{data['change_pct']:+.1f} %"
            if charts == "svg":
                item["chart_src"] = _data_uri("image/svg+xml", render_svg(chart).encode())
                item["sparkline_src"] = _data_uri("image/svg+xml", sparkline_svg(data["history"]).encode())
            elif charts == "png":
                item["chart_cid"] = f"chart-{index + 1}"
                item["chart_png"] = render_png(chart, scale=1.5)
        if "rows" in data:
            rows = [[_fmt(v) for v in row] for row in data["rows"]]
            if len(rows) > LONG_TABLE_ROWS:
                item["header_line"], lines = _lines(data["columns"], rows)
                item["line_chunks"] = [lines[i : i + LINE_CHUNK_ROWS] for i in range(0, len(lines), LINE_CHUNK_ROWS)]
            else:
                item["chunks"] = [rows[i : i + TABLE_CHUNK_ROWS] for i in range(0, len(rows), TABLE_CHUNK_ROWS)] or [[]]
        out.append(item)
    return out


def _lines(columns: list[str], rows: list[list[str]]) -> tuple[str, list[str]]:
    """A header line and one line per row, columns padded to a common width (monospaced font)."""

    def cut(text: str) -> str:
        return text if len(text) <= MAX_COLUMN_CHARS else text[: MAX_COLUMN_CHARS - 1] + "…"

    cells = [[cut(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(row[j]) for row in cells]) for j, c in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(widths[j]) for j, v in enumerate(values)).rstrip()  # noqa: E731
    return line([cut(c) for c in columns]), [line(row) for row in cells]


def render_html(*, report, run, sections: list[dict], charts: str = "svg") -> str:
    return render_to_string(
        "reports/report.html",
        {"report": report, "run": run, "sections": _prepared(sections, charts=charts), "generated": timezone.now(),
         "organization": report.organization, "period": period_label(run.period_start, run.period_end)},
    )  # fmt: skip


def render_pdf(*, report, run, sections: list[dict]) -> tuple[bytes, int]:
    """The PDF bytes and the page count."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_html(report=report, run=run, sections=sections)
    # data: only: a report never reaches the network or the file system, whatever its Markdown says.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    document = HTML(string=html, url_fetcher=fetcher, base_url=None).render()
    pdf = document.write_pdf(
        pdf_variant=report.pdf_variant,
        pdf_identifier=f"chatapp-report-{run.pk}".encode(),
        custom_metadata=False,
    )
    return pdf, len(document.pages)


def render_email(
    *, report, run, sections: list[dict], link: str = "", unsubscribe_url: str = ""
) -> tuple[str, str, list]:
    """(HTML body, text body, [(cid, png bytes)]): key numbers and PNG charts, since mail clients show no SVG."""
    prepared = _prepared(sections, charts="png")
    context = {"report": report, "run": run, "sections": prepared, "link": link, "unsubscribe_url": unsubscribe_url,
               "organization": report.organization,
               "period": period_label(run.period_start, run.period_end)}  # fmt: skip
    html = render_to_string("reports/email.html", context)
    text = render_to_string("reports/email.txt", context)
    images = [(item["chart_cid"], item["chart_png"]) for item in prepared if "chart_png" in item]
    return html, text, images


def table_csv(section: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(section["data"]["columns"])
    for row in section["data"]["rows"]:
        # A leading =, +, - or @ would be a formula in a spreadsheet: quote it as text (CSV injection).
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return out.getvalue()


def table_json(section: dict) -> str:
    columns = section["data"]["columns"]
    return json.dumps([dict(zip(columns, row, strict=True)) for row in section["data"]["rows"]], default=str)


def period_label(start: datetime, end: datetime) -> str:
    from datetime import timedelta

    last = end - timedelta(seconds=1)
    return f"{start:%d %b %Y} - {last:%d %b %Y}"
