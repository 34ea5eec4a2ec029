"""Export a model directory to ONNX: encoder + pooling + head, ``(input_ids, attention_mask) → logits``.

The graph has dynamic batch and sequence axes and computes raw logits; the decisions stay data.
Next to ``model.onnx`` go ``model.json`` (task, labels, thresholds, temperature, max length, how to
turn logits into probabilities and labels) and ``model-tokenizer/`` (the tokenizer, loadable with
``AutoTokenizer`` or the ``tokenizers`` library), so the export runs with onnxruntime alone.

The legacy TorchScript exporter (``dynamo=False``) is used first: it handles the dynamic axes of
BERT-style encoders reliably, in well under a second and without extra dependencies. When it is
unavailable or fails (it is deprecated since torch 2.9) the ``torch.export`` based exporter is used.
Either way the written graph is checked with onnxruntime against PyTorch on a padded probe batch
before it replaces the output file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_json
from longtail.models.classifier import TextClassifier
from longtail.models.io import load_model_dir
from longtail.models.lexical import fused_weight

MIN_OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"
PARITY_ATOL = 1e-4
_INSTALL_HINT = "pip install 'longtail[onnx]'"
# Texts of different lengths: the probe batch must contain padding, or a tracer could drop the mask.
_PROBE_TEXTS = ("ok", "see you at lunch tomorrow, then we can talk about the plan for the weekend")


class _LogitsGraph(nn.Module):
    """The classifier with positional inputs and a single tensor output (what the exporter wants)."""

    def __init__(self, model: TextClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)


def require_onnx() -> None:
    """Fail with the install command when the optional ONNX packages are missing."""
    for package in ("onnx", "onnxruntime"):
        try:
            __import__(package)
        except ImportError:
            raise LongtailError(
                f"ONNX export needs the {package} package; install it with: {_INSTALL_HINT}"
            ) from None


def sidecar_paths(output: Path) -> tuple[Path, Path]:
    """``model.onnx`` → (``model.json``, ``model-tokenizer/``)."""
    return output.with_suffix(".json"), output.with_name(f"{output.stem}-tokenizer")


def _probe_batch(tokenizer: Any, max_length: int) -> dict[str, torch.Tensor]:
    encoded = tokenizer(
        list(_PROBE_TEXTS),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return {name: encoded[name].to(torch.long) for name in INPUT_NAMES}


def _export(
    graph: nn.Module,
    probe: dict[str, torch.Tensor],
    path: Path,
    opset: int,
    output_name: str = OUTPUT_NAME,
) -> str:
    """Write the graph to ``path``; returns the exporter used (``"torchscript"`` or ``"dynamo"``)."""
    args = tuple(probe[name] for name in INPUT_NAMES)
    common = {
        "input_names": list(INPUT_NAMES),
        "output_names": [output_name],
        "opset_version": opset,
    }
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation and tracer notes, not actionable here
            torch.onnx.export(
                graph, args, str(path), dynamo=False,
                dynamic_axes={**axes, output_name: {0: "batch"}}, **common,
            )  # fmt: skip
        return "torchscript"
    except Exception as first:  # any failure: try the other exporter
        path.unlink(missing_ok=True)
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
        shapes = ({0: batch, 1: sequence}, {0: batch, 1: sequence})
        try:
            with (
                warnings.catch_warnings(),
                open(os.devnull, "w") as sink,
                contextlib.redirect_stdout(sink),
            ):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    graph, args, str(path), dynamo=True, dynamic_shapes=shapes,
                    external_data=False, **common,
                )  # fmt: skip
        except Exception as second:
            raise LongtailError(
                f"ONNX export failed: {type(first).__name__}: {str(first)[:200]}; "
                f"then with dynamo: {type(second).__name__}: {str(second)[:200]}"
            ) from None
        return "dynamo"


def quantize_int8(fp32: Path, target: Path) -> None:
    """int8 dynamic quantisation of ``fp32``'s MatMul weights, per output channel, into
    ``target`` (activations quantised per tensor at run time; see
    :mod:`longtail.models.onnx_runtime` for why per channel and MatMul only)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs advice through the root logger ("consider pre-processing"), which
    # would also give a library user's root logger a handler: hold both off meanwhile.
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    previous = root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"],
        )  # fmt: skip
    finally:
        logging.disable(previous)
        root.removeHandler(guard)


