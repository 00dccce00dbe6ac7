"""Dense attention baselines of PyTorch (SDPA with the FlashAttention and the
cuDNN backends) at the shapes of bench/bench_attention.sh: bf16, B=1, H=32,
H_kv=8 (K/V repeated to 32 heads), D=128, causal. Prints one JSON line per
(backend, T): median of 10 timed calls after 2 warm-ups, CUDA events."""
import json

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def bench(fn, reps=10):
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    return sorted(times)[len(times) // 2]


def main():
    torch.manual_seed(0)
    for T in (4096, 16384, 32768, 131072):
        q = torch.randn(1, 32, T, 128, dtype=torch.bfloat16, device="cuda") / 128 ** 0.5
        k = torch.randn(1, 8, T, 128, dtype=torch.bfloat16, device="cuda").repeat_interleave(4, 1)
        v = torch.randn(1, 8, T, 128, dtype=torch.bfloat16, device="cuda").repeat_interleave(4, 1)
        for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                with sdpa_kernel(be):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0))
            except RuntimeError as err:
                ms = None
                print(json.dumps({"backend": name, "T": T, "error": str(err)[:200]}))
                continue
            print(json.dumps({"device": torch.cuda.get_device_name(), "backend": name, "T": T,
                              "ms": round(ms, 4)}), flush=True)
        del q, k, v
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
