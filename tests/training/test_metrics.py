"""axonal.training.metrics against scikit-learn on random data (ties, odd sizes, edge cases)."""

import warnings

import numpy as np
import pytest

import axonal
from axonal.training import metrics as M

skm = pytest.importorskip("sklearn.metrics")


def _binary(rng, n, p=0.4):
    y = (rng.random(n) < p).astype(np.int64)
    y[0], y[-1] = 0, 1  # both classes present
    return y


@pytest.mark.parametrize("n", [2, 7, 64, 333])
def test_roc_auc_binary_matches_sklearn_with_ties(rng, n):
    y = _binary(rng, n)
    continuous = rng.standard_normal(n) + y
    tied = np.round(continuous * 2) / 2  # many tied scores
    coarse = rng.integers(0, 3, n).astype(np.float64)  # heavy ties
    for score in (continuous, tied, coarse):
        assert M.roc_auc_score(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_roc_auc_accepts_tensors_columns_and_label_values(rng):
    y = _binary(rng, 50)
    s = rng.standard_normal(50).astype(np.float32)
    ref = skm.roc_auc_score(y, s)
    assert M.roc_auc_score(axonal.tensor(y), axonal.tensor(s)) == pytest.approx(ref)
    assert M.roc_auc_score(y.reshape(-1, 1), s.reshape(-1, 1)) == pytest.approx(ref)
    two_col = np.stack([-s, s], axis=1)
    assert M.roc_auc_score(y, two_col) == pytest.approx(ref)
    # labels {2, 5}: the larger one is positive, like scikit-learn
    y25 = np.where(y == 1, 5, 2)
    assert M.roc_auc_score(y25, s) == pytest.approx(skm.roc_auc_score(y25, s))
    # explicit pos_label flips the curve
    assert M.roc_auc_score(y, s, pos_label=0) == pytest.approx(1 - ref)


def test_roc_auc_perfect_constant_and_single_class(rng):
    y = np.array([0, 0, 1, 1])
    assert M.roc_auc_score(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert M.roc_auc_score(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert M.roc_auc_score(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    with pytest.warns(RuntimeWarning, match="only one class"):
        assert np.isnan(M.roc_auc_score([1, 1, 1], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="3 labels but y_score has 2"):
        M.roc_auc_score([0, 1, 1], [0.1, 0.2])


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_roc_auc_multiclass_ovr_matches_sklearn(rng, average):
    n, c = 120, 4
    y = np.arange(n) % c
    rng.shuffle(y)
    logits = rng.standard_normal((n, c)) + np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ref = skm.roc_auc_score(y, p, multi_class="ovr", average=average)
    assert M.roc_auc_score(y, p, average=average) == pytest.approx(ref, abs=1e-12)


def test_roc_curve_points_give_the_same_area(rng):
    y = _binary(rng, 80)
    s = np.round(rng.standard_normal(80) + y, 1)
    fpr, tpr, thr = M.roc_curve(y, s)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(thr) < 0)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2 renamed trapz
    assert trapezoid(tpr, fpr) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("n", [1, 5, 101])
def test_accuracy_and_confusion_matrix(rng, n):
    y = rng.integers(0, 4, n)
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
    assert M.accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about a single label (n=1)
        ref = skm.confusion_matrix(y, p)
    np.testing.assert_array_equal(M.confusion_matrix(y, p), ref)
    labels = [3, 0, 1, 2, 7]
    np.testing.assert_array_equal(
        M.confusion_matrix(y, p, labels=labels), skm.confusion_matrix(y, p, labels=labels)
    )
    for norm in ("true", "pred", "all"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = skm.confusion_matrix(y, p, labels=labels, normalize=norm)
        np.testing.assert_allclose(M.confusion_matrix(y, p, labels=labels, normalize=norm), ref)
    cm = M.confusion_matrix(y, p, num_classes=6)
    assert cm.shape == (6, 6) and cm.sum() == n and cm.dtype == np.int64


def test_accuracy_from_scores_and_tensors(rng):
    scores = rng.standard_normal((30, 5)).astype(np.float32)
    y = rng.integers(0, 5, 30)
    ref = skm.accuracy_score(y, scores.argmax(1))
    assert M.accuracy(axonal.tensor(y), axonal.tensor(scores)) == pytest.approx(ref)
    with pytest.raises(ValueError, match="30 labels but y_pred has 29"):
        M.accuracy(y, y[:29])
    with pytest.raises(ValueError, match="empty"):
        M.accuracy([], [])


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_multiclass(rng, average):
    y = rng.integers(0, 5, 97)
    p = np.where(rng.random(97) < 0.5, y, rng.integers(0, 5, 97))
    p[p == 4] = 3  # class 4 never predicted: zero_division path
    for ours, ref in (
        (M.precision_score, skm.precision_score),
        (M.recall_score, skm.recall_score),
        (M.f1_score, skm.f1_score),
    ):
        got = ours(y, p, average=average)
        want = ref(y, p, average=average, zero_division=0.0)
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_binary_precision_recall_f1_sensitivity_specificity(rng):
    y = _binary(rng, 63)
    p = np.where(rng.random(63) < 0.7, y, 1 - y)
    assert M.precision_score(y, p) == pytest.approx(skm.precision_score(y, p))
    assert M.recall_score(y, p) == pytest.approx(skm.recall_score(y, p))
    assert M.f1_score(y, p) == pytest.approx(skm.f1_score(y, p))
    assert M.f1_score(y, p, pos_label=0) == pytest.approx(skm.f1_score(y, p, pos_label=0))
    assert M.sensitivity(y, p) == pytest.approx(skm.recall_score(y, p))
    assert M.specificity(y, p) == pytest.approx(skm.recall_score(y, p, pos_label=0))
    tn, fp, fn, tp = skm.confusion_matrix(y, p).ravel()
    assert M.specificity(y, p) == pytest.approx(tn / (tn + fp))
    assert M.balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))
    with pytest.raises(ValueError, match="average='binary'"):
        M.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="no positive"):
        M.sensitivity([0, 0], [0, 1])


@pytest.mark.parametrize("shape", [(1,), (17,), (40, 3)])
def test_regression_metrics(rng, shape):
    y = rng.standard_normal(shape)
    p = y + 0.3 * rng.standard_normal(shape)
    assert M.mean_squared_error(y, p) == pytest.approx(skm.mean_squared_error(y, p))
    assert M.mean_absolute_error(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    if shape[0] > 1:
        assert M.r2_score(y, p) == pytest.approx(skm.r2_score(y, p))
    t = axonal.tensor(y.astype(np.float32))
    assert M.mean_squared_error(t, p) == pytest.approx(
        skm.mean_squared_error(y.astype(np.float32), p), rel=1e-6
    )


def test_r2_constant_target_and_shape_errors():
    assert M.r2_score([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == skm.r2_score([2, 2, 2], [2, 2, 2])
    assert M.r2_score([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == skm.r2_score([2, 2, 2], [1, 2, 3])
    assert M.r2_score(np.ones((4, 1)), np.arange(4.0)) == pytest.approx(
        skm.r2_score(np.ones(4), np.arange(4.0))
    )
    with pytest.raises(ValueError, match=r"y_true shape \(3,\) != y_pred shape \(4,\)"):
        M.mean_squared_error([1, 2, 3], [1, 2, 3, 4])
