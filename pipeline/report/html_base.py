"""The pieces every HTML view of the report is built from: the page's CSS, escaping, number formats
(percentages, seconds, scores; — for no data, with the reason), a change against the last period, a
target's status, an inline chart, a table, a sparkline. html.py, html_seed.py and cases.py use them.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any, Callable

import pandas as pd

from .change import judge_change


CSS = """
:root{--fg:#1f2933;--muted:#6b7785;--line:#e3e7ec;--bg:#f6f8fa;--good:#2f8a4a;--bad:#c0392b;--accent:#3b6fb6}
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC","Noto Sans",sans-serif;
color:var(--fg);background:#fff;font-size:14px;line-height:1.5}
header{background:#1f3a5f;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{opacity:.85;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 28px;z-index:2}
nav a{margin-right:18px;color:var(--accent);text-decoration:none;font-weight:600}
main{padding:8px 28px 40px;max-width:1280px}
section{margin-top:26px}
h2{font-size:19px;border-left:4px solid var(--accent);padding-left:10px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--bg)}
.card .label{color:var(--muted);font-size:12px}
.card .value{font-size:22px;font-weight:700}
.card .meta{font-size:11px;color:var(--muted)}
.ok{color:var(--good);font-weight:600}.miss{color:var(--bad);font-weight:600}
.up-good,.down-good{color:var(--good)}.up-bad,.down-bad{color:var(--bad)}
.na{color:var(--muted)}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 9px;text-align:right;white-space:nowrap}
th{background:var(--bg);font-weight:600}
td.t,th.t{text-align:left}
td.t{white-space:normal;max-width:460px}
svg.spark{vertical-align:middle}
tr:nth-child(even) td{background:#fbfcfd}
img.chart{display:block;max-width:100%;height:auto;margin:8px 0 14px;border:1px solid var(--line);border-radius:6px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.note{background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:8px 12px;margin:8px 0;font-size:13px}
.nodata{background:var(--bg);border:1px dashed #c5ccd4;border-radius:6px;padding:14px;color:var(--muted)}
.small{font-size:12px;color:var(--muted)}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
footer{color:var(--muted);font-size:12px;padding:16px 28px;border-top:1px solid var(--line)}
#summary .cards{grid-template-columns:repeat(5,minmax(150px,1fr))}
#summary .card .value{font-size:20px}
#summary .card .meta{min-height:16px}
#summary .cols{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin-top:10px}
#summary ul{margin:4px 0;padding-left:20px}
#summary li{margin:2px 0}
#summary h3{margin:6px 0 4px}
.card.missed{border-color:#e5b4ae;background:#fdf3f2}.card.met{border-color:#b9dcc3}
"""


def esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def fmt(v: Any, kind: str = "num", note: str = "") -> str:
    """A number for people; a missing one is "—" (with why, on hover)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return f'<span class="na" title="{esc(note or "无数据")}">—</span>'
    if kind == "pct":
        return f"{v * 100:.1f}%"
    if kind == "seconds":
        return f"{v:.1f} s"
    if kind == "score":
        return f"{v:.1f}"
    if kind in ("count", "int"):
        return f"{int(round(v)):,}"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "p":
        return "< 0.0001" if v < 0.0001 else f"{v:.4f}"
    if is_number(v):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return esc(v)


def change_cell(key: str, kind: str, change: float | None) -> str:
    c = judge_change(key, kind, change)
    if c is None:
        return '<span class="na">—</span>'
    if not c.arrow:
        return f'<span class="flat">{c.text}</span>'
    cls = f' class="{"up" if c.shown > 0 else "down"}-{c.verdict}"' if c.verdict else ""
    return f"<span{cls}>{c.arrow} {c.text}</span>"


def status_cell(met: bool | None, target: float | None, direction: str | None, kind: str) -> str:
    if target is None:
        return '<span class="na">—</span>'
    sign = "≥" if direction == "min" else "≤"
    t = fmt(target, kind)
    if met is None:
        return f'<span class="na">{sign} {t}</span>'
    return f'<span class="{"ok" if met else "miss"}">{sign} {t} {"达标" if met else "未达标"}</span>'


def img(charts: dict[str, bytes], name: str, alt: str) -> str:
    png = charts.get(name)
    if not png:
        return ""
    return f'<img class="chart" alt="{esc(alt)}" data-chart="{esc(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def table(df: pd.DataFrame | None, cols: list[tuple[str, str, str | Callable]], limit: int | None = None) -> str:
    """cols: (column, header, kind or a function(row) → html)."""
    if df is None or len(df) == 0:
        return '<div class="nodata">无数据</div>'
    head = "".join(f'<th class="{"t" if (k == "text" or callable(k)) else ""}">{esc(h)}</th>' for _, h, k in cols)
    body = []
    rows = df.itertuples(index=False) if limit is None else df.head(limit).itertuples(index=False)
    names = list(df.columns)
    for tup in rows:
        row = dict(zip(names, tup))
        cells = []
        for c, _, k in cols:
            if callable(k):
                cells.append(f'<td class="t">{k(row)}</td>')
            elif k == "text":
                cells.append(f'<td class="t">{esc(row.get(c))}</td>')
            else:
                cells.append(f"<td>{fmt(row.get(c), k)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<div class="small">显示 {limit} / 共 {len(df)} 行</div>' if limit is not None and len(df) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"



def sparkline(values: list[float | None], w: int = 110, h: int = 20) -> str:
    """An inline SVG line of ``values`` (None = a gap); the last point is marked."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return '<span class="na">—</span>'
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)

    def xy(i, v):
        return f"{1 + i * (w - 4) / n:.1f},{h - 2 - (v - lo) / span * (h - 4):.1f}"

    segs, cur = [], []
    for i, v in enumerate(values):
        if v is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append(xy(i, v))
    if cur:
        segs.append(cur)
    lines = "".join(f'<polyline points="{" ".join(sg)}" fill="none" stroke="#3b6fb6" stroke-width="1.3"/>' for sg in segs if len(sg) > 1)
    dots = "".join(f'<circle cx="{sg[0].split(",")[0]}" cy="{sg[0].split(",")[1]}" r="1.3" fill="#3b6fb6"/>' for sg in segs if len(sg) == 1)
    lx, ly = xy(*pts[-1]).split(",")
    title = f"{lo:.1f} – {hi:.1f}"
    return (f'<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{title}</title>{lines}{dots}'
            f'<circle cx="{lx}" cy="{ly}" r="2" fill="#e07b39"/></svg>')


def agent_label(row) -> str:
    """An agent as the tables show one: the name, then the id in small print."""
    return f"{esc(row.get('agent_name') or '')} <span class='small'>{esc(row.get('agent_id'))}</span>"
