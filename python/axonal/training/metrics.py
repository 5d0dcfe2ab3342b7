"""Evaluation metrics (NumPy; inputs may be axonal Tensors, NumPy arrays or lists).

Names and conventions follow scikit-learn: ``metric(y_true, y_pred)``; confusion matrices have
true classes as rows and predicted classes as columns; ``average`` is ``'binary'`` (the class
``pos_label`` only), ``'macro'``, ``'micro'``, ``'weighted'`` or ``None`` (one value per class).

For medicine: ``sensitivity`` is the recall of the positive class (true-positive rate),
``specificity`` the recall of the negative class (true-negative rate). ``roc_auc_score`` is the
rank (Mann-Whitney) form of the area under the ROC curve, with tied scores counted as 1/2, which
equals scikit-learn's trapezoidal area.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np

__all__ = [
    "accuracy",
    "accuracy_score",
    "balanced_accuracy",
    "confusion_matrix",
    "precision_score",
    "recall_score",
    "f1_score",
    "sensitivity",
    "specificity",
    "roc_auc_score",
    "roc_curve",
    "mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "to_numpy",
]


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array from an axonal Tensor (host copy for CUDA), an array or a list."""
    arr = getattr(x, "_data", x)
    if hasattr(arr, "get") and not isinstance(arr, np.ndarray):  # CuPy
        arr = arr.get()
    return np.asarray(arr)


def _labels_1d(x: Any, name: str, op: str) -> np.ndarray:
    a = to_numpy(x)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{op}: {name} must be 1-D labels (N,) or (N, 1), got shape {a.shape}")
    return a


def _pair(y_true: Any, y_pred: Any, op: str) -> tuple:
    t = _labels_1d(y_true, "y_true", op)
    p = _labels_1d(y_pred, "y_pred", op)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{op}: y_true has {t.shape[0]} labels but y_pred has {p.shape[0]}")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of labels predicted exactly.

    ``y_pred`` may also be (N, C) class scores with C > 1 (the argmax is the prediction).
    """
    p = to_numpy(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        p = p.argmax(axis=1)
    t, p = _pair(y_true, p, "accuracy")
    if t.shape[0] == 0:
        raise ValueError("accuracy: no samples (y_true is empty)")
    return float(np.mean(t == p))


accuracy_score = accuracy


def _class_index(t: np.ndarray, p: np.ndarray, labels: Optional[Sequence[Any]]) -> tuple:
    """The classes and, for each true and predicted label, its class index (-1: not listed)."""
    if labels is None:
        classes = np.unique(np.concatenate([t, p]))
        return classes, np.searchsorted(classes, t), np.searchsorted(classes, p)
    classes = np.asarray(labels)
    if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
        raise ValueError(f"labels must be a 1-D list of distinct classes, got {labels!r}")
    order = np.argsort(classes, kind="stable")
    sorted_c = classes[order]

    def index(v: np.ndarray) -> np.ndarray:
        if len(sorted_c) == 0:
            return np.full(v.shape, -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_c, v), 0, len(sorted_c) - 1)
        return np.where(sorted_c[pos] == v, order[pos], -1)

    return classes, index(t), index(p)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    labels: Optional[Sequence[Any]] = None,
    num_classes: Optional[int] = None,
    normalize: Optional[str] = None,
) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as class j (int64).

    Classes are the sorted union of the labels seen, or ``labels`` (in that order; samples whose
    labels are not listed are ignored), or ``0 .. num_classes-1``. ``normalize`` ``'true'``
    (rows sum to 1), ``'pred'`` (columns) or ``'all'`` returns float64 fractions.
    """
    t, p = _pair(y_true, y_pred, "confusion_matrix")
    if labels is not None and num_classes is not None:
        raise ValueError("confusion_matrix: pass labels or num_classes, not both")
    if num_classes is not None:
        labels = list(range(int(num_classes)))
    classes, ti, pi = _class_index(t, p, labels)
    k = len(classes)
    keep = (ti >= 0) & (pi >= 0)
    cm = np.bincount(ti[keep] * k + pi[keep], minlength=k * k).reshape(k, k).astype(np.int64)
    if normalize is None:
        return cm
    if normalize not in ("true", "pred", "all"):
        raise ValueError(
            f"confusion_matrix: normalize must be 'true', 'pred', 'all' or None, got {normalize!r}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            out = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            out = cm / cm.sum(axis=0, keepdims=True)
        else:
            out = cm / cm.sum()
    return np.nan_to_num(out)


def _prf(
    y_true: Any,
    y_pred: Any,
    average: Optional[str],
    pos_label: Any,
    labels: Optional[Sequence[Any]],
    zero_division: float,
    op: str,
) -> tuple:
    """Per-class (or averaged) precision, recall, F1 computed from one confusion matrix."""
    t, p = _pair(y_true, y_pred, op)
    if average not in ("binary", "macro", "micro", "weighted", None):
        raise ValueError(
            f"{op}: average must be 'binary', 'macro', 'micro', 'weighted' or None, got {average!r}"
        )
    if average == "binary":
        present = np.unique(np.concatenate([t, p]))
        if len(present) > 2:
            raise ValueError(
                f"{op}: average='binary' but the labels hold {len(present)} classes "
                f"{present.tolist()}; choose average='macro', 'micro', 'weighted' or None"
            )
        if len(present) == 2 and pos_label not in present.tolist():
            raise ValueError(f"{op}: pos_label={pos_label!r} is not one of {present.tolist()}")
        labels = [pos_label]
    if labels is None:
        classes = np.unique(np.concatenate([t, p]))
    else:
        classes = np.asarray(labels)
    tp = np.array([np.sum((t == c) & (p == c)) for c in classes], dtype=np.float64)
    pred_n = np.array([np.sum(p == c) for c in classes], dtype=np.float64)
    true_n = np.array([np.sum(t == c) for c in classes], dtype=np.float64)
    if average == "micro":
        tp, pred_n, true_n = (
            tp.sum(keepdims=True),
            pred_n.sum(keepdims=True),
            true_n.sum(keepdims=True),
        )

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1), zero_division)

    precision = div(tp, pred_n)
    recall = div(tp, true_n)
    f1 = div(2 * tp, pred_n + true_n)
    if average in ("binary", "micro"):
        return float(precision[0]), float(recall[0]), float(f1[0])
    if average is None:
        return precision, recall, f1
    if average == "macro":
        return float(precision.mean()), float(recall.mean()), float(f1.mean())
    w = true_n / true_n.sum() if true_n.sum() > 0 else np.zeros_like(true_n)
    return float((precision * w).sum()), float((recall * w).sum()), float((f1 * w).sum())


