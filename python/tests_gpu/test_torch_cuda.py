"""hip_attention with torch tensors on a CUDA GPU, against torch SDPA. Not run by ctest (the
build machine has no GPU and no torch); scripts/gpu_attention.sh runs it on the GPU machine:
HIP_ATTENTION_LIBRARY=build/lib/libhipattn.so PYTHONPATH=python python3 -m pytest python/tests_gpu
Without torch or a GPU every test is skipped, and says so.
"""
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: GPU tests not run")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU: GPU tests not run", allow_module_level=True)

import torch.nn.functional as F  # noqa: E402

import hip_attention as ha  # noqa: E402

B, T, H, HKV, D = 2, 300, 8, 2, 64
COVER = dict(mask_k=512, block_size_q=32, block_size_k=2, sink_token_size=0,
             sliding_window_size=0, backend="cuda")


def inputs(seed, dtype=torch.bfloat16):
    g = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(B, T, H, D, device="cuda", generator=g) * D ** -0.5
    k = torch.randn(B, T, HKV, D, device="cuda", generator=g)
    v = torch.randn(B, T, HKV, D, device="cuda", generator=g)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def sdpa(q, k, v, causal=True):
    o = F.scaled_dot_product_attention(q.transpose(1, 2).float(), k.transpose(1, 2).float(),
                                       v.transpose(1, 2).float(), is_causal=causal, scale=1.0,
                                       enable_gqa=True)
    return o.transpose(1, 2)


def test_dense_and_hip_match_sdpa():
    q, k, v = inputs(1)
    dense = ha.dense_attention(q, k, v, backend="cuda")
    assert dense.is_cuda and dense.dtype == torch.bfloat16 and dense.shape == q.shape
    assert (dense.float() - sdpa(q, k, v)).abs().max().item() < 2e-2
    out, mask = ha.hip_attention(q, k, v, **COVER)
    assert (out.float() - sdpa(q, k, v)).abs().max().item() < 2e-2
    again, _ = ha.hip_attention(q, k, v, previous=mask, **COVER)
    assert torch.equal(again, out)


def test_outputs_are_the_librarys_buffers_and_inputs_are_read_in_place():
    q, k, v = inputs(2)
    wide = torch.zeros(B, T, H, 2 * D, device="cuda", dtype=q.dtype)
    wide[..., :D] = q
    out = ha.dense_attention(wide[..., :D], k, v, backend="cuda")  # strided view, no copy asked
    assert (out.float() - sdpa(q, k, v)).abs().max().item() < 2e-2
    other = ha.dense_attention(q, k, v, backend="cuda")
    assert out.data_ptr() != other.data_ptr() and out.data_ptr() != q.data_ptr()


def test_flash_attn_func_and_errors():
    q, k, v = inputs(3)
    out = ha.flash_attn_func(q * D ** 0.5, k, v, causal=True, **{
        key: val for key, val in COVER.items() if key != "backend"})
    assert (out.float() - sdpa(q, k, v)).abs().max().item() < 3e-2
    with pytest.raises(ha.InvalidArgument, match="must be 4-D"):
        ha.dense_attention(q[0], k, v, backend="cuda")
