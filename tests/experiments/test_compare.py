"""``longtail compare``: the experiment file, the folds, the grid, resume and the summary."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import longtail.fingerprint as fingerprint
from longtail.cli import main
from longtail.errors import LongtailError
from longtail.evaluation.convergence import still_improving
from longtail.experiments import load_experiment, runner

SPAM = "free win prize cash call now claim text reply urgent award won offer mobile money".split()
HAM = "hi ok see you later home love lunch tomorrow meeting sorry thanks good night".split()


def _data(path: Path, n: int = 120, rate: float = 0.2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(n):
            spam = i < n * rate
            words = list(rng.choice(SPAM if spam else HAM, size=6)) + ["the", "and"]
            writer.writerow([" ".join(words), "spam" if spam else "ham"])
    return path


def _experiment(tmp_path: Path, tiny_model_dir: Path, **changes) -> Path:
    spec = {
        "base": {
            "data": {"train": str(_data(tmp_path / "train.csv"))},
            "model": {"name": str(tiny_model_dir), "max_length": 24},
            "train": {"epochs": 1, "batch_size": 16, "lr": 1e-3, "head_lr": 1e-2},
        },
        "variants": {"vanilla": {}, "focal": {"loss": {"name": "focal", "gamma": 2.0}}},
        "seeds": [0],
        "folds": 2,
        "output": str(tmp_path / "grid"),
    } | changes
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_cells_are_seed_major_and_keys_pair_across_variants(tmp_path, tiny_model_dir):
    spec = load_experiment(_experiment(tmp_path, tiny_model_dir, seeds=[0, 1]))
    cells = spec.cells()
    assert len(cells) == 2 * 2 * 2
    assert [c.name for c in cells[:4]] == [
        "vanilla/fold0-seed0", "focal/fold0-seed0", "vanilla/fold1-seed0", "focal/fold1-seed0"
    ]  # fmt: skip
    config = spec.variant_config("focal", **{"train.seed": 3})
    assert config.loss == {"name": "focal", "gamma": 2.0} and config.train.seed == 3
    assert config.train.lr == 1e-3  # base kept where the variant is silent


def test_cells_share_one_augment_cache_unless_a_variant_names_its_own(tmp_path, tiny_model_dir):
    variants = {"vanilla": {}, "own": {"augment": {"cache_dir": str(tmp_path / "mine")}}}
    spec = load_experiment(_experiment(tmp_path, tiny_model_dir, variants=variants))
    shared, own = (
        runner._cell_config(spec, cell, None, tmp_path / "run") for cell in spec.cells()[:2]
    )
    assert shared.augment.cache_dir == str(spec.output / "augment-cache")
    assert own.augment.cache_dir == str(tmp_path / "mine")
    assert shared.train.seed == 0 and shared.output == str(tmp_path / "run")


def test_default_test_is_corrected_for_folds_and_plain_on_a_fixed_split(tmp_path, tiny_model_dir):
    assert load_experiment(_experiment(tmp_path, tiny_model_dir)).test == "corrected_t"
    test_file = str(_data(tmp_path / "test.csv", n=40, seed=1))
    base = yaml.safe_load((tmp_path / "experiment.yaml").read_text(encoding="utf-8"))["base"]
    base["data"]["test"] = test_file
    fixed = _experiment(tmp_path, tiny_model_dir, base=base, folds=None)
    assert load_experiment(fixed).test == "t"
    chosen = _experiment(tmp_path, tiny_model_dir, test="bootstrap")
    assert load_experiment(chosen).test == "bootstrap"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": {}}, "variants must be a mapping"),
        ({"baseline": "nope"}, "baseline 'nope' is not a variant"),
        ({"folds": 1}, "folds must be an integer >= 2"),
        ({"test": "wilcoxon"}, "is not one of auto, corrected_t, t, bootstrap, permutation"),
        ({"test": "corrected_t", "folds": None}, "the fixed split has none"),
        ({"seeds": [0, 0]}, "seeds has duplicates"),
        ({"varients": {}}, "unknown key 'varients'"),
        ({"variants": {"bad": {"loss": {"name": "nope"}}}}, None),
        ({"variants": {"x": {"train.epochs": 0}}}, "train.epochs"),
        ({"folds": None}, "has no data.test; a fixed split needs a test file"),
    ],
)
def test_bad_experiment_files_are_one_line_errors(tmp_path, tiny_model_dir, changes, message):
    path = _experiment(tmp_path, tiny_model_dir, **changes)
    if message is None:  # a bad loss name is caught when its cell builds the loss, by name
        spec = load_experiment(path)
        assert "bad" in spec.variants
        return
    with pytest.raises(LongtailError, match=message):
        load_experiment(path)


def test_folds_are_stratified_written_once_and_guarded(tmp_path, tiny_model_dir):
    spec = load_experiment(_experiment(tmp_path, tiny_model_dir))
    labels, counts, folds = runner.prepare_folds(spec, log=lambda _m: None)
    assert counts == {"ham": 96, "spam": 24} and labels == ["ham", "spam"]
    seen = []
    for files in folds:
        test_rows = [json.loads(line) for line in Path(files["test"]).read_text().splitlines()]
        train_rows = [json.loads(line) for line in Path(files["train"]).read_text().splitlines()]
        assert len(test_rows) + len(train_rows) == 120
        assert sum(r["label"] == "spam" for r in test_rows) == 12  # stratified: 24 / 2 folds
        seen += [r["text"] for r in test_rows]
    assert len(seen) == 120
    _data(tmp_path / "train.csv", seed=5)  # the data changed under an existing grid
    with pytest.raises(LongtailError, match="folds cut from other data"):
        runner.prepare_folds(spec, log=print)


def test_compare_end_to_end_resumes_after_interruption(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    path = _experiment(tmp_path, tiny_model_dir)
    real = runner.run_cell
    calls = {"n": 0}

    def die_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_cell", die_on_third)
    assert main(["compare", str(path)]) == 130
    grid = tmp_path / "grid"
    assert len(list((grid / "cells").glob("*/*.json"))) == 2
    monkeypatch.setattr(runner, "run_cell", real)
    capsys.readouterr()

    assert main(["compare", str(path), "--dry-run"]) == 0
    assert "2 done" in capsys.readouterr().out
    assert main(["compare", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "2 done, 2 to run" in printed
    summary = json.loads((grid / "comparison.json").read_text())
    assert summary["cells"]["complete"] is True
    names = [v["name"] for v in summary["variants"]]
    assert names == ["vanilla", "focal"]
    focal = summary["variants"][1]
    assert focal["n"] == 2 and set(focal["per_class_f1"]) == {"ham", "spam"}
    assert focal["vs_baseline"]["f1_macro"]["n_pairs"] == 2
    assert summary["variants"][0]["metrics"]["f1_macro"]["n"] == 2
    markdown = (grid / "comparison.md").read_text()
    assert re.search(r"^\| focal +\| 2 \|", markdown, re.M) and "Per-class F1" in markdown
    html = (grid / "comparison.html").read_text()
    assert "<figure" in html and "focal" in html
    # the model directories are gone (keep_models: false), the cell reports stay
    cell_dir = grid / "cells" / "focal" / "fold0-seed0"
    assert (cell_dir / "report.json").is_file() and not (cell_dir / "encoder").exists()
    assert summary["test_support"] == {"ham": 48.0, "spam": 12.0}  # 96 and 24 over 2 folds
    # a cell saved before the support was recorded gets it from its report
    cell_json = grid / "cells" / "focal" / "fold0-seed0.json"
    record = json.loads(cell_json.read_text())
    cell_json.write_text(json.dumps({k: v for k, v in record.items() if k != "per_class_support"}))
    loaded = {c.name: r for c, r in runner.load_done(load_experiment(path)).items()}
    assert loaded["focal/fold0-seed0"]["per_class_support"] == record["per_class_support"]
    # ... and whether it was still learning from its history: the same answer as when it ran
    report = json.loads((cell_dir / "report.json").read_text())
    assert record["still_improving"] == still_improving(
        report["training"]["history"], report["training"]["early_stopping_metric"]
    )
    cell_json.write_text(json.dumps({k: v for k, v in record.items() if k != "still_improving"}))
    loaded = {c.name: r for c, r in runner.load_done(load_experiment(path)).items()}
    assert loaded["focal/fold0-seed0"]["still_improving"] == record["still_improving"]
    last = report["training"]["history"][-1]  # one epoch here; as if it had run two, rising:
    report["training"]["history"] = [last | {"epoch": 1, "val_score": 0.1}, last | {"epoch": 2, "val_score": 0.5}]  # fmt: skip
    (cell_dir / "report.json").write_text(json.dumps(report))
    loaded = {c.name: r for c, r in runner.load_done(load_experiment(path)).items()}
    assert loaded["focal/fold0-seed0"]["still_improving"]["last"] == 0.5

    # --baseline pairs against another variant: only the summary is rewritten, nothing retrains
    def no_training(*_args, **_kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(runner, "run_cell", no_training)
    assert main(["compare", str(path), "--baseline", "focal"]) == 0
    flipped = json.loads((grid / "comparison.json").read_text())
    assert flipped["baseline"] == "focal"
    by_name = {v["name"]: v for v in flipped["variants"]}
    assert "vs_baseline" not in by_name["focal"] and "per_class_f1_gain" not in by_name["focal"]
    before = focal["vs_baseline"]["f1_macro"]
    after = by_name["vanilla"]["vs_baseline"]["f1_macro"]
    assert after["n_pairs"] == 2 and after["mean_difference"] == pytest.approx(
        -before["mean_difference"]
    )
    assert "Against the baseline (focal)" in (grid / "comparison.md").read_text()


def test_per_class_gain_is_paired_by_cell(tmp_path, tiny_model_dir):
    from longtail.experiments.summary import render_comparison_markdown, summarize

    spec = load_experiment(_experiment(tmp_path, tiny_model_dir, seeds=[0, 1]))
    # Fold 1 is hard for both variants; focal gains 0.1 on "spam" in every cell. The paired gain
    # has no spread; the per-variant means carry the fold effect in their SEM.
    records = []
    for key, hard in [("fold0-seed0", 0), ("fold1-seed0", 0.4), ("fold0-seed1", 0), ("fold1-seed1", 0.4)]:  # fmt: skip
        for variant, gain in [("vanilla", 0.0), ("focal", 0.1)]:
            f1 = {"ham": 0.9, "spam": 0.8 - hard + gain}
            records.append({"variant": variant, "key": key, "metrics": {"f1_macro": f1["spam"]},
                            "per_class_f1": f1, "per_class_support": {"ham": 48, "spam": 3 + hard * 5},
                            "seconds": 1.0})  # fmt: skip
    summary = summarize(spec, records, ["ham", "spam"], {"ham": 96, "spam": 24})
    focal = next(v for v in summary["variants"] if v["name"] == "focal")
    assert focal["per_class_f1"]["spam"]["sem"] == pytest.approx((0.16 / 3) ** 0.5 / 2)
    gain = focal["per_class_f1_gain"]
    assert gain["spam"]["mean"] == pytest.approx(0.1) and gain["spam"]["sem"] == pytest.approx(0.0)
    assert gain["ham"]["mean"] == pytest.approx(0.0) and gain["spam"]["n"] == 4
    vanilla = next(v for v in summary["variants"] if v["name"] == "vanilla")
    assert "per_class_f1_gain" not in vanilla
    # spam has 3 test examples in two cells, 5 in the others: 4 on average, marked as noise
    assert summary["test_support"] == {"ham": 48.0, "spam": 4.0}
    table = render_comparison_markdown(summary).split("## Per-class F1")[1]
    # 2 folds: the count is the folded file's, each cell trains on about half of it
    assert re.search(r"^\| class +\| n, folded \| test n \|", table, re.M)
    assert "n, folded: the class's rows in the file split into 2 folds" in table
    assert re.search(r"^\| spam † +\| +24 \| +4 \|", table, re.M) and "ham †" not in table
    assert "† 1 class with fewer than 5 test examples per cell" in table
    summary["cells"]["folds"] = None  # a fixed split counts its training file
    fixed = render_comparison_markdown(summary).split("## Per-class F1")[1]
    assert re.search(r"^\| class +\| train n \| test n \|", fixed, re.M)
    assert "folded" not in fixed
    assert summary["warnings"] == [] and "WARNING" not in render_comparison_markdown(summary)


def test_variants_still_learning_when_training_stopped_are_named_in_the_summary(
    tmp_path, tiny_model_dir
):
    from longtail.evaluation.html_compare import render_comparison_html
    from longtail.experiments.summary import render_comparison_markdown, summarize

    spec = load_experiment(_experiment(tmp_path, tiny_model_dir, seeds=[0, 1]))
    rise = {"metric": "f1_macro", "phase": "finetune", "epochs": 2, "best_before": 0.2, "last": 0.4}
    records = [
        {"variant": variant, "key": f"fold{fold}-seed{seed}", "metrics": {"f1_macro": 0.5},
         "per_class_f1": {"ham": 0.9, "spam": 0.1}, "seconds": 1.0,
         "still_improving": rise if variant == "vanilla" or (fold, seed) == (1, 1) else None}
        for variant in ("vanilla", "focal") for fold in (0, 1) for seed in (0, 1)
    ]  # fmt: skip
    summary = summarize(spec, records, ["ham", "spam"], {"ham": 96, "spam": 24})
    assert [v["still_improving"] for v in summary["variants"]] == [4, 1]
    [warning] = summary["warnings"]
    assert warning.startswith(
        "still learning when training stopped: vanilla (4 of 4 cells), focal (1 of 4 cells);"
    )
    markdown = render_comparison_markdown(summary)
    assert markdown.index(f"> **WARNING: {warning}**") < markdown.index("| variant")
    html = render_comparison_html(summary)
    assert '<div class="warning" role="alert">WARNING: still learning when training' in html
    assert html.index('role="alert"') < html.index("<h2>Metrics")
    for record in records:
        record["still_improving"] = None
    assert summarize(spec, records, ["ham", "spam"], {"ham": 96, "spam": 24})["warnings"] == []


def test_shards_split_the_grid_and_the_last_one_writes_the_whole_comparison(
    tmp_path, tiny_model_dir, capsys
):
    path = _experiment(tmp_path, tiny_model_dir)  # 2 variants x 2 folds x 1 seed = 4 cells
    assert main(["compare", str(path), "--dry-run", "--shard", "1/2"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert (
        listed[:2] == ["focal/fold0-seed0", "focal/fold1-seed0"] and "2 cells, 0 done" in listed[2]
    )
    assert main(["compare", str(path), "--shard", "0/2"]) == 0
    first = json.loads((tmp_path / "grid" / "comparison.json").read_text())
    assert first["cells"]["complete"] is False and [v["n"] for v in first["variants"]] == [2, 0]
    # --summary-only: the comparison of what is on disk, the other shard's cells not trained
    (tmp_path / "grid" / "comparison.json").unlink()
    capsys.readouterr()
    assert main(["compare", str(path), "--summary-only"]) == 0
    out = capsys.readouterr().out
    assert "2 done, 2 not run (summary only)" in out and "not complete" in out
    summary = json.loads((tmp_path / "grid" / "comparison.json").read_text())
    assert [v["n"] for v in summary["variants"]] == [2, 0]
    assert not list((tmp_path / "grid" / "cells" / "focal").glob("*.json"))
    assert main(["compare", str(path), "--summary-only", "--shard", "1/2"]) == 2
    assert "takes no --shard" in capsys.readouterr().err
    assert main(["compare", str(path), "--shard", "1/2"]) == 0
    assert "(shard 1/2: 2 cells); 2 done, 2 to run" in capsys.readouterr().out
    last = json.loads((tmp_path / "grid" / "comparison.json").read_text())
    assert last["cells"]["complete"] is True and [v["n"] for v in last["variants"]] == [2, 2]


def test_unknown_baseline_flag_is_one_line(tmp_path, tiny_model_dir, capsys):
    path = _experiment(tmp_path, tiny_model_dir)
    assert main(["compare", str(path), "--baseline", "focl", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: --baseline 'focl' is not a variant of {path}; variants: vanilla, focal"
    ), err


@pytest.mark.parametrize("shard", ["2/2", "a/b", "1", "-1/3", "0/0"])
def test_bad_shard_is_one_line(tmp_path, tiny_model_dir, capsys, shard):
    path = _experiment(tmp_path, tiny_model_dir)
    assert main(["compare", str(path), f"--shard={shard}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --shard") and "\n" not in err, err


def test_cells_whose_settings_changed_are_retrained_and_named(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    base = yaml.safe_load(_experiment(tmp_path, tiny_model_dir).read_text(encoding="utf-8"))["base"]
    base["data"]["test"] = str(_data(tmp_path / "test.csv", n=40, seed=1))
    path = _experiment(tmp_path, tiny_model_dir, base=base, folds=None)  # 2 cells, fixed split
    assert main(["compare", str(path)]) == 0
    cells = tmp_path / "grid" / "cells"
    assert json.loads((cells / "focal" / "seed0.json").read_text())["settings"]["loss.gamma"] == 2.0
    real, trained = runner.run_cell, []

    def counting(spec, cell, *args, **kwargs):
        trained.append(cell.name)
        return real(spec, cell, *args, **kwargs)

    monkeypatch.setattr(runner, "run_cell", counting)
    variants = {"vanilla": {}, "focal": {"loss": {"name": "focal", "gamma": 1.0}}}
    path = _experiment(tmp_path, tiny_model_dir, base=base, folds=None, variants=variants)
    capsys.readouterr()
    assert main(["compare", str(path), "--dry-run"]) == 0
    assert "focal/seed0  (settings changed: loss.gamma; runs again)" in capsys.readouterr().out
    assert main(["compare", str(path)]) == 0
    printed = capsys.readouterr().out
    assert trained == ["focal/seed0"], trained
    assert "1 done, 1 to run" in printed
    assert (
        "1 finished cell(s) were trained with other settings and run again (changed: loss.gamma; first: focal/seed0)"
        in printed
    )
    assert json.loads((cells / "focal" / "seed0.json").read_text())["settings"]["loss.gamma"] == 1.0

    # the test file is rewritten with other rows: both cells are stale, by content
    _data(tmp_path / "test.csv", n=40, seed=2)
    stale = runner.scan_cells(load_experiment(path)).stale
    assert {cell.name: keys for cell, keys in stale.items()} == {
        "vanilla/seed0": ["data.test"], "focal/seed0": ["data.test"]
    }  # fmt: skip
    _data(tmp_path / "test.csv", n=40, seed=1)  # restored: nothing to run

    # data.task: auto records every task's default loss; a finished binary cell ignores the others
    assert json.loads((cells / "vanilla" / "seed0.json").read_text())["task"] == "binary"
    spec = load_experiment(path)
    vanilla = next(c for c in spec.cells() if c.variant == "vanilla")
    assert "loss@multilabel.name" in runner.cell_settings(spec, vanilla)
    binary_default = fingerprint.TASK_DEFAULTS["loss"]
    monkeypatch.setitem(
        fingerprint.TASK_DEFAULTS,
        "loss",
        lambda task: {"name": "asymmetric"} if task == "multilabel" else binary_default(task),
    )
    assert runner.scan_cells(load_experiment(path)).stale == {}
    monkeypatch.setitem(fingerprint.TASK_DEFAULTS, "loss", lambda task: {"name": "focal"})
    stale = runner.scan_cells(load_experiment(path)).stale
    assert list(stale) == [vanilla] and all("@binary" in k for k in stale[vanilla])
    monkeypatch.setitem(fingerprint.TASK_DEFAULTS, "loss", binary_default)

    # a cell saved before settings were recorded is reused, and the log says it is unchecked
    record_path = cells / "vanilla" / "seed0.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({k: v for k, v in record.items() if k != "settings"}))
    trained.clear()
    assert main(["compare", str(path)]) == 0
    printed = capsys.readouterr().out
    assert trained == [] and "2 done, 0 to run" in printed
    assert "1 finished cell(s) were saved without their settings" in printed
    assert f"delete {tmp_path / 'grid'}/cells/<variant>/ to retrain them" in printed


def test_an_interrupted_cell_with_other_settings_starts_over(tmp_path, tiny_model_dir, monkeypatch):
    from longtail.training import output as run_output
    from longtail.training import run as training_run

    spec = load_experiment(_experiment(tmp_path, tiny_model_dir))
    cell = spec.cells()[1]  # focal/fold0-seed0
    _, run_dir = runner._cell_paths(spec, cell)
    (run_output.partial_directory(run_dir) / run_output.CHECKPOINT_DIR).mkdir(parents=True)
    settings_path = runner.cell_settings_path(run_dir)
    seen = []

    def stop(config, *, resume, overwrite, log):
        seen.append(resume)
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run, "run_training", stop)
    folds = runner.prepare_folds(spec, log=lambda _m: None)[2]
    settings = runner.cell_settings(spec, cell)
    for saved in (settings, settings | {"loss.gamma": 5.0}):
        settings_path.write_text(json.dumps(saved))
        with pytest.raises(KeyboardInterrupt):
            runner.run_cell(spec, cell, folds, log=lambda _m: None)
    assert seen == [True, False]  # same settings resume; changed settings start over
    assert json.loads(settings_path.read_text()) == settings


def test_the_anchor_is_one_row_per_training_split_beside_the_variants(tmp_path, tiny_model_dir):
    from longtail.evaluation.html_compare import render_comparison_html
    from longtail.experiments.summary import render_comparison_markdown, summarize

    spec = load_experiment(_experiment(tmp_path, tiny_model_dir, seeds=[0, 1]))
    records = []
    for key, anchor_f1 in [("fold0-seed0", 0.9), ("fold1-seed0", 0.7), ("fold0-seed1", 0.8),
                           ("fold1-seed1", 0.6)]:  # fmt: skip
        for variant, f1 in [("vanilla", 0.5), ("focal", 0.6)]:
            anchor = {"metrics": {"f1_macro": anchor_f1}, "per_class_f1": {"spam": anchor_f1}}
            records.append({"variant": variant, "key": key, "metrics": {"f1_macro": f1},
                            "per_class_f1": {"spam": f1}, "seconds": 1.0,
                            # cells saved before the anchor existed carry none
                            "anchor": anchor if variant == "focal" or key != "fold0-seed0"
                            else None})  # fmt: skip
    summary = summarize(spec, records, ["spam"], {"spam": 24})
    anchor = summary["anchor"]
    assert anchor["n"] == 4  # one per (fold, seed), not one per cell
    assert anchor["metrics"]["f1_macro"]["mean"] == pytest.approx(0.75)
    assert anchor["per_class_f1"]["spam"]["mean"] == pytest.approx(0.75)
    assert summary["warnings"] == [
        "the anchor (TF-IDF + logistic regression (balanced), fitted on each cell's training "
        "rows) scores mean macro-F1 0.7500, above every variant (best: focal, 0.6000)"
    ]
    md = render_comparison_markdown(summary)
    assert re.search(
        r"^\| anchor: TF-IDF \+ logistic regression \(balanced\) \| 4 \| 0\.750", md, re.M
    )
    assert re.search(r"^\| class .*\| focal +\| anchor +\|", md, re.M)
    assert "anchor: TF-IDF + logistic regression (balanced)" in render_comparison_html(summary)
    for record in records:
        record["anchor"] = None
    assert summarize(spec, records, ["spam"], {"spam": 24})["anchor"] is None


def test_a_compare_cell_records_its_anchor(tmp_path, tiny_model_dir):
    base = yaml.safe_load(_experiment(tmp_path, tiny_model_dir).read_text())["base"]
    base["data"]["test"] = str(_data(tmp_path / "test.csv", n=40, seed=1))
    path = _experiment(tmp_path, tiny_model_dir, base=base, variants={"vanilla": {}}, folds=None)
    assert main(["compare", str(path)]) == 0
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "grid").rglob("seed0.json")]
    report = json.loads(next((tmp_path / "grid").rglob("report.json")).read_text())
    assert (
        record["anchor"]["metrics"]["f1_macro"] == (report["anchor"]["metrics"]["test"]["f1_macro"])
    )
    assert record["anchor"]["metrics"]["num_examples"] == 40
    summary = json.loads((tmp_path / "grid" / "comparison.json").read_text())
    assert summary["anchor"]["n"] == 1