def precision_score(
    y_true: Any,
    y_pred: Any,
    average: Optional[str] = "binary",
    pos_label: Any = 1,
    labels: Optional[Sequence[Any]] = None,
    zero_division: float = 0.0,
) -> Union[float, np.ndarray]:
    """TP / (TP + FP): of the samples predicted positive, the fraction that are."""
    return _prf(y_true, y_pred, average, pos_label, labels, zero_division, "precision_score")[0]


def recall_score(
    y_true: Any,
    y_pred: Any,
    average: Optional[str] = "binary",
    pos_label: Any = 1,
    labels: Optional[Sequence[Any]] = None,
    zero_division: float = 0.0,
) -> Union[float, np.ndarray]:
    """TP / (TP + FN): of the truly positive samples, the fraction found."""
    return _prf(y_true, y_pred, average, pos_label, labels, zero_division, "recall_score")[1]


def f1_score(
    y_true: Any,
    y_pred: Any,
    average: Optional[str] = "binary",
    pos_label: Any = 1,
    labels: Optional[Sequence[Any]] = None,
    zero_division: float = 0.0,
) -> Union[float, np.ndarray]:
    """Harmonic mean of precision and recall, 2 TP / (2 TP + FP + FN)."""
    return _prf(y_true, y_pred, average, pos_label, labels, zero_division, "f1_score")[2]


def sensitivity(y_true: Any, y_pred: Any, pos_label: Any = 1) -> float:
    """True-positive rate TP / (TP + FN) of binary labels (recall of ``pos_label``)."""
    t, p = _pair(y_true, y_pred, "sensitivity")
    pos = t == pos_label
    n = int(pos.sum())
    if n == 0:
        raise ValueError(f"sensitivity: y_true holds no positive sample (pos_label={pos_label!r})")
    return float(np.sum(pos & (p == pos_label)) / n)


