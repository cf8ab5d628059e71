"""The report's charts as matplotlib Figures (issue 13, item 4): a target line on every rate chart
whose KPI has a target, labelled; legends outside the axes; the team trend as small multiples; and
the HTML notice when no CJK font was found. Figures are inspected (lines, texts, bounding boxes),
not pixels: each chart function returns its Figure when called with ``dpi=None``.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Glyph")  # a bare machine without a CJK font: labels are boxes, geometry is what is tested

TARGETS = {  # every daily rate gets a target, so each panel must show one (defaults leave some null)
    "bad_rating_rate_max": 0.30, "customer_negative_rate_max": 0.40, "negative_recovery_rate_min": 0.50,
    "fatal_rate_max": 0.01, "complaint_risk_rate_max": 0.05, "csat_min": 0.85, "first_response_sla_compliance_min": 0.90,
    "avg_score_min": 80,
}


@pytest.fixture(scope="module")
def config():
    from pipeline.config import load_config

    c = copy.deepcopy(load_config())
    c["report"]["targets"].update(TARGETS)
    return c


@pytest.fixture(scope="module")
def history(tmp_path_factory, config):
    """15 days × ~80 conversations of the bench history: 8 teams, ratings, verdicts, forecasts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.report_history import generate_history
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    from pipeline.report.charts import setup_fonts

    setup_fonts(list(config["report"]["charts"]["fonts"]))  # as render_all does: real label sizes when a CJK font is installed
    runs = generate_history(tmp_path_factory.mktemp("charts"), days=15, per_day=80)
    return compute(load_runs(runs), config)


def _targets(fig):
    return {ln.get_gid().split(":", 1)[1]: ln for ax in fig.axes for ln in ax.get_lines() if (ln.get_gid() or "").startswith("target:")}


def _target_labels(fig):
    return {t.get_gid().split(":", 1)[1]: t.get_text() for ax in fig.axes for t in ax.texts if (t.get_gid() or "").startswith("target-label:")}


def test_daily_rates_one_panel_per_rate_each_with_its_labelled_target(history):
    from pipeline.report.charts import DAILY_RATE_KEYS, daily_rates
    from pipeline.report.metrics import KPI_LABELS, report_targets

    fig = daily_rates(history, None)
    targets = report_targets(history)
    charted = [k for k in DAILY_RATE_KEYS if history.daily[k].notna().any()]
    assert {"fatal_rate", "complaint_risk_rate", "first_response_sla_compliance", "csat"} <= set(charted)
    titles = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(titles) == {KPI_LABELS[k] for k in charted}  # one panel per rate: no tangle on one axis
    lines, labels = _targets(fig), _target_labels(fig)
    for key in charted:
        value, direction = targets[key]
        line = lines[key]
        assert line.axes is titles[KPI_LABELS[key]], key  # in the rate's own panel
        assert list(line.get_ydata()) == [value, value] and line.get_linestyle() == "--", key
        lo, hi = line.axes.get_ylim()
        assert lo <= value <= hi, (key, value, (lo, hi))  # visible, not clipped away
        assert labels[key].startswith("目标 " + ("≥" if direction == "min" else "≤")), labels[key]
    assert labels["fatal_rate"] == "目标 ≤ 1%" and labels["first_response_sla_compliance"] == "目标 ≥ 90%"
    assert labels["complaint_risk_rate"] == "目标 ≤ 5%"


def test_default_targets_draw_red_line_target_in_daily_rates(history, config):
    """With the shipped defaults (红线率 ≤ 1 %, 投诉风险率 ≤ 5 %, 首响 ≥ 90 %, CSAT ≥ 85 %) those panels carry lines,
    and a rate without a target has none."""
    import dataclasses

    from pipeline.config import load_config
    from pipeline.report.charts import daily_rates

    defaults = load_config()["report"]["targets"]
    r = dataclasses.replace(history, meta={**history.meta, "targets": defaults})
    lines = _targets(daily_rates(r, None))
    assert {"fatal_rate", "complaint_risk_rate", "first_response_sla_compliance", "csat"} <= set(lines)
    assert "customer_negative_rate" not in lines and "bad_rating_rate" not in lines


@pytest.mark.parametrize("chart, key", [("daily_volume_score", "avg_score"), ("forecasts", "avg_score"),
                                        ("forecasts", "first_response_sla_compliance"), ("forecasts", "complaint_risk_rate"),
                                        ("issue_quality", "customer_negative_rate")])
def test_other_charts_carry_their_targets(history, chart, key):
    from pipeline.report import charts
    from pipeline.report.metrics import report_targets

    fig = getattr(charts, chart)(history, None)
    line = _targets(fig)[key]
    value = report_targets(history)[key][0]
    assert list(line.get_ydata()) == [value, value]
    assert _target_labels(fig)[key].startswith("目标 ")


