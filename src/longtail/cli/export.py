"""``longtail export``: write a model directory as ONNX (logits graph + JSON and tokenizer sidecars)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from longtail.cli.args import whole_number
from longtail.errors import LongtailError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained model (encoder + pooling + head) to ONNX"
    )
    p.add_argument("--model", required=True, help="model directory written by `longtail train`")
    p.add_argument("--onnx", action="store_true", help="export to ONNX (the only format so far)")
    p.add_argument("--output", required=True, help="the .onnx file to write")
    p.add_argument(
        "--opset", type=whole_number(17), default=17, help="ONNX opset (>= 17; default 17)"
    )
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="int8 dynamic quantisation (faster on CPUs; probabilities move: docs/benchmarks.md)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.models.onnx_export import export_onnx, sidecar_paths

    if not args.onnx:
        raise LongtailError("choose an export format: --onnx (the only one so far)")
    output = export_onnx(args.model, Path(args.output), opset=args.opset, quantize=args.quantize)
    json_path, tok_path = sidecar_paths(output)
    print(f"wrote {output} (input_ids, attention_mask -> logits), {json_path} and {tok_path}/")
    return 0
