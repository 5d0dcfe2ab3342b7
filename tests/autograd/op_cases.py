"""The table of differentiable ops shared by the gradcheck and the torch-parity tests.

Each case: a name, the axonal function, the torch function (``None``: same code works for both,
called with the library module as first argument), input shapes (broadcasting included) and the
input domain ("any", "pos": positive, "away": away from non-differentiable points).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Tuple


@dataclass
class Case:
    name: str
    fn: Callable  # fn(lib, *tensors) where lib is axonal or torch
    shapes: Sequence[Tuple[int, ...]]
    domain: str = "any"
    torch_fn: Optional[Callable] = None  # when torch needs different code
    kwargs: dict = field(default_factory=dict)


def _F(lib: Any) -> Any:
    """axonal keeps activations at top level; torch has them in torch.nn.functional."""
    return lib.nn.functional if lib.__name__ == "torch" else lib


CASES = [
    # binary with broadcasting
    Case("add", lambda m, a, b: a + b, [(3, 4), (4,)]),
    Case("add_bcast_both", lambda m, a, b: a + b, [(3, 1), (1, 5)]),
    Case("sub", lambda m, a, b: a - b, [(2, 3, 4), (3, 1)]),
    Case("mul", lambda m, a, b: a * b, [(3, 4), (3, 1)]),
    Case("div", lambda m, a, b: a / b, [(3, 4), (4,)], "pos"),
    Case("pow_tensor", lambda m, a, b: a**b, [(3, 4), (4,)], "pos"),
    Case("radd_scalar", lambda m, a: 2.5 + a, [(5,)]),
    Case("rsub_scalar", lambda m, a: 2 - a, [(5,)]),
    Case("rmul_scalar", lambda m, a: 3 * a, [(2, 3)]),
    Case("rdiv_scalar", lambda m, a: 2.0 / a, [(2, 3)], "pos"),
    Case("div_scalar", lambda m, a: a / 3.0, [(2, 3)]),
    Case("pow_scalar", lambda m, a: a**3, [(2, 3)]),
    Case("pow_frac", lambda m, a: a**1.5, [(2, 3)], "pos"),
    Case("rpow_scalar", lambda m, a: 2.0**a, [(2, 3)]),
    Case("neg", lambda m, a: -a, [(3, 2)]),
    Case("abs", lambda m, a: a.abs(), [(3, 4)], "away"),
    Case("exp", lambda m, a: m.exp(a), [(3, 4)]),
    Case("log", lambda m, a: m.log(a), [(3, 4)], "pos"),
    Case("log1p", lambda m, a: m.log1p(a), [(3, 4)], "pos"),
    Case("sqrt", lambda m, a: m.sqrt(a), [(3, 4)], "pos"),
    Case("rsqrt", lambda m, a: m.rsqrt(a), [(3, 4)], "pos"),
    Case("sin", lambda m, a: m.sin(a), [(3, 4)]),
    Case("cos", lambda m, a: m.cos(a), [(3, 4)]),
    Case("tanh", lambda m, a: m.tanh(a), [(3, 4)]),
    Case("sigmoid", lambda m, a: m.sigmoid(a), [(3, 4)]),
    Case("clamp", lambda m, a: m.clamp(a, -0.5, 0.5), [(4, 5)], "away"),
    Case("clamp_min", lambda m, a: a.clamp(min=0.1), [(4, 5)], "away"),
    Case("clip_tensor_bounds", lambda m, a, lo: m.clamp(a, min=lo), [(3, 4), (4,)], "away"),
    Case("maximum", lambda m, a, b: m.maximum(a, b), [(3, 4), (4,)]),
    Case("minimum", lambda m, a, b: m.minimum(a, b), [(3, 1), (4,)]),
    Case("where", lambda m, a, b: m.where(a > 0, a, b), [(3, 4), (4,)], "away"),
    # reductions
    Case("sum_all", lambda m, a: a.sum(), [(3, 4)]),
    Case("sum_dim", lambda m, a: a.sum(dim=1), [(3, 4, 2)]),
    Case("sum_dims_keep", lambda m, a: a.sum(dim=(0, 2), keepdim=True), [(3, 4, 2)]),
    Case("mean_all", lambda m, a: a.mean(), [(3, 4)]),
    Case("mean_dim", lambda m, a: a.mean(dim=-1, keepdim=True), [(3, 4)]),
    Case("var_all", lambda m, a: a.var(), [(3, 4)]),
    Case("var_dim_biased", lambda m, a: a.var(dim=0, unbiased=False), [(5, 3)]),
    Case("var_correction", lambda m, a: m.var(a, dim=1, correction=2, keepdim=True), [(3, 6)]),
    Case("std_all", lambda m, a: a.std(), [(3, 4)]),
    Case("std_dim", lambda m, a: a.std(dim=1, keepdim=True), [(3, 4)]),
    Case("prod_all", lambda m, a: a.prod(), [(2, 3)]),
    Case("prod_dim", lambda m, a: a.prod(dim=1), [(3, 4)]),
    Case("max_all", lambda m, a: a.max(), [(3, 4)]),
    Case("min_all", lambda m, a: a.min(), [(3, 4)]),
    Case("max_dim", lambda m, a: a.max(dim=1)[0], [(3, 4)]),
    Case("max_dim_keep", lambda m, a: a.max(dim=0, keepdim=True).values, [(3, 4)]),
    Case("min_dim", lambda m, a: a.min(dim=-1).values, [(2, 3, 4)]),
    Case("amax", lambda m, a: m.amax(a, dim=(0, 1)), [(2, 3, 4)]),
    Case("logsumexp", lambda m, a: m.logsumexp(a, dim=1), [(3, 5)]),
    Case("logsumexp_keep", lambda m, a: m.logsumexp(a, dim=(0, 1), keepdim=True), [(3, 5)]),
    Case("norm_all", lambda m, a: a.norm(), [(3, 4)]),
    Case("norm_dim", lambda m, a: m.norm(a, dim=1, keepdim=True), [(3, 4)]),
    Case("norm_p1", lambda m, a: m.norm(a, p=1, dim=0), [(3, 4)], "away"),
    Case("norm_p3", lambda m, a: m.norm(a, p=3), [(3, 4)], "away"),
    Case("norm_inf", lambda m, a: m.norm(a, p=float("inf"), dim=1), [(3, 4)], "away"),
    Case("cumsum", lambda m, a: m.cumsum(a, dim=1), [(3, 4)]),
    # matmul
    Case("matmul_2d", lambda m, a, b: a @ b, [(5, 3), (3, 4)]),
    Case("matmul_vec_mat", lambda m, a, b: a @ b, [(3,), (3, 4)]),
    Case("matmul_mat_vec", lambda m, a, b: m.matmul(a, b), [(5, 3), (3,)]),
    Case("matmul_dot", lambda m, a, b: a @ b, [(3,), (3,)]),
    Case("matmul_batched", lambda m, a, b: a @ b, [(2, 5, 3), (2, 3, 4)]),
    Case("matmul_bcast_batch", lambda m, a, b: a @ b, [(2, 1, 5, 3), (3, 3, 4)]),
    Case("matmul_batch_mat", lambda m, a, b: a @ b, [(2, 5, 3), (3, 4)]),
    Case("matmul_mat_batch", lambda m, a, b: a @ b, [(5, 3), (2, 3, 4)]),
    # shape ops
    Case("reshape", lambda m, a: a.reshape(4, -1) * 1.5, [(2, 3, 2)]),
    Case("view", lambda m, a: a.view(6, 2).exp(), [(3, 4)]),
    Case("flatten", lambda m, a: a.flatten(1).sin(), [(2, 3, 2)]),
    Case("squeeze", lambda m, a: a.squeeze(1).exp(), [(3, 1, 2)]),
    Case("unsqueeze", lambda m, a, b: a.unsqueeze(1) * b, [(3, 2), (4, 1)]),
    Case("transpose", lambda m, a, b: a.transpose(0, 1) @ b, [(3, 2), (3, 4)]),
    Case("T", lambda m, a: a.T.exp(), [(3, 2)]),
    Case("permute", lambda m, a: a.permute(2, 0, 1).sin(), [(2, 3, 4)]),
    Case("expand", lambda m, a: a.expand(3, 4).sin(), [(1, 4)]),
    Case("expand_new_dims", lambda m, a: a.expand(2, 3, 4).cos(), [(3, 1)]),
    Case("repeat", lambda m, a: a.repeat(2, 3).sin(), [(2, 3)]),
    Case("repeat_more_dims", lambda m, a: a.repeat(2, 1, 2).cos(), [(3, 2)]),
    Case("cat", lambda m, a, b: m.cat([a, b.exp(), a], dim=1), [(2, 3), (2, 4)]),
    Case("stack", lambda m, a, b: m.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    Case("split", lambda m, a: m.split(a, 2, dim=1)[1].exp(), [(3, 5)]),
    Case("split_all", lambda m, a: m.cat(m.split(a, [1, 3], dim=1)[::-1], 1), [(3, 4)]),
    Case("chunk", lambda m, a: m.chunk(a, 3, dim=0)[2] * 2, [(7, 2)]),
    # indexing
    Case("index_basic", lambda m, a: a[1:, ::2].exp(), [(4, 5)]),
    Case("index_int", lambda m, a: a[2], [(4, 5)]),
    Case("index_ellipsis_none", lambda m, a: a[..., None, 1], [(3, 4)]),
    Case("index_neg_step_free", lambda m, a: a[:, -1], [(3, 4)]),
    Case("gather", None, [(3, 5)]),  # built in the tests (index tensor)
    Case("index_select", None, [(4, 3)]),
    Case("index_int_array", None, [(5, 3)]),
    Case("index_bool", None, [(4, 3)]),
    Case("pad", lambda m, a: _F(m).pad(a, (1, 2, 0, 1), value=0.5).exp(), [(2, 3, 4)]),
    # activations
    Case("relu", lambda m, a: m.relu(a), [(4, 5)], "away"),
    Case("leaky_relu", lambda m, a: _F(m).leaky_relu(a, 0.2), [(4, 5)], "away"),
    Case("elu", lambda m, a: _F(m).elu(a, alpha=1.3), [(4, 5)], "away"),
    Case("gelu", lambda m, a: _F(m).gelu(a), [(4, 5)]),
    Case("gelu_tanh", lambda m, a: _F(m).gelu(a, approximate="tanh"), [(4, 5)]),
    Case("silu", lambda m, a: _F(m).silu(a), [(4, 5)]),
    Case("softplus", lambda m, a: _F(m).softplus(a, beta=2.0, threshold=3.0), [(4, 5)], "away"),
    Case("softmax", lambda m, a: m.softmax(a, dim=1), [(3, 5)]),
    Case("softmax_dim0", lambda m, a: m.softmax(a, dim=0), [(3, 5)]),
    Case("log_softmax", lambda m, a: m.log_softmax(a, dim=-1), [(3, 5)]),
    # compositions
    Case("mlp_layer", lambda m, x, w, b: (x @ w + b).relu().sum(), [(4, 3), (3, 5), (5,)]),
    Case("chain", lambda m, a, b: ((a * b).exp() / (1 + b * b)).sum(dim=0), [(3, 4), (4,)]),
]

CASES_BY_NAME = {c.name: c for c in CASES}