def _legends(fig):
    return [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)


def _overlaps(fig):
    """(legend, axes title) pairs whose boxes overlap, after the layout is done."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # the layout as savefig does it (constrained layout places "outside" legends)
    renderer = fig.canvas.get_renderer()
    out = []
    for lg in _legends(fig):
        box = lg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible() and box.overlaps(ax.bbox):
                out.append((lg, ax.get_title()))
    return out


CHARTS_WITH_LEGENDS = ["daily_rates", "daily_volume_score", "bad_by_day", "first_response", "forecasts", "bad_reasons",
                       "bad_by_agent", "verdict_precision", "agent_ranking"]


@pytest.mark.parametrize("chart", CHARTS_WITH_LEGENDS)
def test_legends_are_outside_every_axes(history, chart):
    from pipeline.report import charts

    fn = getattr(charts, chart)
    fig = fn(history, None, 15) if chart in ("agent_ranking", "bad_by_agent") else fn(history, None)
    assert fig is not None and _legends(fig), f"{chart}: no legend"
    assert _overlaps(fig) == [], f"{chart}: a legend sits on the data"


def test_overlap_check_catches_a_legend_inside(history):
    """The check above is not vacuous: the old 每日差评数 legend (inside, default place) is caught."""
    from pipeline.report.charts import bad_by_day

    fig = bad_by_day(history, None)
    for lg in list(fig.legends):
        lg.remove()
    fig.axes[0].legend(frameon=False, fontsize=7, ncols=5)
    assert _overlaps(fig)


def test_team_trend_is_small_multiples_with_the_target(history):
    from pipeline.report.charts import TEAM_PANELS_MAX, team_trend, team_trend_teams

    fig = team_trend(history, None)
    teams, total = team_trend_teams(history)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert total == 8 and len(panels) == len(teams) == 8 <= TEAM_PANELS_MAX
    for ax, team in zip(panels, teams):
        coloured = [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("team:")]
        assert [ln.get_gid() for ln in coloured] == [f"team:{team}"] and ax.get_title() == team  # one team per panel
        assert any(ln.get_gid() == "target:avg_score" and list(ln.get_ydata()) == [80, 80] for ln in ax.get_lines())
    means = history.team_daily.mean(axis=0)
    assert [means[t] for t in teams] == sorted(means[t] for t in teams)  # lowest first: who needs attention
    assert not _legends(fig)  # the panel titles name the teams


def test_team_trend_caps_the_panels(history):
    import dataclasses

    import numpy as np
    import pandas as pd

    from pipeline.report.charts import TEAM_PANELS_MAX, team_trend, team_trend_teams

    many = pd.DataFrame(np.linspace(60, 95, 20 * 5).reshape(5, 20), index=[f"2026-11-0{i}" for i in range(1, 6)],
                        columns=[f"组{j:02d}" for j in range(20)])
    r = dataclasses.replace(history, team_daily=many)
    teams, total = team_trend_teams(r)
    assert total == 20 and len(teams) == TEAM_PANELS_MAX and teams[0] == "组00"
    fig = team_trend(r, None)
    assert sum(ax.get_visible() for ax in fig.axes) == TEAM_PANELS_MAX
    assert f"共 20 个团队,显示平均分最低的 {TEAM_PANELS_MAX} 个" in fig.get_suptitle()


def test_html_notice_when_no_cjk_font(history, config, monkeypatch):
    """Force the "no CJK font" path: no family of report.charts.fonts installed, no font files to add."""
    import matplotlib

    from pipeline.report import chart_style
    from pipeline.report import charts as charts_mod
    from pipeline.report.html import render_html

    monkeypatch.setattr(chart_style, "_font_used", [])
    monkeypatch.setattr(chart_style, "_FONT_GLOBS", [])
    c = copy.deepcopy(config)
    c["report"]["charts"]["fonts"] = ["没有这种字体 Sans"]
    with matplotlib.rc_context():
        drawn = charts_mod.render_all(history, c)
    assert drawn.cjk_font_missing and drawn.cjk_font is None and drawn["grade_mix"][:4] == b"\x89PNG"
    page = render_html(history, drawn)
    assert 'id="cjk-font-missing"' in page
    notice = page[page.index('id="cjk-font-missing"'):]
    assert "方框" in notice[:400] and "fonts-noto-cjk" in notice[:400] and "report.charts.fonts" in notice[:400]
    assert page.index('id="cjk-font-missing"') < page.index("<section")  # at the top, before the summary

    fine = charts_mod.Charts(drawn)  # the same charts drawn with a font: no notice
    fine.cjk_font = "Noto Sans CJK SC"
    assert "cjk-font-missing" not in render_html(history, fine)
    assert "cjk-font-missing" not in render_html(history, {})
