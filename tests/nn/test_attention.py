"""Attention and transformers: scaled_dot_product_attention, MultiheadAttention,
TransformerEncoderLayer / TransformerEncoder against PyTorch (outputs, attention weights and
every gradient, over masks, batch_first, unbatched inputs, kdim / vdim, pre- and post-norm),
float64 gradchecks, dropout behaviour and bad arguments; the encoder-decoder Transformer."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

TOL64 = dict(rtol=1e-10, atol=1e-12)


def t(a, grad=False):
    return axonal.tensor(np.asarray(a), requires_grad=grad)


def load_from_torch(ax, pt):
    sd = {k: axonal.tensor(v.detach().numpy().copy()) for k, v in pt.state_dict().items()}
    assert list(ax.state_dict()) == list(sd)
    ax.load_state_dict(sd)


def reference_sdpa(q, k, v, allowed=None, scale=None):
    s = (q @ np.swapaxes(k, -1, -2)) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def test_sdpa_matches_numpy_masks_scale_and_causal():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)))
    got = F.scaled_dot_product_attention(t(q), t(k), t(v))
    np.testing.assert_allclose(got.numpy(), reference_sdpa(q, k, v), **TOL64)
    allowed = rng.random((4, 6)) > 0.4
    allowed[:, 0] = True
    got = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=allowed, scale=0.3)
    np.testing.assert_allclose(got.numpy(), reference_sdpa(q, k, v, allowed, 0.3), **TOL64)
    bias = rng.standard_normal((4, 6))
    got = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=bias)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8) + bias
    w = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(got.numpy(), (w / w.sum(-1, keepdims=True)) @ v, **TOL64)
    causal = np.tril(np.ones((4, 6), bool))
    got = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=True)
    np.testing.assert_allclose(got.numpy(), reference_sdpa(q, k, v, causal), **TOL64)
    nothing = np.zeros((4, 6), bool)  # a query that may attend to nothing: 0, as in PyTorch
    got = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=nothing)
    assert np.all(got.numpy() == 0)


def test_sdpa_gradcheck():
    rng = np.random.default_rng(1)
    q, k, v = (t(rng.standard_normal(s), True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    m = rng.random((3, 5)) > 0.3
    m[:, 0] = True
    assert gradcheck(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m).sum(), (q, k, v)
    )


def test_sdpa_errors():
    a = axonal.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="scaled_dot_product_attention: query .* need"):
        F.scaled_dot_product_attention(a, axonal.zeros(2, 3, 5), a)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(a, a, a, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(TypeError, match="a mask must be boolean or floating point"):
        F.scaled_dot_product_attention(a, a, a, attn_mask=np.ones((3, 3), np.int64))


MHA_CASES = [
    dict(),
    dict(batch_first=True),
    dict(bias=False),
    dict(kdim=5, vdim=7),
]


@pytest.mark.parametrize("kw", MHA_CASES, ids=lambda k: ",".join(k) or "default")
@pytest.mark.parametrize("masks", ["none", "bool", "float", "padding", "both"])
def test_mha_torch_parity(kw, masks):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    pt = torch.nn.MultiheadAttention(8, 2, **kw).double()
    ax = nn.MultiheadAttention(8, 2, dtype=np.float64, **kw)
    load_from_torch(ax, pt)
    bf = kw.get("batch_first", False)
    L, S, N = 3, 5, 4
    q = rng.standard_normal((N, L, 8) if bf else (L, N, 8))
    k = rng.standard_normal((N, S, kw.get("kdim", 8)) if bf else (S, N, kw.get("kdim", 8)))
    v = rng.standard_normal((N, S, kw.get("vdim", 8)) if bf else (S, N, kw.get("vdim", 8)))
    am = kpm = None
    if masks in ("bool", "both"):
        am = np.triu(np.ones((L, S), bool), 2)
    if masks == "float":
        am = rng.standard_normal((N * 2, L, S))
    if masks in ("padding", "both"):
        kpm = np.zeros((N, S), bool)
        kpm[1, 3:] = True
    args = [(x, True) for x in (q, k, v)]
    qa, ka, va = (t(a, g) for a, g in args)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a, _ in args)
    tm = lambda m: None if m is None else torch.tensor(m)  # noqa: E731
    for avg in (True, False):
        oa, wa = ax(qa, ka, va, key_padding_mask=kpm, attn_mask=am, average_attn_weights=avg)
        ot, wt = pt(
            qt, kt, vt, key_padding_mask=tm(kpm), attn_mask=tm(am), average_attn_weights=avg
        )
        np.testing.assert_allclose(oa.numpy(), ot.detach().numpy(), **TOL64)
        np.testing.assert_allclose(wa.numpy(), wt.detach().numpy(), **TOL64)
    g = rng.standard_normal(tuple(oa.shape))
    (oa * t(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    for a, b in ((qa, qt), (ka, kt), (va, vt)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL64)
    for (name, p), q_ in zip(ax.named_parameters(), pt.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q_.grad.numpy(), err_msg=name, **TOL64)


def test_mha_unbatched_no_weights_and_causal():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    pt = torch.nn.MultiheadAttention(6, 3).double()
    ax = nn.MultiheadAttention(6, 3, dtype=np.float64)
    load_from_torch(ax, pt)
    x = rng.standard_normal((4, 6))
    oa, wa = ax(t(x), t(x), t(x))
    ot, wt = pt(*(torch.tensor(x),) * 3)
    np.testing.assert_allclose(oa.numpy(), ot.detach().numpy(), **TOL64)
    np.testing.assert_allclose(wa.numpy(), wt.detach().numpy(), **TOL64)
    out, w = ax(t(x), t(x), t(x), need_weights=False, is_causal=True)
    causal = np.triu(np.ones((4, 4), bool), 1)
    ot, _ = pt(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(causal))
    assert w is None
    np.testing.assert_allclose(out.numpy(), ot.detach().numpy(), **TOL64)


def test_mha_gradcheck_and_init():
    rng = np.random.default_rng(4)
    axonal.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    assert tuple(m.in_proj_weight.shape) == (12, 4) and np.all(m.in_proj_bias.numpy() == 0)
    bound = np.sqrt(6 / (12 + 4))  # xavier_uniform on (3E, E)
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    q = t(rng.standard_normal((3, 2, 4)), True)
    kv = t(rng.standard_normal((5, 2, 4)), True)
    assert gradcheck(lambda a, b: m(a, b, b)[0].sum(), (q, kv))


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)
    m = nn.MultiheadAttention(4, 2)
    x = axonal.zeros(3, 2, 4)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\)"):
        m(x, x, x, attn_mask=np.zeros((2, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\)"):
        m(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match="expected feature sizes"):
        m(axonal.zeros(3, 2, 5), x, x)
    with pytest.raises(ValueError, match="must all be 2-D"):
        m(x, axonal.zeros(3, 4), x)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_torch_parity(norm_first, activation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    kw = dict(dim_feedforward=16, dropout=0.0, norm_first=norm_first, activation=activation)
    ptl = torch.nn.TransformerEncoderLayer(8, 2, batch_first=True, **kw).double()
    pt = torch.nn.TransformerEncoder(
        ptl, 2, norm=torch.nn.LayerNorm(8).double(), enable_nested_tensor=False
    )
    axl = nn.TransformerEncoderLayer(8, 2, batch_first=True, dtype=np.float64, **kw)
    ax = nn.TransformerEncoder(axl, 2, norm=nn.LayerNorm(8, dtype=np.float64))
    load_from_torch(ax, pt)
    x = rng.standard_normal((3, 5, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[2, 3:] = True
    xa, xt = t(x, True), torch.tensor(x, requires_grad=True)
    ya = ax(xa, src_key_padding_mask=kpm)
    yt = pt(xt, src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(ya.numpy(), yt.detach().numpy(), **TOL64)
    g = rng.standard_normal(x.shape)
    (ya * t(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), **TOL64)
    for (name, p), q in zip(ax.named_parameters(), pt.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **TOL64)


def test_encoder_dropout_and_copies():
    axonal.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and enc.layers[0] is not layer
    assert enc.layers[1].linear1.weight is not enc.layers[2].linear1.weight
    x = axonal.randn(5, 2, 8)
    enc.eval()
    assert np.array_equal(enc(x).numpy(), enc(x).numpy())
    enc.train()
    axonal.manual_seed(1)
    a = enc(x).numpy()
    axonal.manual_seed(1)
    assert np.array_equal(a, enc(x).numpy())
    enc.eval()
    assert not np.allclose(a, enc(x).numpy())
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's own fast-path note
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_transformer_torch_parity(norm_first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    kw = dict(
        d_model=8,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        dropout=0.0,
        norm_first=norm_first,
    )
    pt = torch.nn.Transformer(**kw).double()
    ax = nn.Transformer(dtype=np.float64, **kw)
    load_from_torch(ax, pt)
    src, tgt = rng.standard_normal((5, 3, 8)), rng.standard_normal((4, 3, 8))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    assert np.array_equal(
        causal.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).double().numpy()
    )
    mkpm = np.zeros((3, 5), bool)
    mkpm[0, 4] = True
    sa, ta = t(src, True), t(tgt, True)
    st, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    ya = ax(sa, ta, tgt_mask=causal, memory_key_padding_mask=mkpm)
    yt = pt(
        st, tt, tgt_mask=torch.tensor(causal.numpy()), memory_key_padding_mask=torch.tensor(mkpm)
    )
    np.testing.assert_allclose(ya.numpy(), yt.detach().numpy(), **TOL64)
    g = rng.standard_normal(tuple(ya.shape))
    (ya * t(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(sa.grad.numpy(), st.grad.numpy(), **TOL64)
    np.testing.assert_allclose(ta.grad.numpy(), tt.grad.numpy(), **TOL64)
    for (name, p), q in zip(ax.named_parameters(), pt.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **TOL64)


def test_transformer_init_and_errors():
    axonal.manual_seed(0)
    m = nn.Transformer(
        d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=12
    )
    w = m.decoder.layers[0].linear1.weight.numpy()  # (12, 8): xavier-uniform bound sqrt(6 / 20)
    assert np.abs(w).max() <= np.sqrt(6 / 20) and np.abs(w).max() > 0.8 * np.sqrt(6 / 20)
    with pytest.raises(ValueError, match="different batch sizes"):
        m(axonal.zeros(5, 3, 8), axonal.zeros(4, 2, 8))
    with pytest.raises(ValueError, match="must equal d_model = 8"):
        m(axonal.zeros(5, 3, 8), axonal.zeros(4, 3, 6))


@pytest.mark.parametrize("fused", [True, False])
def test_fully_masked_rows_and_empty_sequences_match_torch(fused, monkeypatch):
    torch = pytest.importorskip("torch")
    import axonal.nn.attention as attn

    monkeypatch.setattr(attn, "_HAS_KERNEL", fused)
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal(s) for s in ((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2)))
    m = rng.random((2, 1, 4, 5)) > 0.4
    m[0, 0, 1] = False  # a query of batch 0 sees no key
    qa, ka, va = (t(a, True) for a in (q, k, v))
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    oa = F.scaled_dot_product_attention(qa, ka, va, attn_mask=m)
    ot = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.tensor(m))
    np.testing.assert_allclose(oa.numpy(), ot.detach().numpy(), **TOL64)
    oa.sum().backward()
    ot.sum().backward()
    for a, b in ((qa, qt), (ka, kt), (va, vt)):
        assert np.isfinite(a.grad.numpy()).all()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL64)
    for shapes in (((1, 3, 4), (1, 0, 4), (1, 0, 2)), ((1, 0, 4), (1, 5, 4), (1, 5, 2))):
        arrs = [np.ones(s) for s in shapes]
        got = F.scaled_dot_product_attention(*(t(a) for a in arrs)).numpy()
        want = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, arrs))
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got, want.numpy())


def test_padding_plus_causal_in_a_transformer_layer_matches_torch():
    """Left padding and a causal mask leave the first query of a padded sequence no key."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    pt = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double()
    ax = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=np.float64)
    load_from_torch(ax, pt)
    x = rng.standard_normal((2, 4, 8))
    kpm = np.zeros((2, 4), bool)
    kpm[1, :2] = True
    causal = np.triu(np.ones((4, 4), bool), 1)
    xa, xt = t(x, True), torch.tensor(x, requires_grad=True)
    ya = ax(xa, src_mask=causal, src_key_padding_mask=kpm)
    yt = pt(xt, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(ya.numpy(), yt.detach().numpy(), **TOL64)
    ya.sum().backward()
    yt.sum().backward()
    for (name, p), q in zip(ax.named_parameters(), pt.parameters()):
        assert np.isfinite(p.grad.numpy()).all(), name
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **TOL64)


