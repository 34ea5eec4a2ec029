"""Reliability cases: model directories and checkpoints (longtail.json / state.json schema), and messages that used to mislead."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cases import Case, Env, _evaluate, _predict


def _meta(env: Env, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the trained run whose longtail.json ``change`` edited in place."""
    model = env.model()
    path = model / "longtail.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    change(meta)
    path.write_text(json.dumps(meta), encoding="utf-8")
    return model


def _meta_text(env: Env, text: str) -> Path:
    model = env.model()
    (model / "longtail.json").write_text(text, encoding="utf-8")
    return model


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta.update(fields)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta.pop(key)


def _three_labels(meta: dict[str, Any]) -> None:
    """Labels, thresholds and head size edited together, consistently, but not the weights."""
    names = [*meta["labels"]["names"], "phishing"]
    meta.update(task="multiclass", thresholds=[1.0, 1.0, 1.0])
    meta["labels"].update(task="multiclass", names=names)
    meta["architecture"]["num_logits"] = 3


def _resume(env: Env, *extra: str, damage: Callable[[Path], None] | None = None) -> list[str]:
    """``--resume`` of the reference run with its own data and flags (the checkpoint fits)."""
    model = env.model()
    if damage is not None:
        damage(model / "checkpoint")
    data = env.trained_run.parent / "ref-train.csv"
    return ["train", "--data", str(data), "--model", str(env.tiny_model), "--output", str(model),
            "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--resume", *extra]  # fmt: skip


def _edit_json(name: str, change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    """Edit one JSON file of the checkpoint in place."""

    def damage(checkpoint: Path) -> None:
        path = checkpoint / name
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data), encoding="utf-8")

    return damage


def _offline(env: Env) -> list[str]:
    """HF_HUB_OFFLINE=1 for this case only (``_online_again`` restores it after the run)."""
    env.memo["HF_HUB_OFFLINE"] = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    return [*env.train(env.good_csv()), "--model", "longtail-tests/not-in-any-cache"]


def _online_again(env: Env) -> None:
    previous = env.memo.get("HF_HUB_OFFLINE")
    if previous is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = str(previous)
    return None


def _pickled_model(env: Env) -> Path:
    """The tiny encoder with its weights as pytorch_model.bin (pickle) only."""
    model = env.path("pickled-model")
    shutil.copytree(env.tiny_model, model)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    return model


def _predict_with(env: Env, model: Path, *extra: str) -> list[str]:
    return [*_predict(env, model), *extra]


def _encoder_file(env: Env, name: str, content: str | None) -> Path:
    model = env.model()
    path = model / "encoder" / name
    if content is None:
        path.unlink()
    else:
        path.write_text(content, encoding="utf-8")
    return model


