"""The SVG bar chart: accessible name and description, one bar per value, heights in proportion, escaped text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from portal.services.charts import BAR_AREA_HEIGHT, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(chart):
    return ET.fromstring(str(chart.svg))


def test_title_description_and_role():
    chart = bar_chart("Referrals by month", "Two in January", [("Jan", 2), ("Feb", 1)], chart_id="c1")
    root = parse(chart)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Referrals by month"
    assert root.find(f"{SVG}title").get("id") == "c1-title"
    assert root.find(f"{SVG}desc").text == "Two in January"
    assert "<script" not in str(chart.svg)


def test_one_bar_per_value_heights_proportional():
    chart = bar_chart("T", "D", [("a", 4), ("b", 2), ("c", 0), ("d", 1)])
    bars = [r for r in parse(chart).iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 4
    heights = [float(b.get("height")) for b in bars]
    assert heights == [BAR_AREA_HEIGHT, BAR_AREA_HEIGHT / 2, 0.0, BAR_AREA_HEIGHT / 4]
    # Each bar is outlined and patterned (legible in black and white), and its value is written as text.
    assert all(b.get("stroke") == "#0b0c0c" and b.get("fill").startswith("url(#") for b in bars)
    texts = [t.text for t in parse(chart).iter(f"{SVG}text")]
    assert {"4", "2", "0", "1", "a", "b", "c", "d"} <= set(texts)


def test_a_maximum_scales_the_bars():
    chart = bar_chart("T", "D", [("x", 50)], maximum=100, value_format=lambda v: f"{v:.0f}%")
    bar = next(r for r in parse(chart).iter(f"{SVG}rect") if r.get("class") == "bar")
    assert float(bar.get("height")) == BAR_AREA_HEIGHT / 2
    assert chart.value_text == ["50%"]


def test_no_values_draws_no_bars():
    chart = bar_chart("Empty", "Nothing", [])
    assert not [r for r in parse(chart).iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_labels_are_escaped():
    evil = '<script>alert("x")</script>'
    chart = bar_chart(evil, evil, [(evil, 1)])
    text = str(chart.svg)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    parse(chart)  # still well-formed XML
    assert re.search(r"<title[^>]*>&lt;script&gt;", text)
