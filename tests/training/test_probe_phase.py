"""The probe phase: what it refuses before any encoder pass, and its restore on resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.training.frozen import FeatureBatcher
from longtail.training.phase import Phase
from longtail.training.probe_phase import check_probe, solve_probe_phase

PHASE = Phase("linear_probe", trainable="classifier", solver="lbfgs")


class Head(nn.Module):
    def __init__(self, hidden: bool = False):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(4, 4), nn.ReLU()) if hidden else None
        self.head = nn.Linear(4, 2)


@pytest.mark.parametrize(
    ("model", "minibatch_remedies", "sampler", "message"),
    [
        (Head(hidden=True), False, "none", "an MLP head is not one linear layer"),
        (Head(), False, {"name": "sqrt"}, "sampler sqrt has nothing to draw"),
        (Head(), True, "none", "SAM and auxiliary losses act on minibatches"),
    ],
)
def test_what_the_probe_refuses(model, minibatch_remedies, sampler, message):
    with pytest.raises(LongtailError, match=message):
        check_probe(PHASE, model, sampler, minibatch_remedies=minibatch_remedies)
    check_probe(PHASE, Head(), {"name": "none"}, minibatch_remedies=False)  # a linear head passes


def test_a_solved_probe_is_saved_and_restored_without_embedding(tmp_path):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(60, 4)), dtype=torch.float32)
    y = (x[:, 0] > 0).long().numpy()
    split = TokenizedSplit(x, y)
    model = Head()
    calls = []

    def embed():
        calls.append(1)
        return model, FeatureBatcher(), split, split, 0.5

    def score(logits):
        return float((logits.argmax(1) == y).mean())

    args = (PHASE, nn.CrossEntropyLoss(), score, tmp_path, "fp-1")
    first, seconds = solve_probe_phase(model, *args, resume=False, log=lambda line: None,
                                       embed=embed)  # fmt: skip
    assert calls == [1] and seconds == 0.5 and first.stop == "solved"
    assert [h["epoch"] for h in first.history] == list(range(1, len(first.history) + 1))
    solved = {k: v.clone() for k, v in model.head.state_dict().items()}
    again = Head()
    restored, seconds = solve_probe_phase(again, *args, resume=True, log=lambda line: None,
                                          embed=embed)  # fmt: skip
    assert calls == [1] and seconds == 0.0  # no encoder pass on resume
    assert restored.best_score == first.best_score and restored.history == first.history
    for key, value in again.head.state_dict().items():
        assert torch.equal(value, solved[key])
    with pytest.raises(LongtailError, match="solved for other data or settings"):
        solve_probe_phase(Head(), PHASE, nn.CrossEntropyLoss(), score, tmp_path, "fp-2",
                          resume=True, log=lambda line: None, embed=embed)  # fmt: skip
