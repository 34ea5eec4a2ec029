"""Reliability cases: the frozen-feature path for short texts (``--encoder frozen``)."""

from __future__ import annotations

import json

from cases import Case, Env


def _frozen(e: Env, *extra: str) -> list[str]:
    """A frozen-encoder run whose cache stays inside the case's directory."""
    return e.train(e.good_csv(), "--encoder", "frozen", "--cache-dir", str(e.path("cache")), *extra)


def _head_only(e: Env) -> str | None:
    """The run cached every text, and its model directory records the frozen encoder."""
    cached = list(e.path("cache").rglob("*.safetensors"))
    if len(cached) < 30:
        return f"only {len(cached)} cached embeddings"
    meta = json.loads((e.path("run") / "longtail.json").read_text())
    return None if meta["config"]["model"]["encoder"] == "frozen" else "model.encoder not recorded"


# fmt: off
CASES: list[Case] = [
    Case("train-frozen-succeeds", "--encoder frozen: texts encoded once into the cache, head trained (success)",
         _frozen, "model and report written", code=0, check=_head_only),
    Case("train-frozen-gradient-checkpointing", "--encoder frozen with --gradient-checkpointing",
         lambda e: _frozen(e, "--gradient-checkpointing"), "drop --gradient-checkpointing"),
    Case("train-frozen-aux-loss", "--encoder frozen with an auxiliary contrastive loss",
         lambda e: _frozen(e, "--aux-loss", "supcon"), "drop --aux-loss"),
    Case("train-frozen-top-layers-strategy", "--encoder frozen with a strategy that trains encoder layers",
         lambda e: _frozen(e, "--strategy", "prefinetune_da"), "trains the top 1 encoder layer(s)"),
    Case("train-frozen-arrow", "--encoder frozen with --arrow",
         lambda e: _frozen(e, "--arrow"), "does not combine with --arrow"),
    Case("train-frozen-mlp-long-documents", "--head mlp on long documents (they have an aggregator)",
         lambda e: _frozen(e, "--head", "mlp", "--long-documents"), "--head mlp is for short texts"),
    Case("train-head-hidden-without-mlp", "--head-hidden without --head mlp",
         lambda e: _frozen(e, "--head-hidden", "16"), "add --head mlp"),
    Case("train-frozen-encoder-lr", "--encoder frozen with --lr (the encoder's rate): a named warning",
         lambda e: _frozen(e, "--lr", "1e-4"), "which --encoder frozen never trains", code=0, warnings=True),
    Case("train-encoder-unknown", "--encoder with an unknown mode",
         lambda e: e.train(e.good_csv(), "--encoder", "freeze"), "invalid choice: 'freeze'"),
    Case("train-runtime-finetune", "--runtime onnx on a run that fine-tunes the encoder",
         lambda e: e.train(e.good_csv(), "--runtime", "onnx"), "runs a frozen encoder"),
    Case("train-cascade-not-a-model", "--extra-features-from a folder that holds no model",
         lambda e: e.train(e.good_csv(), "--extra-features-from", str(e.tmp)), "not a model directory"),
    Case("train-cascade-short-texts", "--extra-features-from on short texts (features join a document embedding)",
         lambda e: e.train(e.good_csv(), "--extra-features-from", str(e.model()), "--no-long-documents"),
         "add --long-documents"),
    Case("decide-existing-output", "longtail decide into an existing directory without --overwrite",
         lambda e: ["decide", "--model", str(e.model()), "--data", str(e.good_csv("recent.csv")),
                    "--output", str(e.tmp)], "pass --overwrite"),
    Case("decide-floor-without-value", "longtail decide --objective recall_floor without --floor",
         lambda e: ["decide", "--model", str(e.model()), "--data", str(e.good_csv("recent.csv")),
                    "--output", str(e.path("decided")), "--objective", "recall_floor"], "floor"),
]
# fmt: on
