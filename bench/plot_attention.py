"""Plot of an attention sweep (bench/attention_sweep.sh): latency in ms against
T, log-log, for HiP (hip_ms of OUTDIR/ours.jsonl), the project's dense DSL
kernel (dense_ms of the same lines), and PyTorch SDPA cuDNN and
FlashAttention-2 ("ms" of the "cudnn" and "flash" lines of OUTDIR/sdpa.jsonl).
The title names the GPU ("device" of sdpa.jsonl, else of ours.jsonl). Points
with an error are left out. Needs matplotlib.

  python3 bench/plot_attention.py OUTDIR PNG
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attention_table import fmt_T, load, ms_of  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: plot_attention.py OUTDIR PNG\n")
        return 2
    outdir, png = argv[1], argv[2]
    ours, sdpa, _ = load(outdir)
    gpu = next((r["device"] for r in sdpa.values() if r.get("device")),
               next((r["device"] for r in ours.values() if r.get("device")), "unknown GPU"))
    series = [
        ("HiP (ours)", "C0", "o", "-", [(T, ms_of(r, "hip_ms")) for T, r in ours.items()]),
        ("dense DSL (ours)", "C1", "s", "--", [(T, ms_of(r, "dense_ms")) for T, r in ours.items()]),
        ("cuDNN (PyTorch SDPA)", "C2", "^", "-",
         [(T, ms_of(r, "ms")) for (b, T), r in sdpa.items() if b == "cudnn"]),
        ("FlashAttention-2 (PyTorch SDPA)", "C3", "v", "-",
         [(T, ms_of(r, "ms")) for (b, T), r in sdpa.items() if b == "flash"]),
    ]
    fig, ax = plt.subplots(figsize=(7, 5))
    Ts = set()
    for label, color, marker, style, pts in series:
        pts = sorted((T, ms) for T, ms in pts if ms is not None and ms > 0)
        if not pts:
            continue
        Ts.update(T for T, _ in pts)
        ax.plot([T for T, _ in pts], [ms for _, ms in pts], style, color=color, marker=marker,
                label=label)
    if not Ts:
        sys.stderr.write("plot_attention.py: no results in %s\n" % outdir)
        return 1
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(Ts)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([fmt_T(T) for T in sorted(Ts)])
    ax.set_xlabel("sequence length T (T_q = T_k)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Causal attention latency on %s\nbf16, B=1, H=32, H_kv=8, D=128" % gpu)
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", axis="y", alpha=0.15)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=150)
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
