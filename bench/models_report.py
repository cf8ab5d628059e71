"""Print the held-out report of the champion models (from MLflow) as the Markdown of docs/MODELS.md.

    python bench/models_report.py            # the default store (mlruns.db) or $MLFLOW_TRACKING_URI

Everything printed comes from the run's report.json: the numbers in docs/MODELS.md are copied
from this output, and `zhijian train …` reproduces them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _report(name: str) -> tuple[dict, str]:
    from pipeline.models import tracking

    champ = tracking.champion(name)
    if not champ:
        raise SystemExit(f"no champion for {name} in {tracking.tracking_uri()}")
    _, client = tracking._client()
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(champ["run_id"], "report.json", tmp)
        return json.loads(Path(path).read_text(encoding="utf-8")), f"v{champ['version']} (run {champ['run_id'][:12]})"


def main() -> None:
    from pipeline.models.evaluate import markdown_table

    rep, which = _report("issue_type")
    print(f"## issue_type {which}\n")
    print(markdown_table(rep["held_out"], rep["baselines"]))
    if rep.get("held_out_single_type"):
        print(f"\n### single-type held-out dialogues ({rep['held_out_single_type']['n']})\n")
        print(markdown_table(rep["held_out_single_type"], {"keywords": rep["baselines_single_type"]["keywords"]}))
    print("\ndiagnostics:", json.dumps(rep["diagnostics"], ensure_ascii=False))
    if rep.get("calibration"):
        cal = rep["calibration"]
        print(f"calibration: temperature {cal['temperature']:.3f}; ECE held-out {cal['held_out']['ece']:.3f}, out-of-fold {cal['out_of_fold']['ece']:.3f}")
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

    rep, which = _report("sentiment")
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
