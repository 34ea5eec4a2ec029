import pytest
import torch
from transformers import AutoModel

from longtail.models import TextClassifier
from longtail.training.optim import linear_schedule, parameter_groups


def test_layer_wise_decay_and_head_lr(tiny_model_dir):
    model = TextClassifier(AutoModel.from_pretrained(tiny_model_dir), 3)
    groups = parameter_groups(model, lr=1e-4, head_lr=1e-2, layer_decay=0.5, weight_decay=0.01)
    lr_of = {}
    for group in groups:
        for p in group["params"]:
            lr_of[id(p)] = (group["lr"], group["weight_decay"])
    named = dict(model.named_parameters())
    assert lr_of[id(named["head.weight"])] == (1e-2, 0.01)
    assert lr_of[id(named["head.bias"])][1] == 0.0
    top = lr_of[id(named["encoder.encoder.layer.1.attention.self.query.weight"])][0]
    low = lr_of[id(named["encoder.encoder.layer.0.attention.self.query.weight"])][0]
    emb = lr_of[id(named["encoder.embeddings.word_embeddings.weight"])][0]
    assert (
        top == pytest.approx(1e-4 * 0.5)
        and low == pytest.approx(1e-4 * 0.25)
        and emb == pytest.approx(1e-4 * 0.125)
    )
    trainable = [p for p in named.values() if p.requires_grad]
    assert sum(len(g["params"]) for g in groups) == len(trainable)
    assert len(trainable) < len(named), "the unused BERT pooler is frozen and gets no group"


def test_linear_schedule_warms_up_then_decays():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_schedule(opt, total_steps=10, warmup_ratio=0.2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[2] > lrs[5] > lrs[9] >= 0
