"""The unit report's ranking chart (reportlab.graphics): completion rate and overdue steps
of each unit, in rank order, side by side, so a reader sees at a glance who leads and who
lags and why (a low rate with many overdue steps, or few steps at all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.adapters.labels import Lang, word

#: Units shown in the chart: beyond this the bars are too thin to read; the table has all.
MAX_UNITS = 20
WIDTH, HEIGHT = 760.0, 230.0


def ranking_chart(units: Sequence[Mapping[str, Any]], lang: Lang, font: str) -> Any:
    """A Drawing of two horizontal bar charts over the units in rank order (the best on
    top): completion rate in percent, and steps overdue."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    shown = list(units[:MAX_UNITS])[::-1]  # reportlab draws the first category at the bottom
    names = [f"{u.get('rank') or '–'}. {u.get('name') or u.get('unit_id')}" for u in shown]
    rates = [round(float(u.get("completion_rate") or 0) * 100, 1) for u in shown]
    overdue = [int(u.get("steps_overdue") or 0) for u in shown]
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(0, HEIGHT - 12, word("chart.ranking", lang), fontName=font,
                       fontSize=11))
    for index, (values, title, colour, top) in enumerate((
            (rates, word("chart.completion", lang), colors.HexColor("#3b73b9"), 100),
            (overdue, word("chart.overdue", lang), colors.HexColor("#d9534f"),
             max([*overdue, 1])))):
        chart = HorizontalBarChart()
        chart.x, chart.y = 130 + index * 380, 22
        chart.width, chart.height = 230, HEIGHT - 62
        chart.data = [values]
        chart.bars[0].fillColor = colour
        chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, top
        chart.valueAxis.valueStep = 20 if index == 0 else max(1, -(-top // 5))  # whole steps
        chart.valueAxis.labels.fontName = font
        chart.categoryAxis.categoryNames = names
        chart.categoryAxis.labels.fontName = font
        chart.categoryAxis.labels.fontSize = 7
        chart.barLabelFormat = "%s"
        chart.barLabels.fontName = font
        chart.barLabels.fontSize = 6
        chart.barLabels.nudge = 8
        drawing.add(chart)
        drawing.add(String(chart.x, HEIGHT - 30, title, fontName=font, fontSize=9))
    return drawing
