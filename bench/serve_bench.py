"""`hipattn serve` under N concurrent streaming clients (issue 14's benchmark).

Starts the server itself on 127.0.0.1 (a free port) for each attention
method, sends every client's requests as streaming completions over raw HTTP
(server-sent events, each event's arrival timed), stops the server, and
reports per method and N: throughput (completion tokens per second over the
whole run), time to first token and inter-token latency (p50, p99), and the
requests that failed. Writes OUT/serve.json, OUT/serve.md (the table) and
OUT/serve.png (throughput and latency against N). Every loop is bounded: the
requests per client, each request's time (--timeout) and the whole run.

  python3 bench/serve_bench.py --model ../shared/data/models/stories260k-f32.gguf \
      --out bench/data/serve-cpu [--clients 1 4 16] [--requests 4] [--max-tokens 64]
      [--methods dense hip] [--backend cpu] [-- extra hipattn serve options]
"""
import argparse
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

PROMPTS = [
    "Once upon a time, there was a little girl named",
    "One day, a big dog went to the park and",
    "Tom and his friend found a box. Inside the box",
    "The sun was shining and the birds were singing. Lily",
]


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def start_server(hipattn, model, method, backend, max_batch, ctx, extra):
    cmd = [hipattn, "serve", "--model", model, "--port", "0", "--method", method,
           "--backend", backend, "--max-batch", str(max_batch), "--max-queue", "256",
           "--ctx", str(ctx)] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on http://127.0.0.1:"):
        proc.kill()
        raise RuntimeError("server did not start: " + line + proc.stderr.read())
    return proc, int(line.split("127.0.0.1:")[1].split()[0])


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def model_id(port):
    """The id of the model the server serves (GET /v1/models)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/v1/models")
    models = json.loads(conn.getresponse().read())["data"]
    conn.close()
    return models[0]["id"]


def stream_completion(port, model, prompt, max_tokens, timeout):
    """One streaming completion: (start time, arrival times of its tokens)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens,
                       "temperature": 0, "stream": True})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}: {resp.read()[:200]!r}")
    times = []
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        event = json.loads(data)
        if event.get("choices") and event["choices"][0].get("text"):
            times.append(time.perf_counter())
    conn.close()
    return t0, times


def run_level(port, model, clients, requests, max_tokens, timeout):
    ttft, itl, tokens, failures = [], [], [0], []
    lock = threading.Lock()

    def client(c):
        for r in range(requests):
            try:
                t0, times = stream_completion(port, model, PROMPTS[(c + r) % len(PROMPTS)],
                                              max_tokens, timeout)
            except Exception as e:  # noqa: BLE001 (counted and reported)
                with lock:
                    failures.append(str(e))
                continue
            with lock:
                if times:
                    ttft.append(times[0] - t0)
                    itl.extend(b - a for a, b in zip(times, times[1:]))
                tokens[0] += len(times)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout * requests + 30)
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": clients * requests,
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "tokens": tokens[0],
        "wall_s": wall,
        "tokens_per_s": tokens[0] / wall if wall > 0 else 0.0,
        "ttft_ms_p50": 1e3 * percentile(ttft, 50),
        "ttft_ms_p99": 1e3 * percentile(ttft, 99),
        "itl_ms_p50": 1e3 * percentile(itl, 50),
        "itl_ms_p99": 1e3 * percentile(itl, 99),
    }


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("serve_bench: matplotlib not installed, no plot", file=sys.stderr)
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for i, (method, rows) in enumerate(results.items()):
        n = [r["clients"] for r in rows]
        color = f"C{i}"
        a.plot(n, [r["tokens_per_s"] for r in rows], marker="o", color=color, label=method)
        b.plot(n, [r["itl_ms_p50"] for r in rows], marker="o", color=color, label=f"{method} p50")
        b.plot(n, [r["itl_ms_p99"] for r in rows], marker="x", linestyle="--", color=color,
               label=f"{method} p99")
    for ax, title, unit in ((a, "throughput", "completion tokens / s"),
                            (b, "inter-token latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent streaming clients")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hipattn", default=str(ROOT / "build" / "bin" / "hipattn"))
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--methods", nargs="+", default=["dense", "hip"])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("extra", nargs="*", help="more hipattn serve options (after --)")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"serve_bench: model {args.model} not found")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for method in args.methods:
        proc, port = start_server(args.hipattn, args.model, method, args.backend,
                                  max(args.clients), args.ctx, args.extra)
        try:
            model = model_id(port)
            for prompt in PROMPTS:  # warm-up: every kernel variant the prompts need compiles
                stream_completion(port, model, prompt, args.max_tokens, args.timeout)
            results[method] = [
                run_level(port, model, n, args.requests, args.max_tokens, args.timeout)
                for n in args.clients]
        finally:
            stop_server(proc)
    meta = {"model": os.path.basename(args.model), "backend": args.backend,
            "max_tokens": args.max_tokens, "requests_per_client": args.requests,
            "ctx": args.ctx, "max_batch": max(args.clients), "extra": args.extra}
    (out / "serve.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = [f"`hipattn serve` ({meta['model']}, backend {args.backend}, --max-batch "
             f"{meta['max_batch']}; each client {args.requests} streaming completions of "
             f"{args.max_tokens} tokens, greedy)", "",
             "| method | clients | tokens/s | TTFT p50 / p99 (ms) | inter-token p50 / p99 (ms) "
             "| failed |", "|---|---:|---:|---:|---:|---:|"]
    for method, rows in results.items():
        for r in rows:
            lines.append(f"| {method} | {r['clients']} | {r['tokens_per_s']:.1f} | "
                         f"{r['ttft_ms_p50']:.1f} / {r['ttft_ms_p99']:.1f} | "
                         f"{r['itl_ms_p50']:.2f} / {r['itl_ms_p99']:.2f} | {r['failed']} |")
    (out / "serve.md").write_text("\n".join(lines) + "\n")
    plot(results, out / "serve.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
