"""hip_attention from Python on the CPU backend with numpy float32 arrays, against a numpy
float64 reference. Run: HIP_ATTENTION_LIBRARY=build/lib/libhipattn.so python3 -m pytest python/tests
"""
import numpy as np
import pytest

import hip_attention as ha

B, T, H, HKV, D = 1, 40, 4, 2, 16


def inputs(seed, t=T, scale=True):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, t, H, D)).astype(np.float32)
    if scale:
        q *= np.float32(D ** -0.5)
    k = rng.standard_normal((B, t, HKV, D)).astype(np.float32)
    v = rng.standard_normal((B, t, HKV, D)).astype(np.float32)
    return q, k, v


def reference(q, k, v, causal=True, scale=1.0):
    """Dense attention in float64; the queries are the last T_q keys; GQA."""
    b_, tq, h_, _ = q.shape
    tk, hkv = k.shape[1], k.shape[2]
    out = np.zeros(q.shape, dtype=np.float64)
    for b in range(b_):
        for h in range(h_):
            kh = h // (h_ // hkv)
            s = q[b, :, h, :].astype(np.float64) @ k[b, :, kh, :].astype(np.float64).T * scale
            if causal:
                pos = np.arange(tq)[:, None] + (tk - tq)
                s = np.where(np.arange(tk)[None, :] <= pos, s, -np.inf)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            out[b, :, h, :] = (p / p.sum(axis=1, keepdims=True)) @ v[b, :, kh, :].astype(np.float64)
    return out


# A mask that covers every key: HiP equals dense attention.
COVER = dict(mask_k=64, block_size_q=16, block_size_k=2, sink_token_size=0,
             sliding_window_size=0, backend="cpu")


def test_dense_matches_reference():
    q, k, v = inputs(1)
    out = ha.dense_attention(q, k, v, backend="cpu")
    assert isinstance(out, np.ndarray) and out.shape == q.shape and out.dtype == np.float32
    assert np.abs(out - reference(q, k, v)).max() < 1e-4


def test_hip_equals_dense_when_the_mask_covers_every_key():
    q, k, v = inputs(2)
    out, mask = ha.hip_attention(q, k, v, **COVER)
    assert np.abs(out - reference(q, k, v)).max() < 1e-4
    indices, ks = mask.arrays()
    blocks = (T + 15) // 16
    assert indices.shape[:2] == (B * H, blocks) and ks.shape == (B * H, blocks)
    assert (ks > 0).all()
    again, _ = ha.hip_attention(q, k, v, previous=mask, **COVER)
    assert np.array_equal(again, out)


def test_strided_inputs_and_softmax_scale():
    q, k, v = inputs(3, scale=False)
    wide = np.zeros((B, T, H, 2 * D), dtype=np.float32)
    wide[..., :D] = q
    strided = wide[..., :D]  # not contiguous: read through its strides
    out = ha.dense_attention(strided, k, v, softmax_scale=D ** -0.5, backend="cpu")
    assert np.abs(out - reference(q, k, v, scale=D ** -0.5)).max() < 1e-4
    flash = ha.flash_attn_func(q, k, v, causal=True, backend="cpu", **{
        key: val for key, val in COVER.items() if key != "backend"})
    assert np.abs(flash - reference(q, k, v, scale=D ** -0.5)).max() < 1e-4


def test_paged_equals_contiguous():
    q, k, v = inputs(4)
    ps = 8
    pages = T // ps
    order = np.random.default_rng(5).permutation(pages).astype(np.int32)
    k_cache = np.zeros((pages, ps, HKV, D), dtype=np.float32)
    v_cache = np.zeros_like(k_cache)
    for j in range(pages):
        k_cache[order[j]] = k[0, j * ps:(j + 1) * ps]
        v_cache[order[j]] = v[0, j * ps:(j + 1) * ps]
    table = order.reshape(1, pages)
    lens = np.array([T], dtype=np.int32)
    cu = np.array([0, T], dtype=np.int32)
    out = ha.paged_dense_attention(q[0], k_cache, v_cache, table, lens, cu, backend="cpu")
    assert out.shape == (T, H, D)
    assert np.abs(out - reference(q, k, v)[0]).max() < 1e-4
    hip = ha.paged_hip_attention(q[0], k_cache, v_cache, table, lens, cu, **COVER)
    assert np.abs(hip - reference(q, k, v)[0]).max() < 1e-4
    # Append: an empty cache filled through append_paged_kv gives the same.
    k2, v2 = np.zeros_like(k_cache), np.zeros_like(v_cache)
    ha.append_paged_kv(k2, v2, table, lens, k[0], v[0], cu)
    assert np.array_equal(k2, k_cache) and np.array_equal(v2, v_cache)
    bad = table.copy()
    bad[0, 1] = pages
    with pytest.raises(ha.InvalidArgument, match=r"block_table\[0\]\[1\]"):
        ha.paged_dense_attention(q[0], k_cache, v_cache, bad, lens, cu, backend="cpu")


def test_errors_raise_with_the_library_message():
    q, k, v = inputs(6)
    with pytest.raises(ha.InvalidArgument, match="q must be 4-D"):
        ha.dense_attention(q[0], k, v, backend="cpu")
    with pytest.raises(ha.InvalidArgument, match="mask_k"):
        ha.hip_attention(q, k, v, mask_k=48, backend="cpu")
    with pytest.raises(ha.InvalidArgument, match="unknown argument"):
        ha.hip_attention(q, k, v, mask_size=64, backend="cpu")
    with pytest.raises(ha.InvalidArgument, match="backend"):
        ha.dense_attention(q, k, v, backend="tpu")
    with pytest.raises(ha.InvalidArgument, match="DLPack"):
        ha.dense_attention([1, 2], k, v, backend="cpu")
