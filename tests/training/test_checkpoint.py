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


def _saved(tmp_path, state=None):
    model, opt, sched = _setup()
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    sched.step()
    state = state or {"epoch": 1, "step": 1, "best_score": float("-inf"), "best_epoch": 0,
                      "bad_epochs": 1, "stopped_early": False, "fingerprint": "abc",
                      "history": [{"epoch": 1, "step": 1, "train_loss": 0.5, "val_score": 0.1}]}  # fmt: skip
    save_checkpoint(tmp_path / "ckpt", model=model, optimizer=opt, scheduler=sched, state=state,
                    best_weights=None)  # fmt: skip
    return tmp_path / "ckpt"


def test_loop_state_round_trips_minus_infinity_and_extra_keys(tmp_path):
    from longtail.training.checkpoint import read_loop_state

    ckpt = _saved(tmp_path)
    state = json.loads((ckpt / "state.json").read_text())
    (ckpt / "state.json").write_text(json.dumps(state | {"from_a_newer_release": 1}))
    loaded = read_loop_state(ckpt)
    assert loaded.best_score == float("-inf") and loaded.history[0].val_score == 0.1
    assert loaded.train_config is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"epoch": "1"}, "field 'epoch'"),
        ({"epoch": None}, "field 'epoch'"),
        ({"fingerprint": 5}, "field 'fingerprint'"),
        ({"history": [{"epoch": 1}]}, "field 'history.0.step'"),
        ({"history": {}}, "field 'history'"),
        ({"step": -1}, "field 'step'"),
    ],
)
def test_bad_state_json_names_the_file_and_field(tmp_path, change, expected):
    from longtail.training.checkpoint import read_loop_state

    ckpt = _saved(tmp_path)
    state = json.loads((ckpt / "state.json").read_text())
    (ckpt / "state.json").write_text(json.dumps(state | change))
    with pytest.raises(LongtailError) as info:
        read_loop_state(ckpt)
    message = str(info.value)
    assert "state.json" in message and expected in message and f"delete {ckpt}" in message


@pytest.mark.parametrize("content", ["[]", "null", "{", '{"epoch": 1}'])
def test_state_json_not_an_object_or_missing_fields(tmp_path, content):
    from longtail.training.checkpoint import read_loop_state

    ckpt = _saved(tmp_path)
    (ckpt / "state.json").write_text(content)
    with pytest.raises(LongtailError, match=r"state.json is damaged .* delete"):
        read_loop_state(ckpt)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("optimizer.json", "[]", "optimizer.json is damaged (expected a JSON object"),
        ("optimizer.json", '{"param_groups": [{"lr": "x", "params": [0, 1]}], "scalars": {}}',
         "optimizer.json is damaged (field 'param_groups.0.lr'"),
        ("optimizer.json", '{"param_groups": [], "scalars": {}}',
         "optimizer.safetensors is damaged"),
        ("scheduler.json", '{"base_lrs": [0.1], "last_epoch": "one"}',
         "scheduler.json is damaged (field 'last_epoch'"),
        ("scheduler.json", '{"base_lrs": [0.1, 0.2], "last_epoch": 1}',
         "2 learning rates for 1 parameter groups"),
        ("optimizer.safetensors", "garbage", "optimizer.safetensors is damaged"),
        ("scheduler.json", None, "scheduler.json is damaged (the file is missing)"),
    ],
)  # fmt: skip
def test_damaged_optimizer_and_scheduler_files_are_named(tmp_path, name, content, expected):
    ckpt = _saved(tmp_path)
    if content is None:
        (ckpt / name).unlink()
    else:
        (ckpt / name).write_text(content)
    model, opt, sched = _setup()
    with pytest.raises(LongtailError) as info:
        load_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched)
    assert expected in str(info.value) and "delete" in str(info.value)
