import pytest

from longtail.config import FROZEN_TRAIN_DEFAULTS, apply_overrides, build_config, load_config
from longtail.errors import LongtailError


def test_defaults_validate():
    config = build_config({})
    assert config.train.epochs is None and config.data.text_column == "text"


def test_training_trains_to_convergence_unless_epochs_are_given():
    train = build_config({}).train
    assert train.to_convergence and (train.min_steps, train.max_epochs, train.patience) == (
        500, 100, 3,
    )  # fmt: skip
    fixed = build_config(apply_overrides({}, ["train.epochs=3"])).train
    assert not fixed.to_convergence and fixed.patience == 2  # the former default's patience
    assert build_config({"train": {"patience": 1}}).train.patience == 1  # given: kept
    assert build_config({"train": {"patience": None}}).train.patience is None
    back = build_config(apply_overrides({"train": {"epochs": 3}}, ["train.epochs=null"])).train
    assert back.epochs is None and back.patience == 3


def test_dotted_overrides_parse_values_and_replace_loss_name():
    data = apply_overrides(
        {"loss": "focal"}, ["train.epochs=2", "train.lr=3e-5", "loss.gamma=1.5", "data.strict=true"]
    )
    config = build_config(data)
    assert config.train.epochs == 2 and config.train.lr == pytest.approx(3e-5)
    assert config.loss == {"name": "focal", "gamma": 1.5}
    assert config.data.strict is True


def test_unknown_key_lists_valid_keys():
    with pytest.raises(LongtailError, match=r"unknown key 'train.lrr'; valid keys: .*train\.lr"):
        build_config(apply_overrides({}, ["train.lrr=1"]))


def test_bad_value_names_key_and_value():
    with pytest.raises(LongtailError, match=r"exp.yaml: train.epochs: .*got 0"):
        build_config({"train": {"epochs": 0}}, source="exp.yaml")


def test_bad_choice_names_key():
    with pytest.raises(LongtailError, match=r"data.task"):
        build_config({"data": {"task": "regression"}})


def test_malformed_override():
    with pytest.raises(LongtailError, match="section.key=value"):
        apply_overrides({}, ["epochs"])


def test_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed", encoding="utf-8")
    with pytest.raises(LongtailError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(LongtailError, match="mapping"):
        load_config(listy)
    with pytest.raises(LongtailError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("data", "override", "expected"),
    [
        ({"loss": "focal"}, "loss.gamma=1", {"loss": {"name": "focal", "gamma": 1}}),
        (
            {"augment": {"method": "back_translation"}},
            "augment.method.forward_model=/m",
            {"augment": {"method": {"name": "back_translation", "forward_model": "/m"}}},
        ),
        (
            {"long_documents": {"aggregator": "attention"}},
            "long_documents.aggregator.heads=4",
            {"long_documents": {"aggregator": {"name": "attention", "heads": 4}}},
        ),
    ],
)
def test_a_parameter_override_turns_a_component_name_into_a_spec(data, override, expected):
    """Every ``str | dict`` component key, nested ones included, takes ``key.param=value``."""
    assert apply_overrides(data, [override]) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["loss.pos_weight=sqrt_ratio"],
            "loss sets loss.pos_weight but no loss.name; .*loss.name=bce",
        ),
        (["sampler.num_samples=10"], "sampler sets sampler.num_samples but no sampler.name"),
        (
            ["long_documents.aggregator.heads=4"],
            "long_documents.aggregator sets long_documents.aggregator.heads but no "
            "long_documents.aggregator.name; name the aggregator, e.g. .*=attention",
        ),
    ],
)
def test_a_component_with_parameters_but_no_name_is_refused(overrides, message):
    """On an unset component, ``key.param=value`` cannot mean "the default with this change"
    (the loss default depends on the task): a one-line error before any data is read."""
    with pytest.raises(LongtailError, match=message):
        build_config(apply_overrides({}, overrides), source="command line")
    key = overrides[0].rsplit(".", 1)[0]
    name = {"loss": "bce", "sampler": "oversample"}.get(key, "attention")
    named = build_config(apply_overrides({}, [f"{key}.name={name}", *overrides]))
    assert named.model_dump()["loss"] in (None, {"name": "bce", "pos_weight": "sqrt_ratio"})


