"""Reliability cases: bad input that used to be accepted silently: labels, columns, delimiters, regression targets, CSV quoting, config keys."""

from __future__ import annotations

import json
from pathlib import Path

from cases import Case, Env, _config, _evaluate


def _with_label(env: Env, name: str, label: str) -> Path:
    """The good training rows plus one row (row 42) whose label cell is ``label``."""
    return env.csv(name, [*env.rows(), ("free cash", label)])


def _tsv(env: Env, name: str, rows: list[tuple[str, str]], header: str = "text\tlabel") -> Path:
    return env.write(name, header + "\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows))


def _records(env: Env, label=lambda lab: lab) -> list[dict[str, object]]:
    return [{"text": text, "label": label(lab)} for text, lab in env.rows()]


def _parquet_string_nan(env: Env) -> Path:
    """A label column turned to strings (``df.astype(str)``): a missing label reads ``"nan"``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = env.rows()
    labels = [lab for _, lab in rows]
    labels[4] = "nan"
    path = env.path("strings.parquet")
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": labels}), path)
    return path


def _hf_dataset(env: Env, labels: list[object], class_label: bool) -> Path:
    import datasets

    rows = env.rows()
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["ham", "spam"])
            if class_label
            else datasets.Value("string"),
        }
    )
    data = datasets.Dataset.from_dict(
        {"text": [t for t, _ in rows], "label": labels}, features=features
    )
    path = env.path("hf")
    data.save_to_disk(str(path))
    return path


def _hf_none_label(env: Env) -> Path:
    labels: list[object] = [lab for _, lab in env.rows()]
    labels[6] = None
    return _hf_dataset(env, labels, class_label=False)


def _hf_minus_one(env: Env) -> Path:
    labels: list[object] = [1 if lab == "spam" else 0 for _, lab in env.rows()]
    labels[3] = -1
    return _hf_dataset(env, labels, class_label=True)


def _three_with_none(env: Env) -> Path:
    """ham, spam and a real class called ``none`` (lower case, so not a missing value)."""
    words = ["hi ok see you later", "thanks good night", "lunch tomorrow meeting", "sorry home"]
    extra = [(f"{words[i % 4]} the a", "none") for i in range(12)]
    return env.csv("none.csv", [*env.rows(), *extra])


def _multilabel(env: Env, name: str, label) -> Path:
    return env.jsonl(name, [{"text": t, "label": label(i, lab)} for i, (t, lab) in enumerate(env.rows())])  # fmt: skip


def _regression(env: Env) -> Path:
    """A score per row: 0.137, 2.5, ... (40 rows, 40 different numbers)."""
    return env.csv("scores.csv", [(t, f"{(i * 0.1373) % 5:.3f}") for i, (t, _) in enumerate(env.rows())])  # fmt: skip


def _ids(env: Env) -> Path:
    return env.csv("ids.csv", [(t, str(1000 + i)) for i, (t, _) in enumerate(env.rows())])


def _number_formats(env: Env) -> Path:
    """Spam written as 1 and as 1.0 (an Excel export): two classes unless they are made one."""
    rows = [(t, ("1" if i % 2 else "1.0") if lab == "spam" else "0") for i, (t, lab) in enumerate(env.rows())]  # fmt: skip
    return env.csv("numbers.csv", rows)


def _case_variants(env: Env) -> Path:
    rows = [(t, ("Spam" if i % 2 else "spam") if lab == "spam" else "ham") for i, (t, lab) in enumerate(env.rows())]  # fmt: skip
    return env.csv("case.csv", rows)


_TWO_UNKNOWN_YAML = "data:\n  train: {train}\n  txt_column: body\ntrain:\n  epochz: 2\n"

CASES: list[Case] = [
    # --- missing labels spelled as words, in every format ---
    Case("train-label-nan-string", "a CSV label cell 'NaN' (pandas' to_csv of a missing label)",
         lambda e: e.train(_with_label(e, "nan.csv", "NaN")),
         "have no value in label column 'label' (rows 42); 'NaN' is read as missing"),
    Case("train-label-na-words-tsv", "TSV label cells 'N/A', 'null' and 'None'",
         lambda e: e.train(_tsv(e, "na.tsv", [*e.rows(), ("a", "N/A"), ("b", "null"), ("c", "None")])),
         "3 row(s) have no value in label column 'label' (rows 42, 43, 44); 'N/A', 'None', 'null' are read as missing"),
    Case("train-label-json-null", "a JSON Lines label null",
         lambda e: e.train(e.jsonl("null.jsonl", [*_records(e), {"text": "free cash", "label": None}])),
         "null.jsonl: 1 row(s) have no value in label column 'label' (rows 41)"),
    Case("train-label-json-array-nan-string", "a JSON array file with the label \"nan\"",
         lambda e: e.train(e.write("arr.json", json.dumps([*_records(e), {"text": "x", "label": "nan"}]))),
         "(rows 41); 'nan' is read as missing"),
    Case("train-label-parquet-string-nan", "a Parquet string label 'nan' (a column made str by astype)",
         lambda e: e.train(_parquet_string_nan(e)), "(rows 5); 'nan' is read as missing"),
    Case("train-label-hf-none", "a saved Hugging Face dataset with a None label",
         lambda e: e.train(_hf_none_label(e)), "hf: 1 row(s) have no value in label column 'label' (rows 7)"),
    Case("train-label-hf-classlabel-minus-one", "a ClassLabel -1 ('no label' in datasets) read as missing, not a crash",
         lambda e: e.train(_hf_minus_one(e)), "have no value in label column 'label' (rows 4)"),
    Case("train-label-lowercase-none-is-a-class", "a class named 'none' (lower case) is kept (success)",
         lambda e: e.train(_three_with_none(e)), "task: multiclass (3 classes)", code=0),
    Case("train-label-whitespace-only", "a label cell of spaces",
         lambda e: e.train(_with_label(e, "blank.csv", "   ")), "(rows 42); fill in the labels"),
    Case("train-validation-label-nan-string", "--validation-data with a label 'NaN'",
         lambda e: e.train(e.good_csv(), "--validation-data", str(_with_label(e, "val.csv", "NaN"))),
         "val.csv: 1 row(s) have no value in label column 'label' (rows 42)"),
    Case("evaluate-label-nan-string", "evaluate reads 'NaN' labels as missing too",
         lambda e: _evaluate(e, _with_label(e, "new.csv", "NaN")),
         "new.csv: 1 row(s) have no value in label column 'label' (rows 42); 'NaN' is read as missing"),
    # --- multilabel ---
    Case("train-multilabel-null-in-list", "a null inside a JSON list label",
         lambda e: e.train(_multilabel(e, "nl.jsonl", lambda i, lab: [lab, "money"] if i % 3 else [lab, None])),
         "have a missing value (null) among their labels (rows 1, 4, 7"),
    Case("train-multilabel-empty-string-in-list", "an empty string inside a JSON list label",
         lambda e: e.train(_multilabel(e, "es.jsonl", lambda i, lab: [lab, ""] if i == 5 else [lab, "money"] if i % 3 else [lab])),
         "have a missing value ('') among their labels (rows 6)"),
    Case("train-multilabel-nan-in-delimited", "'spam|NaN' with --label-delimiter '|'",
         lambda e: e.train(e.csv("nd.csv", [*[(t, f"{lab}|x" if i % 3 else lab) for i, (t, lab) in enumerate(e.rows())], ("a", "spam|NaN")]),
                           "--label-delimiter", "|"),
         "have a missing value ('NaN') among their labels (rows 42)"),
    Case("train-multilabel-empty-list-row", "a multilabel row with [] (no labels) is kept (success)",
         lambda e: e.train(_multilabel(e, "el.jsonl", lambda i, lab: [] if i == 0 else [lab, "money"] if i % 3 else [lab])),
         "task: multilabel", code=0),
    Case("train-multilabel-label-in-every-row", "a multilabel label present in every row",
         lambda e: e.train(_multilabel(e, "all.jsonl", lambda i, lab: [lab, "all"])),
         "label 'all' is on in every one of the 40 rows, so there is no negative example"),
    Case("train-multilabel-identical-label-sets", "every row has the same label set",
         lambda e: e.train(_multilabel(e, "same.jsonl", lambda i, lab: ["a", "b"])),
         "every row has the same labels ('a', 'b'), so nothing can be learned"),
    # --- delimiters and columns ---
    Case("train-empty-label-delimiter", "--label-delimiter '' (would turn binary into multilabel)",
         lambda e: e.train(e.good_csv(), "--label-delimiter", ""),
         "data.label_delimiter: the label delimiter is empty"),
    Case("train-label-delimiter-in-no-label", "--label-delimiter '|' on single labels",
         lambda e: e.train(e.good_csv(), "--label-delimiter", "|"),
         "the label delimiter '|' occurs in no label"),
    Case("train-text-column-is-label-column", "--text-column label (trains on the label itself)",
         lambda e: e.train(e.good_csv(), "--text-column", "label"),
         "text_column and label_column are both 'label'"),
    Case("evaluate-text-column-is-label-column", "evaluate --text-column label",
         lambda e: _evaluate(e, e.good_csv("new.csv"), "--text-column", "label"),
         "new.csv: the text column and the label column are both 'label'"),
    Case("train-tsv-duplicate-header", "a TSV header naming label twice",
         lambda e: e.train(_tsv(e, "dup.tsv", [("a\tb", "ham")], header="text\tlabel\tlabel")),
         "dup.tsv line 1: duplicate column name(s) 'label'"),
    # --- label values that are not classes ---
    Case("train-regression-target", "continuous float labels (0.137, 2.5, ...)",
         lambda e: e.train(_regression(e)), "it looks like a regression target"),
    Case("train-label-column-of-ids", "a label column with a different id in every row",
         lambda e: e.train(_ids(e)), "every row has a different label (40 classes in 40 rows"),
    Case("train-label-mostly-unique", "near-unique labels (36 of 40 rows a class of their own): no negative row counts",
         lambda e: e.train(e.csv("near.csv", [(t, f"c{min(i, 36 + (i - 36) // 2)}") for i, (t, _) in enumerate(e.rows())])),
         "takes 4 validation rows from the 4 rows of the 2 class(es) with two or more examples, leaving 0",
         warnings=True),
    Case("train-label-number-formats", "labels 1 and 1.0 are trained apart, with a warning (success)",
         lambda e: e.train(_number_formats(e)), "labels '1' and '1.0' look like one class", code=0, warnings=True),
    Case("train-label-case-variants", "labels Spam and spam are trained apart, with a warning (success)",
         lambda e: e.train(_case_variants(e)), "labels 'Spam' and 'spam' look like one class", code=0, warnings=True),
    Case("train-label-trailing-space", "'spam ' and 'spam' are one class: labels are stripped (success)",
         lambda e: e.train(e.csv("sp.csv", [(t, lab + " " * (i % 2)) for i, (t, lab) in enumerate(e.rows())])),
         "[ham 27, spam 9]", code=0),
    Case("train-jsonl-boolean-labels", "JSON true/false labels are the classes 'true'/'false' (success)",
         lambda e: e.train(e.jsonl("bool.jsonl", _records(e, lambda lab: lab == "spam"))),
         "positive class 'true'", code=0),
    Case("train-jsonl-bom", "JSON Lines with a UTF-8 byte-order mark is accepted (success)",
         lambda e: e.train(e.write("bom.jsonl", "\ufeff" + "".join(json.dumps(r) + "\n" for r in _records(e)))),
         "task: binary", code=0),
    # --- CSV quoting ---
    Case("train-unterminated-quote-in-label", "an open quote in the label field swallows the file",
         lambda e: e.train(e.write("q.csv", 'text,label\nhi,"ham\nfree cash,spam\nok,ham\n')),
         "q.csv line 2: unterminated quote"),
    # --- config ---
    Case("config-two-unknown-keys", "two misspelt overrides are both named",
         lambda e: e.train(e.good_csv(), "train.lrr=1e-3", "train.epochz=2"),
         "2 unknown keys: 'train.lrr' (did you mean 'train.lr'?), 'train.epochz' (did you mean 'train.epochs'?)"),
    Case("config-two-unknown-keys-in-file", "two unknown keys in the YAML file are both named",
         lambda e: _config(e, _TWO_UNKNOWN_YAML.format(train=e.good_csv())),
         "2 unknown keys: 'data.txt_column'"),
    Case("config-negative-seed", "--seed -1 (numpy seeds are 0 to 2**32 - 1)",
         lambda e: e.train(e.good_csv(), "--seed", "-1"), "train.seed: Input should be greater than or equal to 0"),
]  # fmt: skip
