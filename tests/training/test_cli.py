"""``axonal train``: the recipes run end to end from the command line (1 epoch here)."""

import json
import os
import subprocess
import sys

import pytest

import axonal
from axonal.cli import main

pytest.importorskip("sklearn")

MNIST_DIR = os.environ.get("AXONAL_MNIST_DIR", "/work/shared/data/mnist")


def test_train_breast_cancer_one_epoch(tmp_path, capsys):
    out_json = tmp_path / "res.json"
    ckpt = tmp_path / "best.safetensors"
    rc = main(
        [
            "train",
            "mlp-breast-cancer",
            "--epochs",
            "1",
            "--json",
            str(out_json),
            "--checkpoint",
            str(ckpt),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "train 386  val 69  test 114" in text
    assert "epoch 1  loss" in text and "val_auroc" in text and "lr 1.00e-03" in text
    assert "test (114 samples): accuracy" in text
    res = json.loads(out_json.read_text())
    assert res["recipe"] == "mlp-breast-cancer" and res["epochs_run"] == 1
    for k in ("test_accuracy", "test_auroc", "test_sensitivity", "test_specificity"):
        assert 0.0 <= res[k] <= 1.0
    assert res["test_auroc"] > 0.8  # even one epoch of training separates the classes
    sd = axonal.load(ckpt)
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert sd["0.weight"].shape == (64, 30)


def test_train_is_the_default_and_repeatable(capsys):
    # the default recipe evaluates 10 train/test splits (repeated hold-out) ...
    assert main(["train", "--epochs", "2", "--quiet", "--seed", "5"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert a["recipe"] == "mlp-breast-cancer" and a["repeats"] == 10
    assert [r["split_seed"] for r in a["runs"]] == list(range(10))
    for k in ("test_accuracy", "test_auroc", "test_sensitivity", "test_specificity"):
        vals = [r[k] for r in a["runs"]]
        assert a[k]["mean"] == pytest.approx(sum(vals) / 10) and a[k]["min"] == min(vals)
    # ... and --split-seed alone asks for that one split, the same as split 0 of the repeats
    assert main(["train", "mlp-breast-cancer", "--epochs", "2", "--quiet", "--seed", "5",
                 "--split-seed", "0"]) == 0  # fmt: skip
    b = json.loads(capsys.readouterr().out)
    assert b["seed"] == 5 and b["split_seed"] == 0
    for k in ("test_accuracy", "test_auroc", "test_sensitivity", "test_specificity"):
        assert a["runs"][0][k] == b[k]


def test_train_default_prints_epochs_of_first_split_then_summary(capsys):
    assert main(["train", "--epochs", "1", "--repeats", "3"]) == 0
    text = capsys.readouterr().out
    assert text.count("epoch 1  loss") == 1  # per-epoch lines for the first split only
    assert "split 0: accuracy" in text and "split 2: accuracy" in text
    assert "auroc        mean" in text and "over 3 splits" in text


def test_train_repeats_and_errors(capsys):
    assert main(["train", "mlp-digits", "--epochs", "1", "--repeats", "2", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["repeats"] == 2 and [r["split_seed"] for r in res["runs"]] == [0, 1]
    acc = res["test_accuracy"]
    assert acc["min"] <= acc["mean"] <= acc["max"]
    with pytest.raises(SystemExit):
        main(["train", "no-such-recipe"])
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "0"])
    assert main(["train", "mlp-mnist", "--epochs", "1"]) == 2  # no --data-dir
    assert "--data-dir DIR is required" in capsys.readouterr().err


@pytest.mark.skipif(
    not os.path.isdir(MNIST_DIR), reason=f"MNIST IDX files not found in {MNIST_DIR}"
)
def test_train_mnist_one_epoch(capsys):
    assert main(["train", "mlp-mnist", "--data-dir", MNIST_DIR, "--epochs", "1", "--quiet"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["test_accuracy"] > 0.8


def test_python_dash_m_axonal_train(tmp_path):
    env = dict(os.environ)
    pkg = os.path.dirname(os.path.dirname(axonal.__file__))
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "axonal", "train", "--epochs", "1", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["repeats"] == 10 and all(r["epochs_run"] == 1 for r in res["runs"])
    info = subprocess.run(
        [sys.executable, "-m", "axonal", "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert info.returncode == 0 and info.stdout.strip()


def test_thread_count_is_restored_and_does_not_change_results(capsys):
    before = axonal.get_num_threads()
    results = []
    for threads in ("1", "2"):
        assert main(["train", "mlp-digits", "--epochs", "1", "--quiet", "--threads", threads]) == 0
        results.append(json.loads(capsys.readouterr().out)["test_accuracy"])
        assert axonal.get_num_threads() == before
    assert results[0] == results[1]
