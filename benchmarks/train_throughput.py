"""Training throughput: longtail's loop vs a plain Hugging Face ``Trainer``, measured in one run.

longtail's side is ``train_model``, the loop ``longtail train`` runs once the data are tokenised.
Same encoder, same head (mean pooling + linear), same initial weights, same loss (cross-entropy
with effective-number class weights), same data (real SMS Spam messages), batch size, max length,
optimiser (AdamW) and schedule. The Trainer uses its standard dynamic padding
(``DataCollatorWithPadding``). longtail batches rows of similar length, so the like-for-like
Trainer is the one with ``train_sampling_strategy="group_by_length"`` (transformers 5's name for
``group_by_length=True``): the headline ratio. The Trainer with its default random sampler is run
too, as a reference for what length grouping buys.

Each contender runs ``--repeats`` times (default 3), interleaved: repeat 1 runs all three, then
repeat 2, and so on. A ratio is taken within each repeat; the script prints the median ratio and
its min-max over the repeats.

``--compile`` measures ``train.compile`` instead: longtail with and without ``torch.compile``, two
epochs each, side by side. The first epoch carries the compilation; the second is the steady
state. Both are printed, and the ratio of each.

    python benchmarks/train_throughput.py                  # offline MiniLM, 1024 rows
    python benchmarks/train_throughput.py --rows 512 --layers 2 --repeats 1   # quick look
    python benchmarks/train_throughput.py --compile        # train.compile: on vs off
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from longtail.config import TrainConfig
from longtail.data import LabelSpace
from longtail.data.tokenized import TokenizedSplit
from longtail.datasets import load_sms_spam
from longtail.losses import build_loss
from longtail.models import TextClassifier, load_encoder, load_tokenizer, resolve_model_name
from longtail.text.batching import tokenize
from longtail.training.loop import train_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ratio_line  # noqa: E402


class _TrainerModel(nn.Module):
    """The same classifier, speaking the Trainer's ``forward(**batch) -> {"loss", "logits"}``."""

    def __init__(self, classifier: TextClassifier, loss_fn: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier
        self.loss_fn = loss_fn

    def forward(self, input_ids, attention_mask, labels=None, **_unused):
        logits = self.classifier(input_ids, attention_mask)
        loss = self.loss_fn(logits.float(), labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def run_longtail(
    model, loss_fn, ids, y, args, pad_id, *, epochs=1, compile=False, mixed_precision="no"
) -> list[float]:
    """Examples/s of each epoch (the clock includes the loop's tiny validation pass).

    ``mixed_precision`` is ``train.mixed_precision`` ("no" here; ``gpu_throughput.py``: "bf16").
    """
    config = TrainConfig(
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.lr,
        patience=None,
        mixed_precision=mixed_precision,
        compile=compile,
    )
    val = TokenizedSplit(ids[:8], y[:8])  # the loop validates once per epoch; keep it negligible
    marks = [time.perf_counter()]
    train_model(
        model,
        loss_fn,
        TokenizedSplit(ids, y),
        val,
        config,
        pad_id=pad_id,
        score=lambda _l: 0.0,
        log=lambda _m: None,
        on_epoch=lambda _entry: marks.append(time.perf_counter()),
    )
    return [len(ids) / (end - start) for start, end in zip(marks, marks[1:], strict=False)]


def compare_compile(base, loss_fn, ids, y, args, pad_id) -> None:
    """train.compile on vs off: first epoch (with the compilation) and second (steady state)."""
    results: dict[str, list[list[float]]] = {"longtail": [], "longtail_compile": []}
    for repeat in range(args.repeats):
        for label in results:
            torch._dynamo.reset()  # each compiled run pays its own compilation
            speeds = run_longtail(
                copy.deepcopy(base), copy.deepcopy(loss_fn), ids, y, args, pad_id, epochs=2,
                compile=label.endswith("compile"),
            )  # fmt: skip
            results[label].append(speeds)
            shown = ", ".join(f"{speed:.1f}" for speed in speeds)
            print(f"  repeat {repeat + 1}: {label:<18} epochs 1, 2: {shown} examples/s")
    for epoch, what in ((0, "epoch 1 (compiles)"), (1, "epoch 2 (steady)")):
        print(
            ratio_line(
                f"compiled / eager, {what}",
                [speeds[epoch] for speeds in results["longtail_compile"]],
                [speeds[epoch] for speeds in results["longtail"]],
            )
        )


def trainer_dataset(ids, y):
    """The Trainer's rows: a ``datasets.Dataset``, as a Trainer user builds one; where ``datasets``
    is not installed (the GPU machine's python3), the same rows as a list of dicts, which the
    Trainer and its ``LengthGroupedSampler`` read alike (``len(row["input_ids"])``)."""
    rows = {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids], "labels": y.tolist()}
    try:
        from datasets import Dataset
    except ImportError:
        return [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]
    return Dataset.from_dict(rows)


def run_trainer(
    model, loss_fn, ids, y, args, tokenizer, group_by_length: bool, *, bf16: bool = False
) -> float:
    """Examples/s of one epoch of the Trainer (``bf16``: its bf16 autocast, for a GPU)."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

    dataset = trainer_dataset(ids, y)
    if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
        order = {"train_sampling_strategy": "group_by_length" if group_by_length else "random"}
    else:  # older transformers 5 releases name it group_by_length
        order = {"group_by_length": group_by_length}
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=1,
            learning_rate=args.lr,
            weight_decay=0.01,
            warmup_steps=0.06,  # transformers 5: a float below 1 is a ratio of the total steps
            max_grad_norm=1.0,
            **order,
            bf16=bf16,
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=not torch.cuda.is_available(),
            seed=0,
        )
        trainer = Trainer(
            model=_TrainerModel(model, loss_fn),
            args=training_args,
            train_dataset=dataset,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        trainer.remove_callback(PrinterCallback)  # not its closing metrics dict on stdout
        started = time.perf_counter()
        trainer.train()
        return len(ids) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--layers", type=int, default=None, help="truncate the encoder to N layers")
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each contender, interleaved"
    )
    parser.add_argument(
        "--compile", action="store_true", help="measure train.compile (on vs off) instead"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    table = load_sms_spam()
    space = LabelSpace.fit(table.labels)
    rows = np.random.default_rng(0).permutation(len(table.texts))[: args.rows]
    texts = [table.texts[i] for i in rows]
    y = space.encode([table.labels[i] for i in rows])
    name = resolve_model_name(args.model)
    tokenizer = load_tokenizer(name)
    ids = tokenize(tokenizer, texts, args.max_length)
    encoder_kwargs = {}
    if args.layers:
        from transformers import AutoConfig

        encoder_kwargs["config"] = AutoConfig.from_pretrained(name, num_hidden_layers=args.layers)
    torch.manual_seed(0)
    base = TextClassifier(load_encoder(name, **encoder_kwargs), 2)
    loss_fn = build_loss(
        {"name": "ce", "weights": "effective_number"},
        task="binary",
        class_counts=space.counts(y),
        num_docs=len(y),
    )
    pad_id = tokenizer.pad_token_id or 0

    lengths = np.array([len(r) for r in ids])
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, cuda={torch.cuda.is_available()}")  # fmt: skip
    print(f"model: {name} ({base.encoder.config.num_hidden_layers} layers); rows {len(ids)}, batch {args.batch_size}, "
          f"max_length {args.max_length}; tokens per row: mean {lengths.mean():.1f}, max {lengths.max()}")  # fmt: skip

    if args.compile:
        compare_compile(base, loss_fn, ids, y, args, pad_id)
        return 0
    results: dict[str, list[float]] = {"longtail": [], "trainer_group_by_length": [], "trainer": []}
    for repeat in range(args.repeats):
        for label in results:
            model = copy.deepcopy(base)
            if label == "longtail":
                (speed,) = run_longtail(model, copy.deepcopy(loss_fn), ids, y, args, pad_id)
            else:
                speed = run_trainer(
                    model, copy.deepcopy(loss_fn), ids, y, args, tokenizer, label.endswith("length")
                )
            results[label].append(speed)
            print(f"  repeat {repeat + 1}: {label:<24} {speed:8.1f} examples/s")

    print("\nmedian examples/s (min-max)")
    for label, values in results.items():
        print(
            f"  {label:<24} {statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"
        )
    print()
    print(ratio_line("longtail / Trainer (group_by_length=True)", results["longtail"], results["trainer_group_by_length"]))  # fmt: skip
    print(ratio_line("longtail / Trainer (default random order, reference)", results["longtail"], results["trainer"]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