CASES: list[Case] = [
    # --- longtail.json: the schema of what the loaders read ---
    Case("predict-meta-is-list", "longtail.json holds a JSON list instead of an object",
         lambda e: _predict(e, _meta_text(e, "[1, 2]")), "must hold a JSON object"),
    Case("predict-meta-is-null", "longtail.json holds null",
         lambda e: _predict(e, _meta_text(e, "null")), "got null"),
    Case("predict-meta-empty", "longtail.json is 0 bytes",
         lambda e: _predict(e, _meta_text(e, "")), "longtail.json is corrupted"),
    Case("predict-meta-missing-labels", "longtail.json without labels",
         lambda e: _predict(e, _meta(e, _drop("labels"))), "field 'labels': is missing"),
    Case("predict-meta-thresholds-are-strings", 'thresholds ["0.3"] (a string, not a number)',
         lambda e: _predict(e, _meta(e, _set(thresholds=["0.3"]))),
         "field 'thresholds.0': Input should be a valid number"),
    Case("predict-meta-thresholds-wrong-length", "two thresholds for a binary model",
         lambda e: _predict(e, _meta(e, _set(thresholds=[0.3, 0.5]))),
         "thresholds holds 2 value(s); a binary model with 2 labels has 1"),
    Case("predict-meta-temperature-null", "temperature null",
         lambda e: _predict(e, _meta(e, _set(temperature=None))), "field 'temperature'"),
    Case("predict-meta-negative-temperature", "temperature -1 (would flip every probability)",
         lambda e: _predict(e, _meta(e, _set(temperature=-1.0))),
         "field 'temperature': Input should be greater than 0"),
    Case("predict-meta-duplicate-labels", "the label names hold 'ham' twice",
         lambda e: _predict(e, _meta(e, lambda m: m["labels"].update(names=["ham", "ham"]))),
         "label names must be unique; repeated: ham"),
    Case("predict-meta-labels-edited", "a third label added to longtail.json (weights unchanged)",
         lambda e: _predict(e, _meta(e, _three_labels)), "does not fit the architecture"),
    Case("predict-meta-file-outside", "files names a path outside the model directory",
         lambda e: _predict(e, _meta(e, lambda m: m["files"].update({"../x": "0" * 64}))),
         "is not a path inside the model directory"),
    Case("predict-meta-unknown-key", "an unknown top-level key is kept and ignored (success)",
         lambda e: _predict(e, _meta(e, _set(notes="added by hand"))), "wrote 40 predictions",
         code=0),
    Case("evaluate-meta-training-is-list", "the training section is a list",
         lambda e: ["evaluate", "--model", str(_meta(e, _set(training=[]))),
                    "--data", str(e.good_csv()), "--output", str(e.path("eval"))],
         "field 'training': Input should be a valid dictionary"),
    Case("evaluate-meta-newer-format", "format_version 3 from a newer longtail",
         lambda e: ["evaluate", "--model", str(_meta(e, _set(format_version=3, longtail_version="9.0.0"))),
                    "--data", str(e.good_csv()), "--output", str(e.path("eval"))],
         "written by longtail 9.0.0; this is longtail"),
    Case("export-meta-no-format-version", "longtail.json without format_version",
         lambda e: ["export", "--model", str(_meta(e, _drop("format_version"))), "--onnx",
                    "--output", str(e.path("m.onnx"))], "has no format_version"),
    # --- the encoder inside a model directory ---
    Case("predict-missing-tokenizer", "encoder/tokenizer.json deleted (loaded as an empty vocabulary before)",
         lambda e: _predict(e, _encoder_file(e, "tokenizer.json", None)),
         "is missing encoder/tokenizer.json"),
    Case("predict-encoder-config-corrupt", "encoder/config.json is not JSON",
         lambda e: _predict(e, _encoder_file(e, "config.json", "{")), "does not match the hash"),
    # --- checkpoints: state.json, optimizer.json, scheduler.json ---
    Case("train-resume-state-wrong-type", "state.json with epoch \"1\" (a string)",
         lambda e: _resume(e, damage=_edit_json("state.json", lambda s: s.update(epoch="1"))),
         "state.json is damaged (field 'epoch'"),
    Case("train-resume-state-missing-field", "state.json without its fingerprint",
         lambda e: _resume(e, damage=_edit_json("state.json", lambda s: s.pop("fingerprint"))),
         "state.json is damaged (field 'fingerprint': Field required)"),
    Case("train-resume-state-not-object", "state.json holds a list",
         lambda e: _resume(e, damage=lambda c: (c / "state.json").write_text("[1, 2]")),
         "state.json is damaged (expected a JSON object"),
    Case("train-resume-optimizer-damaged", "optimizer.json with a learning rate \"fast\"",
         lambda e: _resume(e, damage=_edit_json(
             "optimizer.json", lambda o: o["param_groups"][0].update(lr="fast"))),
         "optimizer.json is damaged (field 'param_groups.0.lr'"),
    Case("train-resume-scheduler-damaged", "scheduler.json is not JSON",
         lambda e: _resume(e, damage=lambda c: (c / "scheduler.json").write_text("{")),
         "scheduler.json is damaged"),
    Case("train-resume-changed-lr", "--resume with another --lr, every other flag the same",
         lambda e: _resume(e, "--lr", "0.5"),
         "other data or settings (train.lr was 5e-05, now 0.5)"),
    Case("train-resume-changed-layer-decay", "--resume with --layer-decay 0.5 (regroups the optimizer)",
         lambda e: _resume(e, "--layer-decay", "0.5"),
         "other data or settings (train.layer_decay was 1.0, now 0.5)"),
    Case("train-resume-changed-loss", "--resume with another loss (train.* unchanged)",
         lambda e: _resume(e, "--loss", "focal"),
         "train.* is the same: the data or another section differs"),
    # --- encoders: hub names without network, pickled weights ---
    Case("train-hub-model-offline", "a hub name with HF_HUB_OFFLINE=1 and no cached copy (fails at once)",
         _offline, "is not in the Hugging Face cache and HF_HUB_OFFLINE is set",
         check=_online_again),
    Case("train-model-pickle-weights", "--model with pytorch_model.bin and no safetensors",
         lambda e: [*e.train(e.good_csv()), "--model", str(_pickled_model(e))],
         "longtail never unpickles"),
    # --- numeric flags and outputs ---
    Case("predict-batch-size-zero", "predict --batch-size 0 (ran at 1.4 rows/s before)",
         lambda e: _predict_with(e, e.model(), "--batch-size", "0"),
         "argument --batch-size: must be at least 1, got 0"),
    Case("evaluate-batch-size-negative", "evaluate --batch-size -8",
         lambda e: _evaluate(e, e.good_csv("labelled.csv"), "--batch-size", "-8"),
         "argument --batch-size: must be at least 1, got -8"),
    Case("predict-explain-zero", "predict --explain 0",
         lambda e: _predict_with(e, e.model(), "--explain", "0"), "argument --explain"),
    Case("export-opset-too-low", "export --opset 9",
         lambda e: ["export", "--model", str(e.model()), "--onnx", "--output", str(e.path("m.onnx")),
                    "--opset", "9"], "argument --opset: must be at least 17, got 9"),
    Case("export-output-under-a-file", "export --output below a path that is a file",
         lambda e: ["export", "--model", str(e.model()), "--onnx",
                    "--output", str(e.write("afile", "x") / "m.onnx")], "afile is a file"),
    Case("make-imbalanced-negative-seed", "make-imbalanced --seed -1 (a NumPy traceback before)",
         lambda e: ["make-imbalanced", "--data", str(e.good_csv()), "--kind", "step", "--ratio", "0.5",
                    "--seed", "-1", "--output", str(e.path("imb.csv"))],
         "argument --seed: must be at least 0, got -1"),
    Case("augment-negative-min-words", "augment --min-words -3 (a ValueError traceback before)",
         lambda e: ["augment", "--data", str(e.good_csv()), "--method", "eda", "--target-ratio", "0.5",
                    "--min-words", "-3", "--output", str(e.path("aug.csv"))],
         "argument --min-words: must be at least 0, got -3"),
    Case("cache-clear-negative-age", "cache clear --older-than-days -1",
         lambda e: ["cache", "clear", "--dir", str(e.path("cache")), "--older-than-days", "-1"],
         "argument --older-than-days: must be a number >= 0"),
    Case("cache-info-on-a-file", "cache info --dir pointing at a file",
         lambda e: ["cache", "info", "--dir", str(e.write("cachefile", "x"))],
         "is a file, not a cache directory"),
]  # fmt: skip
