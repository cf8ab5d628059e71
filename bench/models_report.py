"""Print the held-out report of the champion models (from MLflow) as the Markdown of docs/MODELS.md.

    python bench/models_report.py            # the default store (mlruns.db) or $MLFLOW_TRACKING_URI
    python bench/models_report.py --issue-type-version 2    # a registered version that is not (yet) the champion
    python bench/models_report.py --calibration-cv 6         # nested CV of the issue-type calibration (training split only; ~10 min)

Everything printed comes from the run's report.json: the numbers in docs/MODELS.md are copied
from this output, and `zhijian train …` reproduces them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _report(name: str, version: str | None = None) -> tuple[dict | None, str]:
    """The report.json of ``version`` (default: the champion); None when there is none."""
    from pipeline.models import tracking

    _, client = tracking._client()
    if version:
        run_id, which = client.get_model_version(name, str(version)).run_id, f"v{version}"
    else:
        champ = tracking.champion(name)
        if not champ:
            return None, f"no champion for {name} in {tracking.tracking_uri()} (--{name.replace('_', '-')}-version N reads a registered version)"
        run_id, which = champ["run_id"], f"v{champ['version']} (champion)"
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "report.json", tmp)
        return json.loads(Path(path).read_text(encoding="utf-8")), f"{which} (run {run_id[:12]})"


def main() -> None:
    from pipeline.models.evaluate import markdown_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issue-type-version", help="registered version of issue_type (default: the champion)")
    ap.add_argument("--sentiment-version", help="registered version of sentiment (default: the champion)")
    ap.add_argument("--calibration-cv", type=int, metavar="REPEATS",
                    help="instead: the issue-type calibration methods by nested CV on the training split (REPEATS × 5 outer folds)")
    args = ap.parse_args()
    if args.calibration_cv:
        _calibration_cv(args.calibration_cv)
        return

    rep, which = _report("issue_type", args.issue_type_version)
    if rep is not None:
        _issue_type(rep, which, markdown_table)
    else:
        print(which)
    rep, which = _report("sentiment", args.sentiment_version)
    if rep is not None:
        _sentiment(rep, which, markdown_table)
    else:
        print(which)


def _calibration_cv(repeats: int) -> None:
    """How the shipped issue-type temperature was chosen (issue 11): each outer fold of the training
    split scored by the model refit on the other folds, calibrated by its 5-fold models' own
    temperature (v3 before), by the temperature curve read at its size, or by that and then the
    top-label map fitted on the inner folds' out-of-fold confidences (shipped). Nothing in this table comes
    from the held-out split (the training run still scores it: its last log line on stderr)."""
    import warnings

    from pipeline.models.train import default_options, train_issue_type

    warnings.filterwarnings("ignore")
    r = train_issue_type(default_options("issue_type", cv_all=False, calibration_cv_repeats=repeats),
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    n = r.report["calibration"]["nested_cv"]
    print(f"## issue_type calibration, nested CV on the training split ({r.metadata['training_data']['dialogues_train']} dialogues; "
          f"{n['repeats']} × {n['outer_folds']} outer folds, seed {n['seed']})\n")
    print(f"single-type macro-F1 {n['single_type_macro_f1']:.4f}, any-type accuracy {n['accuracy_any']:.4f} (every method: neither a temperature nor the top-label map changes a prediction)\n")
    print("| method | ECE (10 bins) | ECE per repeat | NLL | mean temperature |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name in ("fold_models_temperature", "temperature_curve", "temperature_curve+top_label"):
        m = n[name]
        per = " ".join(f"{run[name]['ece']:.3f}" for run in n["per_repeat"])
        print(f"| {name} | {m['ece']:.4f} | {per} | {m['nll']:.4f} | {m['temperature']:.4f} |")


def _issue_type(rep: dict, which: str, markdown_table) -> None:
    print(f"## issue_type {which}\n")
    print(markdown_table(rep["held_out"], rep["baselines"]))
    if rep.get("held_out_single_type"):
        print(f"\n### single-type held-out dialogues ({rep['held_out_single_type']['n']})\n")
        print(markdown_table(rep["held_out_single_type"], {"keywords": rep["baselines_single_type"]["keywords"]}))
    print("\ndiagnostics:", json.dumps(rep["diagnostics"], ensure_ascii=False))
    if rep.get("calibration"):
        cal = rep["calibration"]
        print(f"calibration: temperature {cal['temperature']:.3f}; ECE held-out {cal['held_out']['ece']:.3f}, out-of-fold {cal['out_of_fold']['ece']:.3f}")
        if cal.get("method"):
            print(f"  method: {cal['method']}; fold models' temperature {cal['out_of_fold_temperature']:.3f}; curve "
                  + ", ".join(f"{p['folds']}-fold ({p['train_dialogues']:.0f} dialogues) {p['temperature']:.3f}" for p in cal["points"])
                  + f" → {cal['temperature']:.3f} at {cal['train_dialogues']} dialogues")
        for b in cal["held_out"]["bins"]:
            print(f"  confidence {b['from']:.1f}–{b['to']:.1f}: n {b['n']:4d}, mean confidence {b['confidence']:.2f}, accuracy {b['accuracy']:.2f}")
    if rep.get("low_confidence"):
        lc = rep["low_confidence"]
        print("low confidence threshold:", lc["threshold"], "held-out at it:", json.dumps(lc.get("held_out_at_threshold")))
    if rep.get("cv_all"):
        print("CV on all labelled dialogues:", json.dumps({k: v for k, v in rep["cv_all"].items() if k != "per_repeat"}, ensure_ascii=False))
    print("selection:", json.dumps(rep["selection"], ensure_ascii=False))
    print("data:", json.dumps({k: v for k, v in rep["data"].items() if k != "files"}, ensure_ascii=False))
    print("seconds:", rep["seconds"])


def _sentiment(rep: dict, which: str, markdown_table) -> None:
    print(f"\n## sentiment {which}\n")
    print(markdown_table(rep["held_out"], rep["baselines"]))
    print("\nheld-out reviews accuracy:", round(rep["held_out_reviews_accuracy"], 3), f"({rep.get('reviews_model', 'mixed')})",
          "baselines:", json.dumps(rep["review_baselines"]))
    if rep.get("calibration"):
        cal = rep["calibration"]
        print(f"calibration: temperature {cal['temperature']:.3f}; ECE held-out {cal['held_out']['ece']:.3f}")
        print("low confidence:", json.dumps(rep["low_confidence"].get("held_out_at_threshold")), "threshold", rep["low_confidence"]["threshold"])
    if rep.get("stc3_turns_weak_labels"):
        print("STC-3 turns (weak labels) macro-F1:", round(rep["stc3_turns_weak_labels"]["macro_f1"], 3))
    conv = rep["conversation"]
    print("conversation aggregate:", conv["aggregate"], "selection (STC-3 train):", json.dumps(conv["selection_macro_f1"]))
    for name in ("jddc", "stc3"):
        if name in conv:
            print(f"  {name} held-out dialogues:", {k: round(v["macro_f1"], 3) for k, v in conv[name].items()},
                  "n =", conv[name]["majority"]["n"])
    print("empathy anchor:", json.dumps(rep["empathy_anchor"], ensure_ascii=False))
    print("selection:", json.dumps(rep["selection"], ensure_ascii=False))
    print("data:", json.dumps({k: v for k, v in rep["data"].items() if k != "files"}, ensure_ascii=False))
    print("seconds:", rep["seconds"])


if __name__ == "__main__":
    main()
