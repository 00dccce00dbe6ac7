"""Dense attention baselines of PyTorch (SDPA with the FlashAttention-2 and the
cuDNN backends) at the shapes of bench/bench_attention.sh: bf16, B=1, H=32,
H_kv=8 (K/V repeated to 32 heads, outside the timing), D=128, causal, q
pre-scaled (scale=1). Prints one JSON line per (backend, T) on stdout: median
of --reps timed calls after 2 warm-ups, CUDA events around the call.

  python3 bench/sdpa_baseline.py [T ...] [--reps N]

The sequence lengths come from the arguments, else from SDPA_T (spaces or
commas), else 4096 16384 32768 131072. Each line:
  {"device": GPU name, "backend": "flash" | "cudnn", "T": T, "B": 1, "H": 32,
   "H_kv": 8, "D": 128, "dtype": "bf16", "causal": true, "reps": N, "ms": median}
or, when a backend cannot run a shape, the same keys with "error" (the
exception's text, 200 characters) instead of "ms". Uses only torch."""
import argparse
import json
import os

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

DEFAULT_T = (4096, 16384, 32768, 131072)
B, H, H_KV, D = 1, 32, 8, 128
BACKENDS = (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION))


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


def sequence_lengths(args):
    if args.T:
        return args.T
    env = os.environ.get("SDPA_T", "").replace(",", " ").split()
    return [int(t) for t in env] if env else list(DEFAULT_T)


def main():
    p = argparse.ArgumentParser(description="PyTorch SDPA (FlashAttention-2, cuDNN) latency, JSON lines")
    p.add_argument("T", nargs="*", type=int, help="sequence lengths (default: SDPA_T, else %s)"
                   % " ".join(map(str, DEFAULT_T)))
    p.add_argument("--reps", type=int, default=10, help="timed calls per point (default 10)")
    args = p.parse_args()
    torch.manual_seed(0)
    device = torch.cuda.get_device_name()
    for T in sequence_lengths(args):
        q = torch.randn(B, H, T, D, dtype=torch.bfloat16, device="cuda") / D ** 0.5
        k = torch.randn(B, H_KV, T, D, dtype=torch.bfloat16, device="cuda").repeat_interleave(H // H_KV, 1)
        v = torch.randn(B, H_KV, T, D, dtype=torch.bfloat16, device="cuda").repeat_interleave(H // H_KV, 1)
        for name, be in BACKENDS:
            rec = {"device": device, "backend": name, "T": T, "B": B, "H": H, "H_kv": H_KV, "D": D,
                   "dtype": "bf16", "causal": True, "reps": args.reps}
            try:
                with sdpa_kernel(be):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0),
                               args.reps)
                rec["ms"] = round(ms, 4)
            except RuntimeError as err:  # no kernel for this shape/GPU, out of memory
                rec["error"] = str(err)[:200]
                torch.cuda.empty_cache()
            print(json.dumps(rec), flush=True)
        del q, k, v
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
