"""`hipattn serve` driven by the real `openai` client (and raw HTTP for what the
client hides): models, completions, chat, streaming, concurrent clients each
getting its own greedy text (equal to `hipattn generate`), errors with their
status and OpenAI error body, a client leaving mid-stream, clean shutdown.

The server runs on 127.0.0.1 on a free port with stories260K on the CPU
backend; every request loop is bounded in count and time. Without the model
(HIP_DATA_DIR, default ../shared/data) the module is skipped with a reason,
which `run_serve_tests.py` turns into a skipped ctest.
"""
import http.client
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HIPATTN = os.environ.get("HIPATTN", str(ROOT / "build" / "bin" / "hipattn"))
DATA = pathlib.Path(os.environ.get("HIP_DATA_DIR", ROOT.parent / "shared" / "data"))
MODEL = DATA / "models" / "stories260k-f32.gguf"
MODEL_ID = "stories260k-f32"

if not MODEL.exists():
    pytest.skip(f"model {MODEL} not found (set HIP_DATA_DIR)", allow_module_level=True)
openai = pytest.importorskip("openai")


def generate(prompt, n):
    """The greedy text `hipattn generate` prints after the prompt."""
    out = subprocess.run([HIPATTN, "generate", "--model", str(MODEL), "--prompt", prompt,
                          "--max-tokens", str(n)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert out.startswith(prompt)
    return out[len(prompt):].rstrip("\n")


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([HIPATTN, "serve", "--model", str(MODEL), "--port", "0",
                             "--max-batch", "3", "--max-queue", "8", "--ctx", "256"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "listening on http://127.0.0.1:PORT (...)"
    assert line.startswith("listening on http://127.0.0.1:"), line + proc.stderr.read()
    port = int(line.split("127.0.0.1:")[1].split()[0])
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{server[1]}/v1", api_key="none",
                         timeout=60, max_retries=0)


def raw(port, method, path, body=None):
    """(status, parsed JSON body) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = r.status, json.loads(r.read() or b"null")
    conn.close()
    return out


def test_models_and_health(server, client):
    assert [m.id for m in client.models.list().data] == [MODEL_ID]
    assert raw(server[1], "GET", "/health") == (200, {"status": "ok"})


def test_completion_equals_generate(client):
    want = generate("Once upon a time", 24)
    r = client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=24,
                                  temperature=0)
    assert r.choices[0].text == want
    assert r.choices[0].finish_reason == "length"
    assert (r.usage.completion_tokens, r.usage.total_tokens) == (24, r.usage.prompt_tokens + 24)


def test_streaming_equals_plain(client):
    plain = client.completions.create(model=MODEL_ID, prompt="The dog", max_tokens=16,
                                      temperature=0).choices[0].text
    pieces, finish = [], None
    for chunk in client.completions.create(model=MODEL_ID, prompt="The dog", max_tokens=16,
                                           temperature=0, stream=True):
        pieces.append(chunk.choices[0].text)
        finish = chunk.choices[0].finish_reason or finish
    assert "".join(pieces) == plain
    assert finish == "length"


def test_stop_sequence(client):
    full = client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=24,
                                     temperature=0).choices[0].text
    stop = full.split()[3]  # a word in the middle
    r = client.completions.create(model=MODEL_ID, prompt="Once upon a time", max_tokens=24,
                                  temperature=0, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == full[:full.index(stop)]


def test_chat_and_chat_stream(client):
    msgs = [{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "A cat"}]
    r = client.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=12, temperature=0)
    text = r.choices[0].message.content
    assert r.choices[0].message.role == "assistant" and len(text) > 0
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=MODEL_ID, messages=msgs, max_tokens=12, temperature=0, stream=True))
    assert streamed == text


def test_sampling_is_seeded(client):
    def once():
        return client.completions.create(model=MODEL_ID, prompt="Once", max_tokens=12,
                                         temperature=0.9, top_p=0.9, seed=7).choices[0].text
    assert once() == once()


def test_concurrent_clients_each_get_their_text(client):
    prompts = ["Once upon a time", "The little bird", "Tom and Sue", "One day", "The sun"]
    want = {p: generate(p, 20) for p in prompts}
    got, errors = {}, []

    def ask(p):
        try:
            got[p] = client.completions.create(model=MODEL_ID, prompt=p, max_tokens=20,
                                               temperature=0).choices[0].text
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=ask, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and got == want


def test_errors_have_status_and_body_and_the_server_goes_on(server, client):
    port = server[1]
    cases = [
        ("POST", "/v1/completions", b"{not json", 400),
        ("POST", "/v1/completions", {"model": MODEL_ID, "prompt": "a", "max_tokens": "x"}, 400),
        ("POST", "/v1/completions", {"model": MODEL_ID, "prompt": 5}, 400),
        ("POST", "/v1/completions", {"model": MODEL_ID, "prompt": "a", "temperature": 9}, 400),
        ("POST", "/v1/completions", {"model": MODEL_ID, "prompt": "a", "n": 2}, 400),
        ("POST", "/v1/completions", {"model": MODEL_ID, "prompt": "word " * 400}, 400),
        ("POST", "/v1/completions", {"model": "gpt-4", "prompt": "a"}, 404),
        ("POST", "/v1/chat/completions", {"model": MODEL_ID, "messages": []}, 400),
        ("POST", "/v1/chat/completions", {"model": MODEL_ID, "messages": [{"role": "x"}]}, 400),
        ("GET", "/v1/nothing", None, 404),
    ]
    for method, path, body, status in cases:
        got, err = raw(port, method, path, body)
        assert got == status, (path, body, err)
        assert isinstance(err["error"]["message"], str) and err["error"]["type"], err
        assert client.models.list().data[0].id == MODEL_ID  # still answering
    over = raw(port, "POST", "/v1/completions", {"model": MODEL_ID, "prompt": "word " * 400})[1]
    assert over["error"]["code"] == "context_length_exceeded"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="a")


def test_client_leaving_mid_stream_frees_its_slot(server, client):
    port = server[1]
    before = raw_metrics(port)["hipattn_generated_tokens_total"]
    for _ in range(4):  # more than --max-batch 3: each must give its slot back
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/completions", body=json.dumps(
            {"model": MODEL_ID, "prompt": "Once", "max_tokens": 240, "temperature": 0,
             "stream": True}), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        assert r.read1(64).startswith(b"data: ")  # one event, then hang up
        conn.sock.close()
        conn.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        metrics = raw_metrics(port)
        if metrics["hipattn_batch_size"] == 0 and metrics["hipattn_queue_length"] == 0:
            break
        time.sleep(0.2)
    assert metrics["hipattn_batch_size"] == 0, metrics
    # (each stopped early: far fewer than 4 x 240 tokens)
    assert metrics["hipattn_generated_tokens_total"] - before < 4 * 240 * 3 / 4, metrics
    r = client.completions.create(model=MODEL_ID, prompt="Once", max_tokens=4, temperature=0)
    assert r.usage.completion_tokens == 4


def raw_metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_metrics_count_the_work(server):
    m = raw_metrics(server[1])
    assert m["hipattn_requests_total"] >= 10 and m["hipattn_generated_tokens_total"] >= 100
    assert m["hipattn_time_to_first_token_seconds_count"] >= 10


def test_a_port_in_use_is_refused(server):
    r = subprocess.run([HIPATTN, "serve", "--model", str(MODEL), "--port", str(server[1])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot listen on 127.0.0.1:" in r.stderr, r.stderr


def test_sigterm_drains_and_exits(server, client):
    proc, port = server
    results = []
    t = threading.Thread(target=lambda: results.append(client.completions.create(
        model=MODEL_ID, prompt="Once", max_tokens=40, temperature=0).usage.completion_tokens))
    t.start()
    time.sleep(0.3)  # in flight when the signal comes
    proc.send_signal(signal.SIGTERM)
    t.join(timeout=60)
    assert proc.wait(timeout=60) == 0
    assert results == [40]  # the running request was finished, not cut
