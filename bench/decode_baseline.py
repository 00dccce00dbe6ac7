"""Dense decode baselines of PyTorch for bench-decode's shapes: one new token
per sequence (T_q = 1) against T keys, bf16, H=32, H_kv=8, D=128 (GQA by
SDPA's enable_gqa), q pre-scaled (scale=1). Per (backend, T, B) one JSON line:
the median of --reps calls after 2 warm-ups, CUDA events around the call.
"contiguous": K/V already [B, H_kv, T, D]; "paged": the same call after
gathering K/V from a shuffled paged cache [pages, page_size, H_kv, D] (what a
paged cache costs a caller of SDPA; page size --page-size).

  python3 bench/decode_baseline.py [--T 131072 ...] [--B 1 16] [--reps N] [--page-size 16]
"""
import argparse
import json

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from sdpa_baseline import bench  # (median of CUDA-event timings; bench/ is on sys.path)

H, H_KV, D = 32, 8, 128
BACKENDS = (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
            ("efficient", SDPBackend.EFFICIENT_ATTENTION))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, nargs="+", default=[131072])
    ap.add_argument("--B", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--page-size", type=int, default=16)
    a = ap.parse_args()
    dev = torch.cuda.get_device_name()
    for T in a.T:
        for B in a.B:
            g = torch.Generator(device="cuda").manual_seed(0)
            q = torch.rand(B, H, 1, D, device="cuda", generator=g, dtype=torch.bfloat16) - 0.5
            pages = (T + a.page_size - 1) // a.page_size
            kc = torch.rand(B * pages, a.page_size, H_KV, D, device="cuda", generator=g,
                            dtype=torch.bfloat16) - 0.5
            vc = torch.rand_like(kc) - 0.5
            table = torch.randperm(B * pages, device="cuda", generator=g).view(B, pages)

            def gather(c):  # [B, H_kv, T, D]
                return c[table].reshape(B, pages * a.page_size, H_KV, D)[:, :T].transpose(1, 2)

            k, v = gather(kc).contiguous(), gather(vc).contiguous()
            for name, be in BACKENDS:
                for layout in ("contiguous", "paged"):
                    row = {"device": dev, "backend": name, "layout": layout, "T": T, "B": B,
                           "H": H, "H_kv": H_KV, "D": D, "page_size": a.page_size, "reps": a.reps}
                    try:
                        with sdpa_kernel([be]):
                            if layout == "contiguous":
                                fn = lambda: F.scaled_dot_product_attention(q, k, v, scale=1.0,
                                                                            enable_gqa=True)
                            else:
                                fn = lambda: F.scaled_dot_product_attention(
                                    q, gather(kc), gather(vc), scale=1.0, enable_gqa=True)
                            row["ms"] = bench(fn, a.reps)
                    except Exception as e:  # a backend that cannot run this shape
                        row["error"] = str(e)[:200]
                    print(json.dumps(row), flush=True)
            del kc, vc, k, v
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