def test_fbr_defaults_to_scutfbr_for_multilabel_and_multiclass_and_can_be_set():
    from longtail.config import DecisionConfig
    from longtail.defaults import MULTICLASS_FBR, MULTILABEL_FBR

    default = DecisionConfig()
    assert default.resolved_fbr("multilabel") == MULTILABEL_FBR == 0.3
    assert default.resolved_fbr("multiclass") == MULTICLASS_FBR == 0.2
    assert default.resolved_fbr("binary") == 0.0
    assert DecisionConfig(fbr=0.1).resolved_fbr("binary") == 0.1
    assert DecisionConfig(fbr=0.0).resolved_fbr("multilabel") == 0.0


def test_the_report_states_what_the_thresholds_were_tuned_for():
    from longtail.config import DecisionConfig

    assert DecisionConfig().tuned_for() == "f1"
    assert DecisionConfig(objective="mcc").tuned_for() == "mcc"
    assert DecisionConfig(objective="fbeta", beta=2.0).tuned_for() == "fbeta (beta 2)"
    floor = DecisionConfig(objective="recall_floor", floor=0.9)
    assert floor.tuned_for() == "recall_floor (floor 0.9)"
    assert DecisionConfig(objective="mcc", tune_thresholds=False).tuned_for() is None


def test_every_unknown_key_is_named_in_one_line():
    with pytest.raises(LongtailError) as info:
        build_config(apply_overrides({}, ["train.lrr=1", "train.epochz=2"]), source="cli")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "cli: 2 unknown keys: 'train.lrr' (did you mean 'train.lr'?), "
        "'train.epochz' (did you mean 'train.epochs'?); valid keys: train.epochs"
    )
    assert "data.train" not in message  # only the sections the keys are in


def test_unknown_keys_in_two_sections_of_a_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("data:\n  txt_column: body\ntrain:\n  lrr: 1\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(LongtailError, match=r"3 unknown keys: 'data\.txt_column' .*'train\.lrr' "
                       r".*'bogus'; valid keys: data\.train.*decision"):  # fmt: skip
        build_config(load_config(path), source=str(path))


def test_empty_label_delimiter_and_text_column_as_label_column_are_refused():
    with pytest.raises(LongtailError, match=r"data\.label_delimiter: the label delimiter is empty"):
        build_config({"data": {"label_delimiter": ""}})
    with pytest.raises(LongtailError, match=r"^cli: data: text_column and label_column are both "):
        build_config({"data": {"text_column": "label"}}, source="cli")
    assert build_config({"data": {"label_delimiter": " "}}).data.label_delimiter == " "


def test_seed_outside_numpys_range_is_refused():
    from longtail.config import build_config
    from longtail.errors import LongtailError

    for bad in (-1, 2**32):
        with pytest.raises(LongtailError, match="train.seed"):
            build_config({"data": {"train": "t.csv"}, "train": {"seed": bad}})
    assert build_config({"data": {"train": "t.csv"}, "train": {"seed": 2**32 - 1}}).train.seed


def test_frozen_long_documents_train_to_convergence_like_a_frozen_encoder():
    frozen = build_config({"long_documents": {"mode": "frozen"}})
    assert {k: getattr(frozen.train, k) for k in FROZEN_TRAIN_DEFAULTS} == FROZEN_TRAIN_DEFAULTS
    assert frozen.strategy == "vanilla"  # the aggregator is no linear head: nothing to solve
    given = build_config(
        {"long_documents": {"mode": "frozen"}, "train": {"epochs": 4, "warmup_ratio": 0.1}}
    )
    assert (given.train.epochs, given.train.warmup_ratio) == (4, 0.1)  # what the user set stays
    assert (given.train.max_epochs, given.train.patience, given.train.min_steps) == (200, 10, 0)
    plain = build_config({})
    switched_off = build_config({"long_documents": {"mode": "frozen", "enabled": False}})
    end_to_end = build_config({"long_documents": {"mode": "end_to_end", "enabled": True}})
    for config in (plain, switched_off, end_to_end):
        assert (config.train.max_epochs, config.train.min_steps, config.train.patience) == (
            100, 500, 3,
        )  # fmt: skip


@pytest.mark.parametrize("off", [None, "none", {"name": "none"}])
def test_every_spelling_of_off_is_stored_as_one(off):
    from longtail.config import OFF, is_off

    config = build_config({"sampler": off, "sam": off, "aux_loss": off, "augment": {"method": off}})
    assert config.sampler == config.sam == config.aux_loss == OFF
    assert config.augment.method is None  # augmentation's default, kept for earlier fingerprints
    assert is_off(off) and all(is_off(v) for v in (config.sampler, config.augment.method))
    assert not is_off("sqrt") and not is_off({"name": "sam", "rho": 0.05})
