"""What every chart of a report shares: matplotlib (Agg, no display, no network), the CJK font, the
colours, the figure and axis helpers, and the target line. The charts are in charts.py and charts_trends.py.

Chinese labels need a CJK font: :func:`setup_fonts` takes the first installed family of
``report.charts.fonts`` (Debian: ``fonts-noto-cjk`` → "Noto Sans CJK SC"), looking in the system
font folders itself when matplotlib's font cache predates the font's installation. Without one the
charts still render, with a warning that Chinese labels will show as boxes; :func:`render_all`
says so too (``Charts.cjk_font_missing``), and the HTML page shows a notice.

Every chart function takes ``dpi`` and returns PNG bytes — or, with ``dpi=None``, the matplotlib
:class:`~matplotlib.figure.Figure` it built (what the tests inspect: target lines, legends outside the
axes). Conventions (issue 13): a KPI with a target in ``report.targets`` gets a dashed line at the
target, labelled 「目标 ≥ / ≤ value」 (:func:`target_line`); a legend never sits on the data — it goes
below the figure or to the right of the axes; many series are small multiples, not one tangle.
"""

from __future__ import annotations

import io
import math
import sys
from glob import glob

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PALETTE = ["#3b6fb6", "#e07b39", "#4a9d5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]
GRADE_COLORS = {"优": "#4a9d5b", "良": "#3b6fb6", "中": "#e0a639", "差": "#c44e52"}
REASON_COLORS = {"服务态度": "#c44e52", "专业能力": "#8172b2", "响应速度": "#e07b39", "问题解决效果": "#3b6fb6", "其他": "#8c8c8c"}
_FONT_GLOBS = ["/usr/share/fonts/**/*CJK*.tt[cf]", "/usr/share/fonts/**/*CJK*.otf", "/usr/share/fonts/**/wqy*.tt[cf]",
               "/usr/share/fonts/**/*SourceHan*.otf", "/usr/local/share/fonts/**/*.tt[cf]", "C:/Windows/Fonts/msyh.tt[cf]"]
_font_used: list[str | None] = []
TARGET_COLOR = "#c44e52"


class Charts(dict):
    """Chart name → PNG bytes, and whether the charts were drawn without a CJK font (their Chinese
    labels are boxes then: the HTML page says so at the top)."""

    cjk_font: str | None = None
    cjk_font_missing: bool = False


def setup_fonts(families: list[str]) -> str | None:
    """Make the first installed CJK family the charts' font; returns its name (None: none found)."""
    if _font_used:
        return _font_used[0]
    installed = {f.name for f in font_manager.fontManager.ttflist}
    chosen = next((f for f in families if f in installed), None)
    if chosen is None:  # a font installed after matplotlib cached its font list
        for pattern in _FONT_GLOBS:
            for path in glob(pattern, recursive=True):
                try:
                    font_manager.fontManager.addfont(path)
                except Exception:  # noqa: BLE001 — an unreadable font file is skipped
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        chosen = next((f for f in families if f in installed), None)
    if chosen is None:
        print("zhijian report: warning: no CJK font found (tried report.charts.fonts); Chinese chart labels will show as boxes. "
              "Install one, e.g. `apt-get install fonts-noto-cjk`.", file=sys.stderr)
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = ([chosen] if chosen else []) + ["DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["axes.spines.top"] = False
    matplotlib.rcParams["axes.spines.right"] = False
    matplotlib.rcParams["font.size"] = 9
    _font_used.append(chosen)
    return chosen


def _fig(w: float = 8.0, h: float = 3.2) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def _png(fig: Figure, dpi: int | None) -> bytes | Figure:
    if dpi is None:  # the Figure itself, for tests and callers that want to inspect or restyle it
        return fig
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _pct_axis(ax, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=None))


def _fmt_target(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{value:.1%}".replace(".0%", "%")
    if kind == "seconds":
        return f"{value:g} 秒"
    return f"{value:g}"


def target_line(ax, key: str, targets: dict[str, tuple[float, str]], kind: str = "pct", color: str = TARGET_COLOR):
    """The target of ``key`` (from ``report.targets``) as a dashed horizontal line across ``ax``, labelled
    「目标 ≤ 1%」 at its right end; the y-range is widened to show it. Nothing without a target."""
    if key not in targets:
        return None
    value, direction = targets[key]
    label = f"目标 {'≥' if direction == 'min' else '≤'} {_fmt_target(value, kind)}"
    line = ax.axhline(value, color=color, ls="--", lw=1, label="目标", gid=f"target:{key}")
    ax.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7, color=color,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=5, gid=f"target-label:{key}")
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, value), max(hi, value * 1.15 if value > 0 else hi))
    return line


def _legend_below(fig: Figure, handles, labels, ncols: int = 5) -> None:
    """One figure legend under the axes (constrained layout keeps it off the data)."""
    fig.legend(handles, labels, frameon=False, fontsize=8, loc="outside lower center", ncols=min(ncols, max(1, len(labels))))


def _short_days(days) -> list[str]:
    return [str(d)[5:] for d in days]


def _days_ticks(ax, days, max_ticks: int = 15) -> None:
    n = len(days)
    step = max(1, math.ceil(n / max_ticks))
    ax.set_xticks(np.arange(0, n, step), _short_days(list(days)[::step]))


def _stacked(ax, table, classes, horizontal: bool) -> None:
    cols = [c for c in classes if c in table.columns]
    base = np.zeros(len(table))
    idx = [str(i) for i in table.index]
    for c in cols:
        vals = table[c].values.astype(float)
        if horizontal:
            ax.barh(idx, vals, left=base, color=REASON_COLORS.get(c, "#8c8c8c"), label=c)
        else:
            ax.bar(idx, vals, bottom=base, color=REASON_COLORS.get(c, "#8c8c8c"), label=c)
        base += vals
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the axes, off the bars
