"""`zhijian` end to end: the five outputs, counts that add up, exit codes, hostile input,
explain and check-lexicons."""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from pipeline.cli import EXIT_OK, EXIT_REJECTS, EXIT_USAGE, main

OUTPUTS = ("results.jsonl", "results.parquet", "findings.parquet", "rejects.jsonl", "manifest.json")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("run")
    code = main(["inspect", str(repo / "data/samples/conversations.jsonl"), str(repo / "data/samples/turns.csv"), "--out", str(out), "--quiet"])
    return code, out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_writes_all_five_outputs_and_counts_add_up(sample_run, repo):
    code, out = sample_run
    assert code == EXIT_OK
    assert all((out / name).exists() for name in OUTPUTS)
    assert not list(out.glob(".*.partial"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    results = read_jsonl(out / "results.jsonl")
    n_lines = sum(1 for line in (repo / "data/samples/conversations.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    n_table = len({row.split(",", 1)[0] for row in (repo / "data/samples/turns.csv").read_text(encoding="utf-8").splitlines()[1:] if row[:1] == "t"})
    assert counts["read"] == n_lines + n_table == counts["inspected"] + counts["rejected"]
    assert counts["inspected"] == len(results) == pq.read_table(out / "results.parquet").num_rows
    findings = pq.read_table(out / "findings.parquet")
    assert findings.num_rows == sum(len(r["findings"]) for r in results) == counts["findings"]
    assert [i["path"] for i in manifest["inputs"]][0].endswith("conversations.jsonl")
    assert all(len(i["sha256"]) == 64 and i["bytes"] > 0 for i in manifest["inputs"])
    assert manifest["versions"]["lexicons"] and manifest["versions"]["scorecard"]
    assert manifest["config"]["timing"]["hold_threshold_s"] == 60
    assert manifest["started_at"] <= manifest["finished_at"]


def test_results_follow_the_output_contract(sample_run):
    _, out = sample_run
    results = read_jsonl(out / "results.jsonl")
    keys = {"id", "score", "grade", "findings", "issue_type", "sentiment", "turn_sentiment", "metrics", "review", "versions"}
    rules = set()
    for r in results:
        assert keys <= set(r)
        assert 0 <= r["score"] <= 100 and r["grade"] in {"优", "良", "中", "差"}
        assert set(r["review"]) == {"needed", "reasons"} and r["review"]["needed"] == bool(r["review"]["reasons"])
        for f in r["findings"]:
            rules.add(f["rule"])
            assert {"rule", "category", "severity", "points", "turn", "role", "start", "end", "evidence", "message"} <= set(f)
    # the samples exercise every SPEC core rule
    assert {"greeting.missing", "closing.missing", "forbidden.phrase", "empathy.missing", "hold.no_apology",
            "response.first_slow", "response.slow", "complaint.risk", "praise"} <= rules


def test_evidence_offsets_point_into_the_input(sample_run, repo):
    _, out = sample_run
    inputs = {r["id"]: r for r in read_jsonl(repo / "data/samples/conversations.jsonl")}
    for r in read_jsonl(out / "results.jsonl"):
        if r["id"] not in inputs:
            continue
        for f in r["findings"]:
            if f["start"] is not None and f["rule"] != "privacy.disclosure":  # that one's evidence is masked
                assert inputs[r["id"]]["turns"][f["turn"]]["text"][f["start"] : f["end"]] == f["evidence"]


def test_no_phone_number_survives_in_the_outputs(sample_run):
    import re

    _, out = sample_run
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    text += " ".join(str(v) for v in pq.read_table(out / "findings.parquet").column("evidence").to_pylist())
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)


def test_hostile_input_is_rejected_with_reasons_never_lost(tmp_path, repo):
    out = tmp_path / "out"
    code = main(["inspect", str(repo / "data/samples/hostile.jsonl"), "--out", str(out), "--quiet"])
    assert code == EXIT_REJECTS
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    lines = [ln for ln in (repo / "data/samples/hostile.jsonl").read_bytes().split(b"\n") if ln.strip()]
    rejects = read_jsonl(out / "rejects.jsonl")
    results = read_jsonl(out / "results.jsonl")
    assert counts["read"] == len(lines) == len(rejects) + len(results)
    assert counts["rejected"] == len(rejects) > 0 and counts["inspected"] == len(results) > 0
    assert sum(counts["rejects_by_reason"].values()) == len(rejects)
    assert all(r["reason"] and r["detail"] and r["line"] for r in rejects)
    assert {"json.invalid", "id.missing", "turns.missing", "id.duplicate"} <= {r["reason"] for r in rejects}
    assert "encoding.gb18030" in counts["warnings_by_kind"]


def test_gzip_and_several_inputs_and_globs(tmp_path, repo):
    src = repo / "data/samples/conversations.jsonl"
    lines = src.read_bytes().splitlines(keepends=True)
    (tmp_path / "in").mkdir()
    with gzip.open(tmp_path / "in" / "a.jsonl.gz", "wb") as fh:
        fh.writelines(lines[:50])
    (tmp_path / "in" / "b.jsonl").write_bytes(b"".join(lines[50:80]))
    out = tmp_path / "out"
    assert main(["inspect", str(tmp_path / "in" / "*"), "--out", str(out), "--quiet"]) == EXIT_OK
    assert json.loads((out / "manifest.json").read_text())["counts"]["inspected"] == 80


def test_csv_with_mapped_columns(tmp_path, repo):
    csv = (repo / "data/samples/turns.csv").read_text(encoding="utf-8")
    header, rest = csv.split("\n", 1)
    (tmp_path / "t.csv").write_text(header.replace("conversation_id", "会话ID").replace("text", "内容") + "\n" + rest, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["inspect", str(tmp_path / "t.csv"), "--out", str(out), "--quiet"]) == EXIT_USAGE  # unmapped
    assert main(["inspect", str(tmp_path / "t.csv"), "--out", str(out), "--quiet", "--column", "conversation_id=会话ID", "--column", "text=内容"]) == EXIT_OK
    assert json.loads((out / "manifest.json").read_text())["counts"]["inspected"] == 20


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect", "no/such/file.jsonl", "--out", "{tmp}/o"], "no/such/file.jsonl"),
        (["inspect", "{repo}/data/samples/conversations.jsonl", "--out", "{tmp}/o", "--config", "{tmp}/bad.yaml"], "bad.yaml"),
        (["inspect", "{repo}/data/samples/conversations.jsonl", "--out", "{tmp}/o", "--config", "{tmp}/typo.yaml"], "timing.hold_treshold_s"),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(tmp_path, repo, capsys, args, message):
    (tmp_path / "bad.yaml").write_text("timing:\n  hold_threshold_s: [\n", encoding="utf-8")
    (tmp_path / "typo.yaml").write_text("timing:\n  hold_treshold_s: 30\n", encoding="utf-8")
    args = [a.format(tmp=tmp_path, repo=repo) for a in args]
    assert main(args) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_a_broken_lexicon_fails_at_start_up(tmp_path, repo, lexicon_copy, capsys):
    text = (lexicon_copy / "praise.yaml").read_text(encoding="utf-8")
    (lexicon_copy / "praise.yaml").write_text(text.replace("category:", "categroy:", 1), encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"paths:\n  lexicons: {lexicon_copy}\n  rules: {lexicon_copy / 'rules.yaml'}\n  scorecard: {lexicon_copy / 'scorecard.yaml'}\n", encoding="utf-8")
    assert main(["inspect", str(repo / "data/samples/conversations.jsonl"), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "praise.yaml:" in err and "categroy" in err
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_no_mask_keeps_raw_evidence(tmp_path, repo):
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"id": "p1", "turns": [
        {"role": "customer", "text": "在吗", "ts": 0},
        {"role": "agent", "text": "您好,您的手机是13812345678对吗", "ts": 5},
    ]}, ensure_ascii=False) + "\n", encoding="utf-8")
    for flag, expected in (([], "138****5678"), (["--no-mask"], "13812345678")):
        out = tmp_path / f"o{len(flag)}"
        main(["inspect", str(src), "--out", str(out), "--quiet", *flag])
        ev = [f["evidence"] for f in read_jsonl(out / "results.jsonl")[0]["findings"] if f["rule"] == "privacy.disclosure"]
        assert ev == [expected]


def test_calibration_rate_from_config(tmp_path, repo):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("review:\n  calibration_rate: 1.0\n", encoding="utf-8")
    out = tmp_path / "o"
    main(["inspect", str(repo / "data/samples/conversations.jsonl"), "--out", str(out), "--quiet", "--config", str(cfg)])
    results = read_jsonl(out / "results.jsonl")
    assert all(r["review"]["needed"] for r in results)
    assert any(r["review"]["reasons"] == ["calibration.sample"] for r in results)


def test_explain_shows_findings_and_the_score(capsys, repo):
    from rich.console import Console

    from pipeline.config import load_config
    from pipeline.explain import explain

    console = Console(record=True, width=200)
    code = explain(str(repo / "data/samples/conversations.jsonl"), "s-0002", load_config(), console=console)
    text = console.export_text()
    assert code == 0
    assert "forbidden.phrase" in text and "红线" in text and "= 0" in text
    assert main(["explain", str(repo / "data/samples/conversations.jsonl"), "--id", "nope"]) == EXIT_USAGE


def test_explain_reads_a_red_line_as_such_and_the_review_in_words_at_80_columns(repo):
    from rich.console import Console

    from pipeline.config import load_config
    from pipeline.explain import explain

    console = Console(record=True, width=80)
    explain(str(repo / "data/samples/conversations.jsonl"), "s-0002", load_config(), console=console)
    text = console.export_text()
    assert "forbidden.phrase(红线→0)" in text and "(+0)" not in text
    assert "需人工复核:红线、低分" in text and "'needed'" not in text  # words, not a Python dict
    assert max(len(line) for line in text.splitlines()) <= 80
    # no cell cut short: the whole evidence and the lexicon's whole message are there, folded over lines
    columns: dict[int, str] = {}
    for line in text.splitlines():
        if line.startswith("│"):
            for i, cell in enumerate(line.split("│")[1:-1]):
                columns[i] = columns.get(i, "") + cell.strip()
    assert "…" not in text
    assert "服务规范.红线忌语" in columns[4] and "坐席使用服务忌语「你有病」" in columns[5]


def test_a_red_line_finding_is_marked_fatal_in_json_and_parquet(sample_run):
    import pyarrow.parquet as pq

    _, sample_run = sample_run
    results = {r["id"]: r for r in read_jsonl(sample_run / "results.jsonl")}
    fatal = [f for r in results.values() for f in r["findings"] if f["fatal"]]
    assert fatal and all(f["points"] == 0 and f["item"] in results_by_finding(results, f)["score_detail"]["fatal"] for f in fatal)
    assert all(not f["fatal"] for r in results.values() for f in r["findings"] if f["points"] != 0)
    table = pq.read_table(sample_run / "findings.parquet").to_pylist()
    assert sum(row["fatal"] for row in table) == len(fatal)


def results_by_finding(results, finding):
    return next(r for r in results.values() if finding in r["findings"])


def test_inspect_tells_a_person_what_it_found_and_what_to_do_next(tmp_path, repo, capsys):
    out = tmp_path / "o"
    assert main(["inspect", str(repo / "data/samples/conversations.jsonl"), "--out", str(out), "--workers", "1"]) == EXIT_OK
    said = capsys.readouterr()
    results = read_jsonl(out / "results.jsonl")
    queued = sum(r["review"]["needed"] for r in results)
    assert f"{len(results)} conversations inspected, 0 rejected" in said.out
    assert f"review queue: {queued} of {len(results)}" in said.out
    top_rule = max({f["rule"] for r in results for f in r["findings"]},
                   key=lambda rule: sum(f["rule"] == rule for r in results for f in r["findings"]))
    assert f"most frequent: {top_rule}" in said.out
    assert "zhijian explain" in said.out and "zhijian report" in said.out and "zhijian serve" in said.out
    # the explain it suggests runs as printed
    line = next(x for x in said.out.splitlines() if x.strip().startswith("zhijian explain"))
    args = shlex.split(line.split("#")[0])[1:]
    assert main(args) == EXIT_OK
    assert "conversations/s" in said.err  # the log line stays on stderr


def test_check_lexicons_passes_and_catches_a_bad_example(tmp_path, lexicon_copy, capsys):
    assert main(["check-lexicons"]) == EXIT_OK
    assert "0 failed" in capsys.readouterr().out
    text = (lexicon_copy / "praise.yaml").read_text(encoding="utf-8")
    bad_entry = (
        "\n  - id: PR-TEST-999\n    category: test\n    source: test\n    phrases: [特别棒的服务]\n"
        "    examples: {hit: [特别棒的服务], miss: [真是特别棒的服务]}\n"
    )
    (lexicon_copy / "praise.yaml").write_text(text.rstrip("\n") + bad_entry, encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"paths:\n  lexicons: {lexicon_copy}\n  rules: {lexicon_copy / 'rules.yaml'}\n  scorecard: {lexicon_copy / 'scorecard.yaml'}\n", encoding="utf-8")
    code = main(["check-lexicons", "--config", str(cfg)])
    out = capsys.readouterr()
    assert code != EXIT_OK and "FAIL" in out.out + out.err


def test_console_script_exit_code(tmp_path, repo):
    exe = shutil.which("zhijian")
    if exe is None:
        pytest.skip("the console script is not installed (pip install -e .)")
    proc = subprocess.run([exe, "inspect", str(repo / "data/samples/hostile.jsonl"), "--out", str(tmp_path / "o"), "--quiet"], capture_output=True)
    assert proc.returncode == EXIT_REJECTS
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "inspect"], capture_output=True, cwd=repo)
    assert proc.returncode == EXIT_USAGE
