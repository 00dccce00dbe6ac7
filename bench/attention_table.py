"""Table of an attention sweep (bench/attention_sweep.sh): HiP (total, mask,
sparse) and the project's dense DSL kernel from OUTDIR/ours.jsonl, PyTorch SDPA
(cuDNN, FlashAttention-2) from OUTDIR/sdpa.jsonl, and speedups (the other's
time / HiP's total; above 1 means HiP is faster). Markdown, on stdout.
Where a file holds several lines for one T (and backend), the last one counts.
Standard library only.

  python3 bench/attention_table.py OUTDIR
"""
import json
import os
import sys


def read_jsonl(path):
    """The JSON objects of a file, one per line; other lines are skipped."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def load(outdir):
    """(ours: {T: record}, sdpa: {(backend, T): record}, devices)."""
    ours, sdpa, devices = {}, {}, []
    for rec in read_jsonl(os.path.join(outdir, "ours.jsonl")):
        T = rec.get("T_q", rec.get("T"))
        if T is not None:
            ours[int(T)] = rec
    for rec in read_jsonl(os.path.join(outdir, "sdpa.jsonl")):
        if rec.get("T") is not None and rec.get("backend"):
            sdpa[(rec["backend"], int(rec["T"]))] = rec
    for rec in list(sdpa.values()) + list(ours.values()):
        d = rec.get("device")
        if d and d not in devices:
            devices.append(d)
    return ours, sdpa, devices


def ms_of(rec, key):
    if rec is None or "error" in rec:
        return None
    x = rec.get(key)
    return float(x) if isinstance(x, (int, float)) else None


def fmt_ms(x):
    if x is None:
        return "-"
    return "%.1f" % x if x >= 100 else "%.2f" % x if x >= 1 else "%.3f" % x


def fmt_ratio(num, den):
    if num is None or den is None or den <= 0:
        return "-"
    return "%.2fx" % (num / den)


def fmt_T(T):
    return "%dk" % (T // 1024) if T % 1024 == 0 else str(T)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: attention_table.py OUTDIR\n")
        return 2
    ours, sdpa, devices = load(argv[1])
    Ts = sorted(set(ours) | {T for (_, T) in sdpa})
    if not Ts:
        sys.stderr.write("attention_table.py: no results in %s\n" % argv[1])
        return 1
    print("Attention latency, ms (bf16, B=1, H=32, H_kv=8, D=128, causal) on %s"
          % (", ".join(devices) or "unknown device"))
    print()
    head = ["T", "HiP", "mask", "sparse", "dense DSL", "cuDNN", "FA2",
            "dense DSL / HiP", "cuDNN / HiP", "FA2 / HiP"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---:"] * len(head)) + "|")
    notes = []
    for T in Ts:
        o = ours.get(T)
        cd, fa = sdpa.get(("cudnn", T)), sdpa.get(("flash", T))
        hip, dense = ms_of(o, "hip_ms"), ms_of(o, "dense_ms")
        c_ms, f_ms = ms_of(cd, "ms"), ms_of(fa, "ms")
        row = [fmt_T(T), fmt_ms(hip), fmt_ms(ms_of(o, "hip_mask_ms")),
               fmt_ms(ms_of(o, "hip_attention_ms")), fmt_ms(dense), fmt_ms(c_ms), fmt_ms(f_ms),
               fmt_ratio(dense, hip), fmt_ratio(c_ms, hip), fmt_ratio(f_ms, hip)]
        print("| " + " | ".join(row) + " |")
        for name, rec in (("hipattn", o), ("cuDNN", cd), ("FA2", fa)):
            if rec is not None and "error" in rec:
                notes.append("T=%d %s: %s" % (T, name, str(rec["error"]).replace("\n", " ")[:200]))
        if o is not None:
            for c in o.get("configs") or []:
                if c.get("source") != "default":
                    notes.append("T=%d %s schedule from %s: %s"
                                 % (T, c.get("kernel"), c.get("source"), c.get("config")))
    print()
    print("HiP = hip_attention total (separate timing, so not exactly mask + sparse); "
          "ours: wall clock around the call, median of %s; SDPA: CUDA events, median of %s."
          % ("/".join(sorted({str(r.get("reps")) for r in ours.values() if "reps" in r})) or "?",
             "/".join(sorted({str(r.get("reps")) for r in sdpa.values() if "reps" in r})) or "?"))
    for n in notes:
        print("note: " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
