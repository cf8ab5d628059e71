"""The HTML report in a real browser: Debian's chromium (installed by .ci/run) driven by Playwright.

Checks that the page renders with its charts (every <img> decoded, a non-trivial screenshot) and
that Chinese is drawn with a CJK font — no tofu boxes — both in the page (the platform font
Chromium used for the title, and canvas renderings of Chinese characters that differ from each
other and from a missing glyph) and in the charts (matplotlib found a CJK font and warned about no
missing glyph). Skipped, with the reason, only when chromium or Playwright isn't installed.
"""

from __future__ import annotations

import io
import shutil
import sys
import warnings
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover
    HAVE_PLAYWRIGHT = False

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: .ci/run → apt-get install chromium)"),
    pytest.mark.skipif(not HAVE_PLAYWRIGHT, reason="playwright is not installed (pip install -e '.[test]')"),
]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.report_history import generate_history
    from pipeline.config import load_config
    from pipeline.report import chart_style
    from pipeline.report import charts as charts_mod
    from pipeline.report.html import render_html
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    root = tmp_path_factory.mktemp("browser")
    runs = generate_history(root, days=15, per_day=50)
    config = load_config()
    report = compute(load_runs(runs), config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts = charts_mod.render_all(report, config)
    glyph_warnings = [str(w.message) for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]
    out = root / "report.html"
    out.write_text(render_html(report, charts), encoding="utf-8")
    return out, charts, glyph_warnings, chart_style._font_used[0] if chart_style._font_used else None


def test_charts_use_a_cjk_font(page_file):
    _, charts, glyph_warnings, font = page_file
    assert font is not None, "no CJK font for matplotlib: install fonts-noto-cjk (.ci/run does)"
    assert glyph_warnings == [], glyph_warnings[:3]
    for name in ("grade_mix", "rule_hits", "daily_volume_score", "forecasts", "agent_ranking", "team_items", "issue_pareto",
                 "bad_reasons", "verdict_precision"):
        assert name in charts and charts[name][:8] == b"\x89PNG\r\n\x1a\n"


def test_html_renders_with_charts_and_no_tofu(page_file, tmp_path):
    from playwright.sync_api import sync_playwright

    path, charts, _, _ = page_file
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            # every chart is an image that decoded
            imgs = page.eval_on_selector_all(
                "img.chart", "els => els.map(e => ({ok: e.complete && e.naturalWidth > 100 && e.naturalHeight > 100, name: e.dataset.chart}))")
            assert len(imgs) == len(charts) >= 12 and all(i["ok"] for i in imgs), imgs
            assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith(("file:", "data:"))]
            for sec in ("kpi", "trends", "agents", "issues", "bad-reviews", "verdicts"):
                assert page.locator(f"section#{sec}").count() == 1
            # the platform font Chromium really used for the (Chinese) title
            cdp = page.context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument")["root"]["nodeId"]
            h1 = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "header h1"})["nodeId"]
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": h1})["fonts"]
            cjk = [f for f in fonts if any(k in f["familyName"] for k in ("CJK", "WenQuanYi", "Source Han", "YaHei", "PingFang"))]
            assert cjk and sum(f["glyphCount"] for f in cjk) >= 4, fonts
            # tofu check: distinct Chinese glyphs must look distinct, and unlike a missing glyph
            probe = page.evaluate("""() => {
                const family = getComputedStyle(document.body).fontFamily;
                const c = document.createElement('canvas'); c.width = 64; c.height = 64;
                const g = c.getContext('2d');
                const draw = ch => { g.clearRect(0, 0, 64, 64); g.font = '48px ' + family; g.fillStyle = '#000';
                                     g.fillText(ch, 4, 52); const d = g.getImageData(0, 0, 64, 64).data;
                                     let ink = 0, sig = ''; for (let i = 3; i < d.length; i += 4) { if (d[i] > 128) ink++; sig += d[i] > 128 ? '1' : '0'; }
                                     return {ink, sig}; };
                return {chars: ['质', '检', '报', '告', '差', '评'].map(draw), missing: draw('\\u0378'), width: g.measureText('质检报告').width};
            }""")
            sigs = [c["sig"] for c in probe["chars"]]
            assert len(set(sigs)) == len(sigs), "different Chinese characters render identically: tofu boxes"
            assert probe["missing"]["sig"] not in sigs, "Chinese renders like a missing glyph"
            assert all(c["ink"] > 80 for c in probe["chars"]) and probe["width"] > 150
            # a non-trivial screenshot
            png = page.screenshot(full_page=True)
            (tmp_path / "report.png").write_bytes(png)
        finally:
            browser.close()
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    assert im.size[0] >= 1200 and im.size[1] > 4000
    small = im.resize((im.size[0] // 8, im.size[1] // 8))
    assert len(small.getcolors(1 << 24)) > 200, "the screenshot is (nearly) blank"