def check_parity(
    path: Path, graph: nn.Module, probe: dict[str, torch.Tensor], output_name: str = OUTPUT_NAME
) -> float:
    """Max |onnxruntime - PyTorch| outputs on the probe batch and on its first row alone."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for rows in (slice(None), slice(0, 1)):
        feeds = {name: probe[name][rows].numpy() for name in INPUT_NAMES}
        got = session.run([output_name], feeds)[0]
        with torch.inference_mode():
            expected = graph(*(probe[name][rows] for name in INPUT_NAMES)).float().numpy()
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def _sidecar(meta: dict[str, Any], tokenizer: Any, opset: int, exporter: str, tok_dir: str) -> dict:
    task = meta["task"]
    adjust, isotonic = meta.get("logit_adjust"), meta.get("isotonic")
    z = "(logits - logit_adjust.tau * logit_adjust.offsets)" if adjust else "logits"
    probabilities = (
        f"sigmoid({z} / temperature) per label"
        if task == "multilabel"
        else f"softmax({z} / temperature)"
    )
    if isotonic:  # the maps are plain breakpoints: numpy.interp, no longtail needed
        if task == "binary":
            step = "P[:, 1] = interp(P[:, 1], isotonic.x[0], isotonic.y[0]), P[:, 0] = 1 - P[:, 1]"
        else:
            step = "P[:, j] = interp(P[:, j], isotonic.x[j], isotonic.y[j]) for every j"
        if task == "multiclass":
            step += ", then each row divided by its sum (a row summing to 0 keeps its P)"
        probabilities += f", then {step}"
    decision = {
        "binary": "positive (labels.names[1]) when P[:, 1] >= thresholds[0]",
        "multiclass": "argmax(P * thresholds)",
        "multilabel": "every label j with P[:, j] >= thresholds[j]",
    }.get(task, "see longtail.decision.apply_thresholds")
    return {
        "format": "longtail-onnx",
        "format_version": 1,
        "task": task,
        "labels": meta["labels"],
        "thresholds": meta["thresholds"],
        "temperature": float(meta.get("temperature", 1.0)),
        "calibration": meta.get("calibration") or "temperature",
        "isotonic": isotonic,
        "logit_adjust": adjust,
        "max_length": int(meta["max_length"]),
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "input_dtype": "int64",
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "tokenizer": tok_dir,
        "probabilities": probabilities,
        "decision": decision,
        "opset": opset,
        "exporter": exporter,
        "base_model": meta.get("base_model"),
        "text_column": meta.get("text_column"),
    }


def _write_tokenizer(tokenizer: Any, target: Path) -> None:
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tokenizer.save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_writable(output: Path) -> None:
    """Refuse an ``output`` whose folder cannot be created or written, before the slow export."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output.parent):
            pass
    except OSError as exc:
        blocking = next((p for p in output.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocking} is a file" if blocking else exc.strerror or type(exc).__name__
        raise LongtailError(
            f"--output {output}: cannot write in {output.parent} ({reason}); choose another place"
        ) from None


def export_onnx(
    model_dir: str | Path,
    output: str | Path,
    *,
    opset: int = MIN_OPSET,
    quantize: str | None = None,
) -> Path:
    """Export ``model_dir`` to ``output`` (``.onnx``) plus its JSON and tokenizer sidecars.

    Args:
        model_dir: a directory written by ``longtail train``.
        output: the ``.onnx`` file; written atomically (temporary file, parity check, rename).
        quantize: ``"int8"``: the checked fp32 graph quantised (:func:`quantize_int8`); its
            probabilities on the probe batch must stay within :data:`INT8_MAX_PROB_CHANGE` of
            fp32's. Faster on CPUs, and the numbers move (docs/benchmarks.md).
        opset: ONNX opset, at least 17.

    Returns:
        The path of the ``.onnx`` file.
    """
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise LongtailError(f"--output {output}: use a file name ending in .onnx")
    if opset < MIN_OPSET:
        raise LongtailError(f"--opset {opset}: use {MIN_OPSET} or higher")
    if quantize not in (None, "int8"):
        raise LongtailError(f"--quantize {quantize}: the only quantisation is int8")
    check_writable(output)
    require_onnx()
    model, tokenizer, meta = load_model_dir(model_dir)
    if meta["architecture"].get("kind", "text") != "text":
        raise LongtailError(
            f"{model_dir} is a long-document (hierarchical) model; ONNX export covers short-text "
            "models for now: serve it with `longtail predict` or longtail.Classifier"
        )
    if fused_weight(meta):
        raise LongtailError(
            f"{model_dir} fuses a TF-IDF branch (lexical) that an ONNX graph of token ids cannot "
            "carry; serve it with `longtail predict --runtime onnx`, or retrain with lexical=off"
        )
    graph = _LogitsGraph(model.float().eval()).eval()
    probe = _probe_batch(tokenizer, int(meta["max_length"]))
    output.parent.mkdir(parents=True, exist_ok=True)
    # A plain name, not mkstemp: the exporter creates the file with the usual permissions.
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    int8 = output.with_name(f".{output.name}.int8-{os.getpid()}")
    json_path, tok_path = sidecar_paths(output)
    try:
        exporter = _export(graph, probe, tmp, opset)
        import onnx

        onnx.checker.check_model(str(tmp))
        error = check_parity(tmp, graph, probe)
        if not error <= PARITY_ATOL:
            raise LongtailError(
                f"the exported graph differs from the PyTorch model by {error:.2e} "
                f"(> {PARITY_ATOL}); please report this with the model's base_model"
            )
        sidecar = _sidecar(meta, tokenizer, opset, exporter, tok_path.name)
        if quantize == "int8":
            quantize_int8(tmp, int8)
            change = _probability_change(int8, graph, probe)
            if not change <= INT8_MAX_PROB_CHANGE:
                raise LongtailError(
                    f"int8 quantisation moves this model's probabilities by {change:.3f} (> "
                    f"{INT8_MAX_PROB_CHANGE}) on a probe batch; export it without --quantize"
                )
            sidecar["quantization"] = "int8 dynamic: MatMul weights per output channel"
            os.replace(int8, tmp)
        _write_tokenizer(tokenizer, tok_path)
        atomic_write_json(json_path, sidecar)
        os.replace(tmp, output)  # last: a finished .onnx always comes with its sidecars
    finally:
        tmp.unlink(missing_ok=True)
        int8.unlink(missing_ok=True)
    return output


#: The most an int8 export may move a probe row's softmax probabilities.
INT8_MAX_PROB_CHANGE = 0.1


def _probability_change(path: Path, graph: nn.Module, probe: dict[str, torch.Tensor]) -> float:
    """Max |softmax(int8 logits) - softmax(fp32 logits)| on the probe batch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {n: probe[n].numpy() for n in INPUT_NAMES})[0]
    with torch.inference_mode():
        expected = graph(*(probe[name] for name in INPUT_NAMES)).float().numpy()
    return float(np.abs(_softmax(got) - _softmax(expected)).max())


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
