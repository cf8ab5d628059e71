"""``zhijian evaluate`` (accuracy on a gold split) and ``zhijian gold`` (build and merge the gold set)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import REPO_ROOT, load_config

EXIT_OK, EXIT_GATE = 0, 4
RECORDED = REPO_ROOT / "data" / "gold" / "recorded.json"


def cmd_evaluate(args) -> int:
    import json

    from .evaluate import format_report, gate_failures, gold_files, inspect_gold, load_gold, write_outputs, evaluate

    config = load_config(args.config)
    cfg = config["evaluation"]
    files = gold_files(args.gold, args.split)
    records = load_gold(files)
    if args.no_models:
        config["models"]["enabled"] = False
    results = inspect_gold(records, config)
    report, rows = evaluate(records, results, coverage=cfg["interval"])
    title = " + ".join(str(f) for f in files)
    print(format_report(report, title))
    if args.out:
        write_outputs(args.out, report, rows)
        print(f"zhijian: metrics.json and disagreements.jsonl ({len(rows)} rows) → {args.out}", file=sys.stderr)
    if args.record:
        Path(args.record).write_text(json.dumps({"split": args.split, "rules": report["rules"], "queue": report["queue"],
                                                 "macro_f1": report["macro_f1"], "end_sentiment": report["end_sentiment"]}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"zhijian: recorded the figures in {args.record}", file=sys.stderr)
    if args.gate:
        recorded = json.loads(Path(args.gate).read_text(encoding="utf-8"))
        failures = gate_failures(report, recorded, cfg["gate_margin"])
        if failures:
            print("zhijian: accuracy gate FAILED (more than evaluation.gate_margin below the recorded figures):", file=sys.stderr)
            for f in failures:
                print(f"  {f}", file=sys.stderr)
            return EXIT_GATE
        print(f"zhijian: accuracy gate passed (margin {cfg['gate_margin']})", file=sys.stderr)
    return EXIT_OK


def add_subcommands(sub) -> None:
    sp = sub.add_parser("evaluate", help="measure every rule, the review queue and end sentiment on a gold split of real chats")
    sp.add_argument("gold", help="the gold folder (data/gold) or one split file (data/gold/dev.jsonl)")
    sp.add_argument("--split", choices=["dev", "test", "all"], default="dev",
                    help="with a folder: which split (default dev; look at test only to report)")
    sp.add_argument("--out", help="folder for metrics.json and disagreements.jsonl (what a QA lead reads)")
    sp.add_argument("--record", metavar="FILE", help="write the per-rule figures to FILE (the CI gate's reference)")
    sp.add_argument("--gate", metavar="FILE", help="exit 4 when a rule's precision or recall is more than "
                    "evaluation.gate_margin below the figures recorded in FILE")
    sp.add_argument("--no-models", action="store_true", help="rules only (no classifiers)")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
    sp.set_defaults(func=cmd_evaluate)
    add_gold_subcommands(sub)


def cmd_gold_sample(args) -> int:
    from ..models.datasets import DataPaths
    from .labels import read_jsonl, write_jsonl
    from .sample import POOLS, gold_record, gold_split, reading_view, select

    pool = POOLS[args.corpus](DataPaths(data_dir=args.data_dir) if args.data_dir else DataPaths())
    if args.exclude:  # a later round: never draw a chat the gold set already holds
        taken = {r["id"] for f in sorted(Path(args.exclude).glob("*.jsonl")) for r in read_jsonl(f)}
        pool = [p for p in pool if p.id not in taken]
    if args.split:  # a round for one split only: the hash already decided where each chat belongs
        pool = [p for p in pool if gold_split(p.id) == args.split]
    chosen = select(pool, args.n_random, args.n_enriched, args.seed)
    records = sorted((gold_record(p, s) for p, s in chosen), key=lambda r: r["id"])
    write_jsonl(args.out, records)
    if args.batches:
        import hashlib

        # reading order: a hash, so batches mix corpora and strata and nobody can tell which is which
        order = sorted(records, key=lambda r: hashlib.sha256(("batch:" + r["id"]).encode()).hexdigest())
        for b in range(args.n_batches):
            write_jsonl(Path(args.batches) / f"batch_{b + 1}.jsonl", (reading_view(r) for r in order[b :: args.n_batches]))
    split = {s: sum(r["split"] == s for r in records) for s in ("dev", "test")}
    print(f"zhijian: {len(records)} conversations from a pool of {len(pool)} → {args.out} ({split})", file=sys.stderr)
    return EXIT_OK


def cmd_gold_merge(args) -> int:
    from .labels import merge_annotations

    conversations = _read_all(args.conversations)
    report = merge_annotations(conversations, _read_all(args.a), _read_all(args.b), _read_all(args.adjudication or []), Path(args.out))
    print(format_agreement(report["agreement"]))
    print(f"zhijian: {report['counts']} → {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_gold_agreement(args) -> int:
    import json

    report = json.loads((Path(args.gold) / "agreement.json").read_text(encoding="utf-8"))
    print(format_agreement(report["agreement"]))
    return EXIT_OK


def cmd_gold_turn_ceiling(args) -> int:
    from .turn_ceiling import ceiling_table, format_ceiling

    config = load_config(args.config)
    windows = config["windows"]
    shipped = ("reply", int(windows["empathy_within_agent_turns"]), int(windows["empathy_lookback_agent_turns"]))
    print(format_ceiling(ceiling_table(args.gold), shipped))
    return EXIT_OK


def _read_all(paths: list[str]) -> list[dict]:
    from .labels import read_jsonl

    return [r for p in paths for r in read_jsonl(p)]


def format_agreement(agreement: dict) -> str:
    lines = [f"{'label':<18} {'items':>6} {'agree':>6} {'κ':>6}  positives A / B"]
    for name, v in agreement.items():
        k = "—" if v["kappa"] is None else f"{v['kappa']:.3f}"
        pos = f"{v['positives_a']} / {v['positives_b']}" if v["positives_a"] or v["positives_b"] else ""
        lines.append(f"{name:<18} {v['n']:>6} {v['agreement']:>6.3f} {k:>6}  {pos}")
    return "\n".join(lines)


def add_gold_subcommands(sub) -> None:
    gp = sub.add_parser("gold", help="build the gold set of real chats: sample, merge annotations, agreement").add_subparsers(
        dest="gold_command", required=True)
    sp = gp.add_parser("sample", help="draw the conversations to label from the real corpora (half random, half enriched)")
    sp.add_argument("--data-dir", help="folder laid out like ../shared/data/raw (default)")
    sp.add_argument("--out", required=True, help="JSONL of the chosen conversations (input contract + source + split)")
    sp.add_argument("--corpus", choices=("jd", "stc3"), default="jd", help="jd: CSDS val + JDDC valid (the gold set's pool); "
                    "stc3: the STC-3 Weibo helpdesk dialogues (a second corpus, data/gold_weibo)")
    sp.add_argument("--batches", help="folder for the annotators' reading batches (id + numbered turns only)")
    sp.add_argument("--n-batches", type=int, default=4)
    sp.add_argument("--n-random", type=int, default=220)
    sp.add_argument("--n-enriched", type=int, default=220)
    sp.add_argument("--seed", type=int, default=20261205)
    sp.add_argument("--exclude", metavar="GOLD_DIR", help="a later round: leave out the chats already in this gold folder")
    sp.add_argument("--split", choices=("dev", "test"), help="draw only chats whose fixed hash puts them in this split "
                    "(a dev-only round adds data to fix rules on without touching the test split or the models' held-out set)")
    sp.set_defaults(func=cmd_gold_sample)
    sp = gp.add_parser("merge", help="two annotations + adjudication → dev.jsonl, test.jsonl, annotations/, agreement.json")
    sp.add_argument("--conversations", nargs="+", required=True, help="the file(s) `zhijian gold sample` wrote (one per round)")
    sp.add_argument("--a", nargs="+", required=True, help="annotator A's label files")
    sp.add_argument("--b", nargs="+", required=True, help="annotator B's label files")
    sp.add_argument("--adjudication", nargs="*", help="the adjudicator's decisions on the disputed labels")
    sp.add_argument("--out", required=True, help="the gold folder (data/gold)")
    sp.set_defaults(func=cmd_gold_merge)
    sp = gp.add_parser("agreement", help="print Cohen's κ per label of a gold folder")
    sp.add_argument("gold", help="the gold folder (data/gold)")
    sp.set_defaults(func=cmd_gold_agreement)
    sp = gp.add_parser("turn-ceiling", help="empathy_missing from people's turn readings of both sides, by the rubric's words: "
                                            "the ceiling of a rule that reads turns (dev)")
    sp.add_argument("gold", help="the gold folder holding emotion_turns.jsonl and agent_empathy_turns.jsonl (data/gold)")
    sp.add_argument("--config", help="configuration file (for empathy.missing's window)")
    sp.set_defaults(func=cmd_gold_turn_ceiling)
