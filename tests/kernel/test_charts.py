import pytest

from chatapp.kernel.charts import Chart, Series, render_png, render_svg, sparkline_svg


def test_svg_has_the_data_and_no_script():
    chart = Chart(kind="line", title="Active users", x_labels=["Mon", "Tue"], series=[Series("DAU", [3, 5])])
    svg = render_svg(chart)
    assert svg.lstrip().startswith("<?xml")
    assert "Active users" in svg
    assert "Mon" in svg and "Tue" in svg
    assert "<script" not in svg
    assert "http://kozea.github.io" not in svg  # no CDN script reference


def test_png_is_a_png():
    png = render_png(Chart(kind="bar", x_labels=["a", "b", "c"], series=[Series("n", [1, 2, 3])]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 1000


def test_mismatched_series_refused():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        Chart(kind="line", x_labels=["a", "b", "c"], series=[Series("n", [1, 2])])


def test_unknown_kind_refused():
    with pytest.raises(ValueError, match="unknown chart kind"):
        Chart(kind="radar")


def test_empty_chart_says_so():
    assert "No data for this period" in render_svg(Chart(kind="line", title="Empty"))


def test_sparkline_has_no_axes_text():
    svg = sparkline_svg([1, 4, 2, 8])
    assert "<svg" in svg and "<script" not in svg
