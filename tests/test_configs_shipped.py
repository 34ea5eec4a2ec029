"""Every YAML file in configs/ is a valid experiment whose loss and sampler build for its task."""

from pathlib import Path

import numpy as np
import pytest

from longtail.config import build_config, load_config
from longtail.losses import build_loss
from longtail.sampling import build_sampler

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_are_shipped_configs():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates_and_components_build(path):
    config = build_config(load_config(path), source=str(path))
    assert config.data.train and config.output
    task = config.data.task if config.data.task != "auto" else "binary"
    num_classes = 2 if task == "binary" else 5
    counts = np.array([500, 200, 50, 10, 2][:num_classes], dtype=float)
    if config.loss is not None:
        loss = build_loss(config.loss, task=task, class_counts=counts, num_docs=int(counts.sum()))
        logits = np.zeros((4, num_classes), dtype=np.float32)
        import torch

        targets = (
            torch.zeros((4, num_classes))
            if task == "multilabel"
            else torch.zeros(4, dtype=torch.long)
        )
        assert torch.isfinite(loss(torch.from_numpy(logits), targets))
    y = (
        np.zeros((20, num_classes), dtype=np.float32)
        if task == "multilabel"
        else np.arange(20) % num_classes
    )
    if task == "multilabel":
        y[np.arange(20), np.arange(20) % num_classes] = 1
    build_sampler(config.sampler, y=y, task=task, seed=0)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_remedies_build(path):
    """Strategy phases, the SAM wrapper, the auxiliary loss and the augmenters all build."""
    from longtail.augment import build_augmenter
    from longtail.losses import build_aux_loss
    from longtail.training.sam import build_sam
    from longtail.training.strategies import build_strategy

    config = build_config(load_config(path), source=str(path))
    task = config.data.task if config.data.task != "auto" else "binary"
    counts = np.array([500, 200, 50, 10, 2][: 2 if task == "binary" else 5], dtype=float)
    phases = build_strategy(config.strategy, epochs=config.train.epochs)
    for phase in phases:
        if phase.data == "balanced_augmented":
            build_augmenter(phase.data_params["augment"])
    build_sam(config.sam, class_counts=counts, task=task)
    if config.aux_loss != "none":
        assert build_aux_loss(config.aux_loss, task=task).weight >= 0
    if config.augment.method is not None:
        build_augmenter(config.augment.method)