def test_learned_float_mask_gets_its_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal(s) for s in ((2, 5, 4), (2, 7, 4), (2, 7, 3)))
    bias = rng.standard_normal((5, 7))
    ba, bt = t(bias, True), torch.tensor(bias, requires_grad=True)
    g = np.cos(q[..., :3])
    oa = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=ba)
    ot = torch.nn.functional.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), attn_mask=bt
    )
    (oa * t(g)).sum().backward()
    (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ba.grad.numpy(), bt.grad.numpy(), **TOL64)
    pt = torch.nn.MultiheadAttention(4, 2).double()
    ax = nn.MultiheadAttention(4, 2, dtype=np.float64)
    load_from_torch(ax, pt)
    x = rng.standard_normal((5, 2, 4))
    mb = rng.standard_normal((5, 5))
    for need_weights in (True, False):
        ba, bt = t(mb, True), torch.tensor(mb, requires_grad=True)
        ax(t(x), t(x), t(x), attn_mask=ba, need_weights=need_weights)[0].sum().backward()
        xt = torch.tensor(x)
        pt(xt, xt, xt, attn_mask=bt, need_weights=need_weights)[0].sum().backward()
        np.testing.assert_allclose(ba.grad.numpy(), bt.grad.numpy(), **TOL64)


def test_rnn_flatten_parameters_is_accepted():
    nn.LSTM(3, 4).flatten_parameters()  # PyTorch code calls it; nothing to do here
