"""Inline SVG charts: gaps for empty bins, escaped text, one element per value."""

from __future__ import annotations

import re

from pipeline import charts


def test_reliability_chart_breaks_the_line_at_an_empty_bin() -> None:
    svg = charts.reliability_chart(
        {
            "model": [(0.05, 0.04, 100), (0.15, None, 0), (0.25, 0.3, 50), (0.35, 0.33, 10)],
            "other": [(0.05, 0.1, 10), (0.15, 0.2, 10)],
        },
        name="calibration",
    )

    lines = re.findall(
        r'<polyline class="line" points="([^"]*)" fill="none" stroke="([^"]*)"', svg
    )
    by_color: dict[str, list[str]] = {}
    for points, color in lines:
        by_color.setdefault(color, []).append(points)
    model, other = charts.PALETTE[0], charts.PALETTE[1]
    # two pieces for "model" (the empty bin is a gap, never drawn at 0), one for "other"
    assert [len(p.split()) for p in by_color[model]] == [1, 2]
    assert len(by_color[other]) == 1
    assert svg.count('class="point"') == 3 + 2
    assert "model: predicted 15%" not in svg  # the empty bin has no point


def test_bar_chart_one_bar_per_label_and_text_is_escaped() -> None:
    svg = charts.bar_chart(["a<b", "c"], [10.0, 0.0], name="value & risk")

    assert svg.count('class="bar"') == 2
    assert "a&lt;b" in svg and "a<b" not in svg
    assert 'aria-label="value &amp; risk"' in svg


def test_histogram_stacks_series_and_skips_empty_bins() -> None:
    svg = charts.histogram([0.0, 0.5, 1.0], {"x": [3, 0], "y": [1, 2]}, name="risk", x_label="p")

    assert svg.count('class="bar"') == 3
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_funnel_says_when_the_data_cannot_see_a_stage() -> None:
    svg = charts.funnel_chart(
        ["suspicion", "first purchase"], [None, 10.0], name="funnel", highlight=[False, True]
    )

    assert "not in the data" in svg
    assert svg.count('class="bar"') == 1


def test_reliability_chart_claims_no_count_it_was_not_given() -> None:
    """The report's bins carry rates only: its points said "1 customers" each."""
    svg = charts.reliability_chart(
        {"shipped": [(0.05, 0.04, None), (0.35, 0.28, None)], "sized": [(0.05, 0.1, 40)]},
        name="calibration",
    )
    assert "shipped: predicted 35%, observed 28%</title>" in svg
    assert "sized: predicted 5%, observed 10%, 40 customers</title>" in svg
    assert "1 customers" not in svg
