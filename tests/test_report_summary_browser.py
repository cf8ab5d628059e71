"""The executive summary in a real browser (issue 13: "a Playwright screenshot test covers the
executive summary"): it is the first section, it fits one screen (1440 × 900 below the sticky
navigation), its tiles show a value or 无数据, and its screenshot is not blank. Skipped, with the
reason, when chromium or Playwright isn't installed (tests/test_report_browser.py's markers).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.test_report_browser import ARGS, CHROMIUM, pytestmark  # noqa: F401 — the same skips and the browser marker


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.report_history import generate_history
    from pipeline.config import load_config
    from pipeline.report.html import render_html
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    root = tmp_path_factory.mktemp("summary")
    runs = generate_history(root, days=15, per_day=60)
    report = compute(load_runs(runs), load_config())
    out = root / "report.html"
    out.write_text(render_html(report, {}), encoding="utf-8")
    return out


def test_summary_is_first_and_fits_one_screen(page_file, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            first = page.eval_on_selector("main section", "s => s.id")
            assert first == "summary"
            box = page.locator("section#summary").bounding_box()
            assert box and box["width"] > 1000 and box["height"] <= 900, box  # one screen
            tiles = page.eval_on_selector_all("#summary .card", "els => els.map(e => [e.dataset.summary, e.querySelector('.value').innerText])")
            assert len(tiles) == 10 and all(v.strip() for _, v in tiles), tiles
            assert dict(tiles)["fcr"].endswith("%")  # the bench history has customer ids, as zhijian inspect writes them
            png = page.locator("section#summary").screenshot()
            (tmp_path / "summary.png").write_bytes(png)
        finally:
            browser.close()
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    assert im.size[0] > 1000 and len(im.resize((im.size[0] // 4, im.size[1] // 4)).getcolors(1 << 24)) > 50, "blank summary"
