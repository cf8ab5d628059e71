"""Excel column widths count a CJK (wide / full-width) character as two columns (issue 13, item 4)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.mark.parametrize("text, width", [("", 0), ("A001", 4), ("售后服务组", 10), ("王芳 A001", 9), ("满意\uff0c", 6), ("满意,", 5),
                                         ("ＡＢ", 4), ("95% 区间", 8)])
def test_display_width(text, width):
    from pipeline.report.xlsx import display_width

    assert display_width(text) == width


def test_write_table_widths_fit_cjk_text():
    from openpyxl import Workbook

    from pipeline.report.xlsx import COLUMN_WIDTH_MAX, write_table

    df = pd.DataFrame({"team": ["售后服务组售后服务组", "夜班组"], "agent": ["A001", "A002"], "rate": [0.5, 0.25],
                       "long": ["很" * 80, "x"]})
    ws, _ = write_table(Workbook(), "团队", df, [("team", "团队", "text"), ("agent", "坐席编号 agent", "text"),
                                                 ("rate", "差评率", "pct"), ("long", "说明", "text")])
    width = {c: ws.column_dimensions[c].width for c in "ABCD"}
    assert width["A"] >= 20 + 2  # ten CJK characters are twenty columns, not ten
    assert width["B"] == len("坐席编号 agent") + 4 + 2  # the header (4 CJK + 6 ASCII) is wider than "A001"
    assert width["C"] == 10  # a number column: its header (6) + 2 is below the floor of 10
    assert width["D"] == COLUMN_WIDTH_MAX  # capped


def test_report_workbook_team_column_is_wide_enough(tmp_path):
    """In the real workbook the team names' column holds its widest name at two columns a character."""
    from openpyxl import load_workbook

    from pipeline.config import load_config
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute
    from pipeline.report.xlsx import display_width, render_xlsx
    from tests.test_report import CONVS, FINDINGS, write_run

    run = write_run(tmp_path / "run", CONVS, FINDINGS, {"counts": {"read": len(CONVS), "inspected": len(CONVS), "rejected": 0,
                                                                      "rejects_by_reason": {}}, "mask": True})
    report = compute(load_runs([run]), load_config())
    out = tmp_path / "r.xlsx"
    render_xlsx(report, out)
    ws = load_workbook(out)["团队"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    head_row = next(i for i, r in enumerate(rows) if "团队" in r)  # a note row may come first
    col = rows[head_row].index("团队")
    names = [r[col] for r in rows[head_row + 1:] if r[col]]
    assert names and any(display_width(n) > len(n) for n in names)
    letter = ws.cell(row=head_row + 1, column=col + 1).column_letter
    assert ws.column_dimensions[letter].width >= max(display_width(n) for n in names)