def specificity(y_true: Any, y_pred: Any, pos_label: Any = 1) -> float:
    """True-negative rate TN / (TN + FP) of binary labels (recall of the class that is not
    ``pos_label``)."""
    t, p = _pair(y_true, y_pred, "specificity")
    neg = t != pos_label
    n = int(neg.sum())
    if n == 0:
        raise ValueError(f"specificity: y_true holds no negative sample (pos_label={pos_label!r})")
    return float(np.sum(neg & (p != pos_label)) / n)


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean of the per-class recalls (robust to class imbalance)."""
    t, _ = _pair(y_true, y_pred, "balanced_accuracy")
    classes = np.unique(t)
    rec = recall_score(y_true, y_pred, average=None, labels=classes)
    return float(np.mean(rec))


def _rankdata(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy's 'average' method)."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    n = len(a)
    # start of each run of equal values
    new = np.empty(n, dtype=bool)
    if n:
        new[0] = True
        new[1:] = s[1:] != s[:-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks_sorted = np.repeat(avg, ends - starts)
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = ranks_sorted
    return ranks


def _binary_auc(pos: np.ndarray, score: np.ndarray) -> float:
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        warnings.warn(
            "roc_auc_score: only one class is present in y_true; ROC AUC is not defined",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan")
    ranks = _rankdata(score.astype(np.float64))
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_auc_score(
    y_true: Any,
    y_score: Any,
    average: Optional[str] = "macro",
    multi_class: str = "ovr",
    pos_label: Any = None,
) -> Union[float, np.ndarray]:
    """Area under the ROC curve from labels and scores (any monotone score: logits or
    probabilities).

    Binary: ``y_score`` is (N,), (N, 1), or (N, 2) (column 1 scores the larger class); the
    positive class is ``pos_label`` (default: the larger of the two labels, e.g. 1). Computed as
    the probability that a random positive outscores a random negative, ties counting 1/2.
    Multi-class: ``y_score`` (N, C) scores for classes ``0 .. C-1`` (or the sorted labels),
    one-vs-rest AUCs averaged by ``average`` ('macro', 'weighted', or None for the array).
    With only one class in ``y_true`` the AUC is undefined: a warning, and NaN.
    """
    t = _labels_1d(y_true, "y_true", "roc_auc_score")
    s = to_numpy(y_score).astype(np.float64, copy=False)
    if s.shape[0] != t.shape[0]:
        raise ValueError(
            f"roc_auc_score: y_true has {t.shape[0]} labels but y_score has {s.shape[0]} rows"
        )
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    classes = np.unique(t)
    if s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 2 and len(classes) <= 2):
        if s.ndim == 2:
            s = s[:, 1]
        if len(classes) > 2:
            raise ValueError(
                f"roc_auc_score: y_true holds {len(classes)} classes but y_score is 1-D; pass "
                "(N, C) scores for a multi-class AUC"
            )
        if pos_label is None:
            pos_label = classes.max() if len(classes) else 1
        if np.isnan(s).any():
            raise ValueError("roc_auc_score: y_score contains NaN")
        return _binary_auc(t == pos_label, s)
    if s.ndim != 2:
        raise ValueError(f"roc_auc_score: y_score must be 1-D or 2-D, got shape {s.shape}")
    if multi_class != "ovr":
        raise ValueError(f"roc_auc_score: only multi_class='ovr' is implemented, got {multi_class}")
    n_cls = s.shape[1]
    if len(classes) != n_cls:
        raise ValueError(
            f"roc_auc_score: y_score has {n_cls} columns but y_true holds {len(classes)} "
            f"classes {classes.tolist()}"
        )
    aucs = np.array([_binary_auc(t == c, s[:, k]) for k, c in enumerate(classes)])
    if average is None:
        return aucs
    if average == "macro":
        return float(aucs.mean())
    if average == "weighted":
        w = np.array([np.sum(t == c) for c in classes], dtype=np.float64)
        return float((aucs * w).sum() / w.sum())
    raise ValueError(f"roc_auc_score: average must be 'macro', 'weighted' or None, got {average!r}")


def roc_curve(y_true: Any, y_score: Any, pos_label: Any = None) -> tuple:
    """``(fpr, tpr, thresholds)`` of a binary problem, one point per distinct score (highest
    threshold first, starting at (0, 0) with threshold +inf, like scikit-learn without
    dropping intermediate points)."""
    t = _labels_1d(y_true, "y_true", "roc_curve")
    s = _labels_1d(y_score, "y_score", "roc_curve").astype(np.float64)
    if pos_label is None:
        pos_label = np.unique(t).max() if t.size else 1
    pos = t == pos_label
    order = np.argsort(-s, kind="mergesort")
    s, pos = s[order], pos[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.array([], int)
    tps = np.cumsum(pos)[last]
    fps = (last + 1) - tps
    n_pos, n_neg = pos.sum(), (~pos).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.r_[0.0, tps / n_pos] if n_pos else np.full(len(last) + 1, np.nan)
        fpr = np.r_[0.0, fps / n_neg] if n_neg else np.full(len(last) + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def _reg_pair(y_true: Any, y_pred: Any, op: str) -> tuple:
    t = to_numpy(y_true).astype(np.float64, copy=False)
    p = to_numpy(y_pred).astype(np.float64, copy=False)
    if t.ndim == 2 and t.shape[1] == 1 and p.ndim == 1:
        t = t[:, 0]
    if p.ndim == 2 and p.shape[1] == 1 and t.ndim == 1:
        p = p[:, 0]
    if t.shape != p.shape:
        raise ValueError(f"{op}: y_true shape {t.shape} != y_pred shape {p.shape}")
    if t.ndim not in (1, 2):
        raise ValueError(f"{op}: expected (N,) or (N, outputs) values, got shape {t.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{op}: no samples (y_true is empty)")
    return t, p


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``(y_true - y_pred)**2`` over all samples (and outputs)."""
    t, p = _reg_pair(y_true, y_pred, "mean_squared_error")
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``|y_true - y_pred|`` over all samples (and outputs)."""
    t, p = _reg_pair(y_true, y_pred, "mean_absolute_error")
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (outputs averaged uniformly).

    A constant ``y_true`` gives 1.0 for a perfect prediction and 0.0 otherwise (scikit-learn's
    ``force_finite`` convention).
    """
    t, p = _reg_pair(y_true, y_pred, "r2_score")
    t2 = t.reshape(t.shape[0], -1)
    p2 = p.reshape(p.shape[0], -1)
    ss_res = ((t2 - p2) ** 2).sum(axis=0)
    ss_tot = ((t2 - t2.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
    r2 = np.where((ss_tot == 0) & (ss_res == 0), 1.0, r2)
    return float(r2.mean())
