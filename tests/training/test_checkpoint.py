import json

import pytest
import torch

from longtail.errors import LongtailError
from longtail.training.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from longtail.training.optim import linear_schedule


def _setup():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = linear_schedule(opt, 10, 0.1)
    return model, opt, sched


def test_round_trip_restores_model_optimizer_and_scheduler(tmp_path):
    model, opt, sched = _setup()
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    best = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint(
        tmp_path / "ckpt",
        model=model,
        optimizer=opt,
        scheduler=sched,
        state={"epoch": 2},
        best_weights=best,
    )
    assert has_checkpoint(tmp_path / "ckpt")
    assert not list(tmp_path.glob(".ckpt.*")), "staging directories must be cleaned up"
    assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "ckpt").iterdir())

    model2, opt2, sched2 = _setup()
    state, best2 = load_checkpoint(
        tmp_path / "ckpt", model=model2, optimizer=opt2, scheduler=sched2
    )
    assert state == {"epoch": 2}
    assert torch.equal(model2.weight, model.weight) and torch.equal(best2["bias"], best["bias"])
    assert sched2.last_epoch == sched.last_epoch
    # the next step must be identical, which needs AdamW's moments and step count restored
    x = torch.randn(2, 4)
    for m, o in ((model, opt), (model2, opt2)):
        m(x).sum().backward()
        o.step()
    assert torch.allclose(model.weight, model2.weight)


def test_corrupted_checkpoint_is_a_clear_error(tmp_path):
    model, opt, sched = _setup()
    save_checkpoint(
        tmp_path / "ckpt",
        model=model,
        optimizer=opt,
        scheduler=sched,
        state={"epoch": 1},
        best_weights=None,
    )
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(LongtailError, match="cannot be resumed"):
        load_checkpoint(tmp_path / "ckpt", model=model, optimizer=opt, scheduler=sched)
    assert json.loads((tmp_path / "ckpt" / "state.json").read_text())["epoch"] == 1
