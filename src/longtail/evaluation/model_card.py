"""The model card: a model directory's ``README.md``, generated from its ``longtail.json`` and report.

The hub shows it as the repository's page (Mitchell et al. 2019, "Model Cards for Model
Reporting", arXiv 1810.03993): what the model is, the data it learned from with the class
counts, how it decides, the held-out metrics with the per-class table, and what it is for. The
YAML header carries the hub's metadata (``library_name``, ``pipeline_tag``, ``base_model``).
Everything in it is read from the run: nothing is claimed that the report does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from longtail.evaluation.anchor import anchor_warning
from longtail.evaluation.report import anchor_lines, format_value
from longtail.registry import spec_name

MODEL_CARD = "README.md"


def _hub_id(name: Any) -> str | None:
    """``base_model`` for the YAML header when it is a hub id (``owner/name``), else ``None``."""
    text = str(name or "").split(" (")[0]
    return text if text.count("/") == 1 and not text.startswith((".", "/", "~")) else None


def model_card(meta: Mapping[str, Any], report: Mapping[str, Any], title: str | None = None) -> str:
    """Markdown with a YAML header, for ``README.md`` in a model directory."""
    task = meta["task"]
    names = list(meta["labels"]["names"])
    config = meta.get("config") or {}
    encoder = (config.get("model") or {}).get("encoder", "finetune")
    metrics = report.get("metrics") or {}
    split = str(report.get("split") or "validation")
    header = ["---", "library_name: longtail", "pipeline_tag: text-classification"]
    header += ["tags:", "- longtail", "- text-classification", "- class-imbalance", f"- {task}"]
    if base := _hub_id(meta.get("base_model")):
        header.append(f"base_model: {base}")
    header.append("---")
    counts = (meta.get("training") or {}).get("train_class_counts") or {}
    lines = [
        *header, "", f"# {title or f'longtail {task} text classifier'}", "",
        f"A {task} text classifier over {len(names)} classes, trained with longtail for "
        "class-imbalanced data: the encoder "
        f"`{meta.get('base_model')}` ({'frozen, head trained on its embeddings' if encoder == 'frozen' else 'fine-tuned'}),"
        f" loss `{_spec((report.get('model') or {}).get('loss'))}`, sampler "
        f"`{_spec(config.get('sampler'))}`. It outputs calibrated probabilities "
        f"({meta.get('calibration') or 'temperature'}) and decides with thresholds tuned on "
        f"validation ({meta.get('threshold_objective') or 'not tuned: argmax / 0.5'}).",
        *_lexical_sentence(meta),
        "", "## Intended use", "",
        "Scoring texts like the ones it was trained on. Read the per-class table before trusting "
        "a class: a class with few training or test examples is measured loosely. The decision "
        "assumes the class balance of its validation data; where the balance differs, refit it "
        "on labelled rows from there (`longtail decide`).",
        "", "## Training data", "",
        f"{(report.get('data') or {}).get('train_rows', '?')} training and "
        f"{(report.get('data') or {}).get('validation_rows', '?')} validation rows.", "",
        "| class | training examples |", "|---|---:|",
        *(f"| {name} | {count} |" for name, count in counts.items()),
        "", f"## Evaluation ({split})", "",
    ]  # fmt: skip
    if split.startswith("validation"):
        lines += [
            "These numbers are on the validation rows the thresholds were tuned on: optimistic.",
            "",
        ]
    keys = [("macro-F1", "f1_macro"), ("MCC", "mcc"), ("PR-AUC (macro)", "pr_auc_macro"),
            ("balanced accuracy", "balanced_accuracy"), ("ECE", "ece")]  # fmt: skip
    if task == "binary":
        keys.insert(0, ("PR-AUC (positive class)", "positive_pr_auc"))
    lines += ["| metric | value |", "|---|---:|"]
    lines += [
        f"| {label} | {format_value(metrics.get(key))} |" for label, key in keys if key in metrics
    ]
    # the baseline a practitioner fits first, on the same rows: a reader of the card sees whether
    # the transformer was worth its cost, and the warning when it was not
    lines += anchor_lines(report, "### Against TF-IDF + logistic regression on the same rows")
    if warning := anchor_warning(report):
        lines += ["", f"**Note: {warning}.**"]
    per_class = sorted(metrics.get("per_class") or [], key=lambda r: -r["support"])
    if per_class:
        lines += ["", "| class | support | precision | recall | F1 |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {r['label']} | {r['support']} | {format_value(r['precision'])} | "
            f"{format_value(r['recall'])} | {format_value(r['f1'])} |"
            for r in per_class
        ]
    lines += [
        "", "## How to use", "", "```python", "from longtail import Classifier", "",
        'clf = Classifier.from_pretrained("<this repository or folder>")',
        'clf.predict(["some text"])        # labels, with the tuned decision',
        'clf.predict_proba(["some text"])  # calibrated probabilities', "```", "",
        "or `longtail predict --model <folder> --data new.csv --output predictions.jsonl`.", "",
    ]  # fmt: skip
    return "\n".join(lines)


def _spec(spec: Any) -> str:
    return "default" if spec is None else spec_name(spec)


def _lexical_sentence(meta: dict[str, Any]) -> list[str]:
    """Where a TF-IDF branch is fused into the output (``lexical``), one sentence saying so."""
    from longtail.models.lexical import fused_weight  # longtail.models imports torch: only here

    weight = fused_weight(meta)
    if not weight:
        return []
    return [
        f"Its probabilities fuse a TF-IDF + logistic regression branch, fitted on the same "
        f"training rows, at weight {weight} ({meta['lexical'].get('chosen_by', 'chosen')}); the "
        "branch ships in `lexical.json` and `lexical.safetensors`."
    ]
