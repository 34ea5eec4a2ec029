import json

from cli_helpers import make_rows, write_csv

from longtail.cli import main
from longtail.data import read_table


def test_make_imbalanced_writes_file_and_manifest(tmp_path, capsys):
    rows = [(t, lab) for t, lab in make_rows(200, 0.5, 1)]
    data = write_csv(tmp_path / "balanced.csv", rows)
    out = tmp_path / "imb.csv"
    assert main(["make-imbalanced", "--data", str(data), "--kind", "remove", "--ratio", "0.1",
                 "--minority-label", "spam", "--output", str(out)]) == 0  # fmt: skip
    table = read_table(out)
    assert table.labels.count("spam") == 10 and table.labels.count("ham") == 100
    manifest = json.loads((tmp_path / "imb.csv.manifest.json").read_text())
    assert (
        manifest["class_counts_after"] == {"ham": 100, "spam": 10}
        and manifest["rows_before"] == 200
    )
    assert "wrote 110 of 200 rows" in capsys.readouterr().out
    assert (
        main(
            [
                "make-imbalanced",
                "--data",
                str(data),
                "--kind",
                "step",
                "--ratio",
                "2",
                "--output",
                str(out),
            ]
        )
        == 2
    )
