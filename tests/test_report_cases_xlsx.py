"""The Excel report's 差评处理 sheet (issue 13 with issue 19): the HTML section's tables on one sheet, Chinese
headers, each metric in its number format, CJK-aware widths; the four cases of test_cases_report (two
closed — one confirmed as suggested, one changed —, one overdue waiting for the agent, one fresh), on
SQLite and PostgreSQL (``db_url``). No sheet without the workbench, as the HTML has no section."""

from __future__ import annotations

import pytest

from test_cases_report import cases  # noqa: F401 — fixture: the four cases
from test_workbench_core import team  # noqa: F401 — fixture

from pipeline.textwidth import display_width

openpyxl = pytest.importorskip("openpyxl")


def blocks(ws) -> dict[str, list[tuple]]:
    """Each table of the sheet by its bold title: the header row then the data rows (cells, not values)."""
    out: dict[str, list[tuple]] = {}
    title = None
    for row in ws.iter_rows(min_row=3):
        first = row[0]
        if first.value is None:
            title = None
        elif first.font.bold and title is None:
            title = first.value
            out[title] = []
        elif title is not None:
            out[title].append(row)
    return out


def test_the_cases_sheet(db_url, cases, workbench_run_dir, tmp_path):  # noqa: F811 — the fixture
    from pipeline.cli import main

    out = tmp_path / "report.xlsx"
    assert main(["report", str(workbench_run_dir), "--out", str(out), "--database-url", db_url, "--quiet"]) == 0
    wb = openpyxl.load_workbook(out)
    ws = wb["差评处理"]
    assert "共 4 件" in ws["A1"].value and "逾期 1 件" in ws["A1"].value
    b = blocks(ws)
    assert list(b)[:3] == ["案件状态", "来源", "处理时效"] and "典型差评案例(培训用,评价已脱敏)" in b

    def table(title):
        head, *rows = b[title]
        return [c.value for c in head if c.value is not None], rows

    head, rows = table("案件状态")
    assert head == ["状态", "件数"]
    states = {r[0].value: r[1] for r in rows}
    assert states["已结案"].value == 2 and states["待情况说明"].value == 2 and states["已结案"].number_format == "#,##0"
    head, rows = table("处理时效")
    assert head == ["环节", "期限", "已完成", "中位用时", "单位", "按期完成率", "未完成且已逾期"]
    account = {h: c for h, c in zip(head, rows[0])}
    assert account["环节"].value == "情况说明" and account["已完成"].value == 2 and account["未完成且已逾期"].value == 1
    # written 30 h after receipt, counted from the clock read when the tests were collected: minutes may have passed since
    assert account["中位用时"].value == pytest.approx(30, abs=1) and account["中位用时"].number_format == "0.0"
    assert account["单位"].value == "小时"
    assert account["按期完成率"].value == 0.0 and account["按期完成率"].number_format == "0.0%"  # written 30 h after a 24 h deadline
    head, rows = table("责任认定")
    share = {r[0].value: r[2] for r in rows}
    assert share["个人"].value == pytest.approx(1 / 2) and share["个人"].number_format == "0.0%"
    head, rows = table("系统初判原因与主管认定")
    assert head == ["已认定", "一致率", "Cohen κ"]
    assert rows[0][0].value == 2 and rows[0][1].value == 0.5 and rows[0][1].number_format == "0.0%" and rows[0][2].number_format == "0.00"
    head, rows = table("混淆表(行:主管认定,列:系统初判)")
    confusion = {r[0].value: {h: c.value for h, c in zip(head, r)} for r in rows}
    assert confusion["问题解决效果"]["服务态度"] == 1 and confusion["服务态度"]["服务态度"] == 1
    head, rows = table("典型差评案例(培训用,评价已脱敏)")
    assert head[-1] == "评价内容(脱敏)" and len(rows) == 2
    assert all("138****5678" in r[-1].value and "13812345678" not in r[-1].value for r in rows)
    # widths count a CJK character as two columns: the widest review text and the longest header fit
    review_col = ws.column_dimensions[rows[0][-1].column_letter].width
    assert review_col >= max(display_width(r[-1].value) for r in rows) + 2
    late_col = ws.column_dimensions["G"].width  # 处理时效 column 7: 未完成且已逾期
    assert late_col >= display_width("未完成且已逾期") + 2


def test_no_cases_sheet_without_the_workbench(workbench_run_dir, tmp_path):
    from pipeline.cli import main

    out = tmp_path / "report.xlsx"
    assert main(["report", str(workbench_run_dir), "--out", str(out), "--quiet"]) == 0
    assert "差评处理" not in openpyxl.load_workbook(out).sheetnames
