//===- tools/hipattn_serve.cpp - `hipattn serve`: an OpenAI-compatible server -===//
//
// An HTTP server (cpp-httplib) speaking the OpenAI completions and chat API
// over one GGUF Llama model. Requests wait in a bounded queue; one scheduler
// thread owns the model and runs the active requests (at most --max-batch)
// one step each in turn, so requests join and leave between steps (each
// step runs its sequences one after another: no batched kernels yet). HTTP
// handler threads only parse, wait for tokens and write them out.
//
//===----------------------------------------------------------------------===//
#include "hip/error.h"
#include "hip/model/llama.h"

#include "model_cli.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace hip::tools {

extern const char *kServeHelp;
const char *kServeHelp = R"(usage: hipattn serve --model F [options]

Serves a Llama-architecture GGUF model over HTTP with the OpenAI API:
  GET  /v1/models, POST /v1/completions, POST /v1/chat/completions
       (max_tokens, temperature, top_p, seed, stop, stream as server-sent
       events, usage counts; n must be 1)
  GET  /health, GET /metrics (Prometheus text)
Errors come as OpenAI error objects: 400 (malformed body, a field of the
wrong type or range, a prompt over the context), 404 (unknown model or
route), 503 (queue full, or shutting down). SIGINT/SIGTERM stop accepting
requests, finish the running ones and exit.

Chat prompts use ChatML (<|im_start|>role\ncontent<|im_end|>) when the
vocabulary has those tokens, else "role: content" lines followed by
"assistant:" (the GGUF's Jinja chat template is not evaluated).

  --model F            GGUF file (architecture llama)
  --host H             address to listen on (default 127.0.0.1)
  --port P             port (default 8080; 0: any free port); the server
                       prints "listening on http://H:P" when it is ready
  --max-batch N        requests generating at once (default 4)
  --max-queue N        requests waiting beyond those (default 64)
  --ctx N              prompt + completion tokens per request (default 2048)
  --method M           dense (default), hip or streaming
  --backend B          cpu (default), cuda or auto
  --refresh-interval N, --linears L and the HiP options as for 'hipattn generate'
)";

namespace {

using json = nlohmann::json;
using namespace hip::model;
using Clock = std::chrono::steady_clock;

/// An error answered in the OpenAI error format.
struct ApiError {
  int status;
  std::string message, type = "invalid_request_error", param, code;
};

[[noreturn]] void reject(int status, const std::string &msg, const std::string &param = "",
                         const std::string &code = "") {
  throw ApiError{status, msg,
                 status == 404 ? "not_found_error"
                 : status >= 500 ? "server_error"
                                 : "invalid_request_error",
                 param, code};
}

json errorBody(const ApiError &e) {
  json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return {{"error", err}};
}

/// One request: what to generate, and its progress (guarded by `mu`), which
/// the scheduler writes and the request's HTTP thread reads.
struct Job {
  std::vector<int32_t> prompt;
  int64_t maxTokens = 16;
  float temperature = 1;
  double topP = 1;
  std::vector<std::string> stops;
  int32_t stopToken = -1; // ends the completion like EOS (chat: <|im_end|>)
  std::mt19937_64 rng;

  std::mutex mu;
  std::condition_variable cv;
  std::string text;     // generated so far (cut at a stop sequence)
  size_t safe = 0;      // bytes of `text` no stop sequence can still take back
  bool done = false;
  std::string finish;   // "stop" or "length"
  std::string error;    // a failure in the model
  int64_t tokens = 0;   // completion tokens
  std::atomic<bool> cancelled{false};

  // The scheduler's own state.
  std::unique_ptr<LlamaSession> session;
  int32_t last = -1; // the token to feed next (-1: prefill first)
  Clock::time_point start, lastToken;
};

struct Metrics {
  std::atomic<int64_t> requests{0}, failed{0}, promptTokens{0}, completionTokens{0};
  std::atomic<int64_t> batch{0}, queued{0};
  std::mutex mu;
  double ttftSum = 0, itlSum = 0;
  int64_t ttftCount = 0, itlCount = 0;
};

/// Owns the model; runs the active jobs one step each in turn.
class Scheduler {
public:
  Scheduler(std::shared_ptr<const LlamaModel> m, AttentionOptions opt, size_t maxBatch,
            size_t maxQueue, Metrics &metrics)
      : m_(std::move(m)), opt_(std::move(opt)), maxBatch_(maxBatch), maxQueue_(maxQueue),
        metrics_(metrics), thread_([this] { loop(); }) {}
  ~Scheduler() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  /// Queues a job; false when the queue is full or the server is draining.
  bool submit(const std::shared_ptr<Job> &j) {
    std::lock_guard<std::mutex> g(mu_);
    if (draining_ || queue_.size() >= maxQueue_) return false;
    j->start = Clock::now();
    queue_.push_back(j);
    metrics_.queued = int64_t(queue_.size());
    cv_.notify_all();
    return true;
  }
  /// Refuses new jobs and waits (at most `limit`) until the queued and
  /// running ones are done.
  void drain(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> g(mu_);
    draining_ = true;
    auto idle = [&] { return queue_.empty() && active_.empty(); };
    if (idle_.wait_for(g, limit, idle)) return;
    for (auto &j : queue_) j->cancelled = true; // (past the limit: each ends at its next step)
    for (auto &j : active_) j->cancelled = true;
    cv_.notify_all();
    idle_.wait_for(g, std::chrono::seconds(10), idle);
  }
  bool draining() {
    std::lock_guard<std::mutex> g(mu_);
    return draining_;
  }

private:
  void loop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> g(mu_);
        if (active_.empty() && queue_.empty()) idle_.notify_all();
        cv_.wait(g, [&] { return stop_ || !queue_.empty() || !active_.empty(); });
        if (stop_) return;
        while (active_.size() < maxBatch_ && !queue_.empty()) { // join between steps
          active_.push_back(queue_.front());
          queue_.pop_front();
        }
        metrics_.queued = int64_t(queue_.size());
        metrics_.batch = int64_t(active_.size());
      }
      std::vector<std::shared_ptr<Job>> still;
      for (auto &j : active_)
        if (step(*j)) still.push_back(j);
      std::lock_guard<std::mutex> g(mu_);
      active_ = std::move(still);
      metrics_.batch = int64_t(active_.size());
    }
  }

  void end(Job &j, const std::string &finish, const std::string &error = "") {
    std::lock_guard<std::mutex> g(j.mu);
    j.done = true;
    j.finish = finish;
    j.error = error;
    j.safe = j.text.size();
    j.session.reset();
    j.cv.notify_all();
  }

  /// One token of `j`; false when `j` is done.
  bool step(Job &j) {
    if (j.cancelled) return end(j, "cancelled"), false;
    if (j.maxTokens == 0) return end(j, "length"), false;
    try {
      std::vector<float> logits;
      if (j.last < 0) {
        j.session = std::make_unique<LlamaSession>(m_, opt_);
        logits = j.session->feed(j.prompt);
        metrics_.promptTokens += int64_t(j.prompt.size());
        j.last = j.prompt.back();
      } else {
        logits = j.session->feed({j.last});
      }
      std::uniform_real_distribution<double> uni(0, 1);
      int32_t id = pickToken(logits, j.temperature, uni(j.rng), j.topP);
      auto now = Clock::now();
      {
        std::lock_guard<std::mutex> g(metrics_.mu);
        double dt = std::chrono::duration<double>(now - (j.tokens ? j.lastToken : j.start)).count();
        (j.tokens ? metrics_.itlSum : metrics_.ttftSum) += dt;
        ++(j.tokens ? metrics_.itlCount : metrics_.ttftCount);
      }
      j.lastToken = now;
      const Tokenizer &tok = m_->tokenizer();
      if (id == tok.eos() || id == j.stopToken) return end(j, "stop"), false;
      std::string piece = tok.decodeToken(id, j.last);
      j.last = id;
      ++metrics_.completionTokens;
      std::lock_guard<std::mutex> g(j.mu);
      ++j.tokens;
      j.text += piece;
      // The earliest stop sequence ends the text; until then, the last
      // (longest stop - 1) bytes may still turn out to start one.
      size_t cut = std::string::npos, hold = 0;
      for (const std::string &s : j.stops) {
        cut = std::min(cut, j.text.find(s));
        hold = std::max(hold, s.size() - 1);
      }
      if (cut != std::string::npos) {
        j.text.resize(cut);
        j.done = true, j.finish = "stop";
      } else if (j.tokens >= j.maxTokens) {
        j.done = true, j.finish = "length";
      }
      j.safe = j.done ? j.text.size() : j.text.size() - std::min(hold, j.text.size());
      if (j.done) j.session.reset();
      j.cv.notify_all();
      return !j.done;
    } catch (const std::exception &e) {
      end(j, "error", e.what());
      return false;
    }
  }

  std::shared_ptr<const LlamaModel> m_;
  AttentionOptions opt_;
  size_t maxBatch_, maxQueue_;
  Metrics &metrics_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> active_;
  bool stop_ = false, draining_ = false;
  std::thread thread_; // (last: starts once the rest is built)
};

// ---- Request bodies ------------------------------------------------------------------------

const json *field(const json &body, const char *key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const json &body, const char *key, double fallback, double lo, double hi) {
  const json *v = field(body, key);
  if (!v) return fallback;
  if (!v->is_number()) reject(400, std::string("'") + key + "' must be a number", key);
  double x = v->get<double>();
  if (!(x >= lo && x <= hi))
    reject(400, std::string("'") + key + "' must be in [" + json(lo).dump() + ", " +
                    json(hi).dump() + "], got " + v->dump(),
           key);
  return x;
}

int64_t integer(const json &body, const char *key, int64_t fallback, int64_t lo) {
  const json *v = field(body, key);
  if (!v) return fallback;
  if (!v->is_number_integer()) reject(400, std::string("'") + key + "' must be an integer", key);
  int64_t x = v->get<int64_t>();
  if (x < lo)
    reject(400, std::string("'") + key + "' must be >= " + std::to_string(lo) + ", got " +
                    std::to_string(x),
           key);
  return x;
}

std::string text(const json &v, const char *key) {
  if (!v.is_string()) reject(400, std::string("'") + key + "' must be a string", key);
  return v.get<std::string>();
}

struct Server {
  std::shared_ptr<const LlamaModel> model;
  std::string modelId;
  int64_t ctx;
  Metrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  std::atomic<int64_t> nextId{1};

  json parseBody(const httplib::Request &req) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) reject(400, "the request body is not valid JSON");
    if (!body.is_object()) reject(400, "the request body must be a JSON object");
    const json *m = field(body, "model");
    if (!m) reject(400, "'model' is required", "model");
    std::string name = text(*m, "model");
    if (name != modelId)
      reject(404, "The model '" + name + "' does not exist (this server has '" + modelId + "')",
             "model", "model_not_found");
    return body;
  }

  /// The sampling fields shared by both endpoints.
  std::shared_ptr<Job> jobFrom(const json &body, std::vector<int32_t> prompt, int64_t defaultMax) {
    if (integer(body, "n", 1, 1) != 1) reject(400, "only n = 1 is supported", "n");
    auto j = std::make_shared<Job>();
    j->prompt = std::move(prompt);
    if (j->prompt.empty()) reject(400, "the prompt is empty", "prompt");
    int64_t room = ctx - int64_t(j->prompt.size());
    if (room < 0)
      reject(400,
             "the prompt has " + std::to_string(j->prompt.size()) +
                 " tokens, more than this server's context of " + std::to_string(ctx),
             "prompt", "context_length_exceeded");
    j->maxTokens = integer(body, "max_tokens", std::min(defaultMax, room), 0);
    if (j->maxTokens > room)
      reject(400,
             "max_tokens " + std::to_string(j->maxTokens) + " + the prompt's " +
                 std::to_string(j->prompt.size()) + " tokens exceed the context of " +
                 std::to_string(ctx),
             "max_tokens", "context_length_exceeded");
    j->temperature = float(number(body, "temperature", 1, 0, 2));
    j->topP = number(body, "top_p", 1, 0, 1);
    if (j->topP <= 0) reject(400, "'top_p' must be > 0", "top_p");
    j->rng.seed(uint64_t(integer(body, "seed", int64_t(std::random_device{}() >> 1), INT64_MIN)));
    if (const json *s = field(body, "stop")) {
      if (s->is_string()) j->stops.push_back(s->get<std::string>());
      else if (s->is_array() && s->size() <= 4)
        for (const json &e : *s) j->stops.push_back(text(e, "stop"));
      else reject(400, "'stop' must be a string or an array of at most 4 strings", "stop");
      for (const std::string &x : j->stops)
        if (x.empty()) reject(400, "'stop' sequences must not be empty", "stop");
    }
    return j;
  }

  bool stream(const json &body) {
    const json *s = field(body, "stream");
    if (!s) return false;
    if (!s->is_boolean()) reject(400, "'stream' must be a boolean", "stream");
    return s->get<bool>();
  }

  std::vector<int32_t> completionPrompt(const json &body) {
    const json *p = field(body, "prompt");
    if (!p) reject(400, "'prompt' is required", "prompt");
    const Tokenizer &tok = model->tokenizer();
    if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
    if (p->is_string()) {
      std::string s = p->get<std::string>();
      return tok.encode(s, tok.addBos() || s.empty()); // (as 'hipattn generate')
    }
    if (p->is_array() && !p->empty()) { // token ids
      std::vector<int32_t> ids;
      for (const json &e : *p) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= tok.vocabSize())
          reject(400, "'prompt' token ids must be integers in [0, " +
                          std::to_string(tok.vocabSize()) + ")",
                 "prompt");
        ids.push_back(int32_t(e.get<int64_t>()));
      }
      return ids;
    }
    reject(400, "'prompt' must be a string, an array of one string or an array of token ids",
           "prompt");
  }

  /// ChatML when the vocabulary has its tokens, else "role: content" lines.
  std::vector<int32_t> chatPrompt(const json &body, int32_t &stopToken) {
    const json *ms = field(body, "messages");
    if (!ms || !ms->is_array() || ms->empty())
      reject(400, "'messages' must be a non-empty array", "messages");
    const Tokenizer &tok = model->tokenizer();
    int32_t start = tok.find("<|im_start|>"), endTok = tok.find("<|im_end|>");
    std::vector<int32_t> ids;
    std::string plain;
    if (start < 0 || endTok < 0) ids = tok.encode("", tok.addBos()); // (BOS when asked for)
    auto append = [&](const std::vector<int32_t> &x) { ids.insert(ids.end(), x.begin(), x.end()); };
    for (const json &m : *ms) {
      if (!m.is_object()) reject(400, "each message must be an object", "messages");
      const json *r = field(m, "role"), *c = field(m, "content");
      if (!r || !c) reject(400, "each message needs 'role' and 'content'", "messages");
      std::string role = text(*r, "role"), content;
      if (role != "system" && role != "user" && role != "assistant")
        reject(400, "'role' must be system, user or assistant, got '" + role + "'", "messages");
      if (c->is_string()) {
        content = c->get<std::string>();
      } else if (c->is_array()) { // [{"type": "text", "text": ...}, ...]
        for (const json &part : *c) {
          const json *t = part.is_object() ? field(part, "text") : nullptr;
          if (!t) reject(400, "only text content parts are supported", "messages");
          content += text(*t, "text");
        }
      } else {
        reject(400, "'content' must be a string or an array of text parts", "messages");
      }
      if (start >= 0 && endTok >= 0) {
        ids.push_back(start);
        append(tok.encode(role + "\n" + content, false));
        ids.push_back(endTok);
        append(tok.encode("\n", false));
      } else {
        plain += role + ": " + content + "\n";
      }
    }
    if (start >= 0 && endTok >= 0) {
      ids.push_back(start);
      append(tok.encode("assistant\n", false));
      stopToken = endTok;
    } else {
      append(tok.encode(plain + "assistant:", false));
    }
    return ids;
  }

  json usage(const Job &j) const {
    return {{"prompt_tokens", j.prompt.size()},
            {"completion_tokens", j.tokens},
            {"total_tokens", int64_t(j.prompt.size()) + j.tokens}};
  }

  void run(const httplib::Request &req, httplib::Response &res, bool chat) {
    json body = parseBody(req);
    int32_t stopToken = -1;
    std::vector<int32_t> prompt = chat ? chatPrompt(body, stopToken) : completionPrompt(body);
    auto j = jobFrom(body, std::move(prompt), chat ? ctx : 16);
    j->stopToken = stopToken;
    bool streaming = stream(body);
    if (!scheduler->submit(j))
      reject(503, scheduler->draining() ? "the server is shutting down"
                                        : "the request queue is full; try again later");
    ++metrics.requests;
    std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(nextId++);
    int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    json head = {{"id", id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", created},
                 {"model", modelId}};
    if (!streaming) {
      std::unique_lock<std::mutex> g(j->mu);
      j->cv.wait(g, [&] { return j->done; });
      if (!j->error.empty()) reject(500, "generation failed: " + j->error);
      json choice = {{"index", 0}, {"finish_reason", j->finish}};
      if (chat) choice["message"] = {{"role", "assistant"}, {"content", j->text}};
      else choice["text"] = j->text, choice["logprobs"] = nullptr;
      json out = head;
      out["choices"] = json::array({choice});
      out["usage"] = usage(*j);
      res.set_content(out.dump(), "application/json");
      return;
    }
    head["object"] = chat ? "chat.completion.chunk" : "text_completion";
    auto sent = std::make_shared<size_t>(0);
    auto first = std::make_shared<bool>(true);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, j, head, chat, sent, first](size_t, httplib::DataSink &sink) {
          std::unique_lock<std::mutex> g(j->mu);
          j->cv.wait(g, [&] { return j->done || j->safe > *sent; });
          auto event = [&](const json &delta, const json &finish) {
            json c = head;
            json choice = {{"index", 0}, {"finish_reason", finish}};
            if (chat) choice["delta"] = delta;
            else choice["text"] = delta.value("content", ""), choice["logprobs"] = nullptr;
            c["choices"] = json::array({choice});
            if (!finish.is_null()) c["usage"] = usage(*j);
            std::string s = "data: " + c.dump() + "\n\n";
            return sink.write(s.data(), s.size());
          };
          bool ok = true;
          if (*first && chat) ok = event({{"role", "assistant"}, {"content", ""}}, nullptr);
          *first = false;
          if (ok && j->safe > *sent) {
            ok = event({{"content", j->text.substr(*sent, j->safe - *sent)}}, nullptr);
            *sent = j->safe;
          }
          if (!ok) { // the client went away: free its slot
            j->cancelled = true;
            return false;
          }
          if (j->done) {
            if (j->error.empty()) event(json::object(), j->finish);
            else event(json::object(), "error");
            const char *done = "data: [DONE]\n\n";
            sink.write(done, std::strlen(done));
            sink.done();
          }
          return true;
        },
        [j](bool) { j->cancelled = true; }); // (no effect once done)
  }

  std::string prometheus() {
    std::string s;
    auto line = [&](const char *name, const char *type, const char *help, double v) {
      char num[32];
      std::snprintf(num, sizeof num, "%.10g", v);
      s += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + num + "\n";
    };
    line("hipattn_requests_total", "counter", "Generation requests accepted.",
         double(metrics.requests));
    line("hipattn_requests_failed_total", "counter", "Requests answered with an error.",
         double(metrics.failed));
    line("hipattn_prompt_tokens_total", "counter", "Prompt tokens prefilled.",
         double(metrics.promptTokens));
    line("hipattn_generated_tokens_total", "counter", "Completion tokens generated.",
         double(metrics.completionTokens));
    line("hipattn_batch_size", "gauge", "Requests generating now.", double(metrics.batch));
    line("hipattn_queue_length", "gauge", "Requests waiting.", double(metrics.queued));
    std::lock_guard<std::mutex> g(metrics.mu);
    line("hipattn_time_to_first_token_seconds_sum", "counter",
         "Queueing, prefill and first token, summed.", metrics.ttftSum);
    line("hipattn_time_to_first_token_seconds_count", "counter", "First tokens.",
         double(metrics.ttftCount));
    line("hipattn_inter_token_latency_seconds_sum", "counter", "Time between tokens, summed.",
         metrics.itlSum);
    line("hipattn_inter_token_latency_seconds_count", "counter", "Tokens after the first.",
         double(metrics.itlCount));
    return s;
  }
};

std::atomic<int> gSignal{0};
void onSignal(int sig) { gSignal = sig; }

} // namespace

int cmdServe(const std::vector<std::string> &args) {
  Flags o = parseFlags(args, {"--model", "--host", "--port", "--max-batch", "--max-queue", "--ctx",
                              "--refresh-interval"});
  if (!o.positional.empty()) throw InvalidArgument("serve takes no positional arguments");
  int64_t port = o.num("--port", 8080), maxBatch = o.num("--max-batch", 4),
          maxQueue = o.num("--max-queue", 64);
  if (port < 0 || port > 65535) throw InvalidArgument("--port must be in [0, 65535]");
  if (maxBatch < 1 || maxQueue < 0) throw InvalidArgument("--max-batch must be >= 1, --max-queue >= 0");
  Server srv;
  srv.ctx = o.num("--ctx", 2048);
  if (srv.ctx < 1) throw InvalidArgument("--ctx must be >= 1");
  AttentionOptions a = attentionOptions(o);
  std::string path = o.need("--model");
  srv.model = LlamaModel::load(path);
  srv.modelId = std::filesystem::path(path).stem().string();
  srv.scheduler =
      std::make_unique<Scheduler>(srv.model, a, size_t(maxBatch), size_t(maxQueue), srv.metrics);

  httplib::Server http;
  // A thread per connection that may wait on a request (streams hold theirs).
  size_t threads = size_t(std::min<int64_t>(maxBatch + maxQueue + 4, 256));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, with which a
  // second server on a port in use binds too and silently shares it.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto guarded = [&](auto &&fn) {
    return [&, fn](const httplib::Request &req, httplib::Response &res) {
      try {
        fn(req, res);
      } catch (const ApiError &e) {
        ++srv.metrics.failed;
        res.status = e.status;
        res.set_content(errorBody(e).dump(), "application/json");
      } catch (const std::exception &e) {
        ++srv.metrics.failed;
        res.status = 500;
        res.set_content(errorBody({500, e.what(), "server_error"}).dump(), "application/json");
      }
    };
  };
  http.Get("/health", [&](const httplib::Request &, httplib::Response &res) {
    res.set_content(json{{"status", srv.scheduler->draining() ? "draining" : "ok"}}.dump(),
                    "application/json");
  });
  http.Get("/metrics", [&](const httplib::Request &, httplib::Response &res) {
    res.set_content(srv.prometheus(), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [&](const httplib::Request &, httplib::Response &res) {
    json m = {{"id", srv.modelId}, {"object", "model"}, {"created", 0}, {"owned_by", "hip-attention"}};
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });
  http.Post("/v1/completions",
            guarded([&](const httplib::Request &q, httplib::Response &r) { srv.run(q, r, false); }));
  http.Post("/v1/chat/completions",
            guarded([&](const httplib::Request &q, httplib::Response &r) { srv.run(q, r, true); }));
  http.set_error_handler([&](const httplib::Request &req, httplib::Response &res) {
    if (res.status != 404 || !res.body.empty()) return;
    res.set_content(errorBody({404, "no route " + req.method + " " + req.path, "not_found_error"})
                        .dump(),
                    "application/json");
  });

  std::string host = o.str("--host", "127.0.0.1");
  int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, int(port)) ? int(port) : -1);
  if (bound < 0) throw RuntimeError("serve: cannot listen on " + host + ":" + std::to_string(port));
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::atomic<bool> listening{true};
  std::thread watcher([&] { // a signal: refuse new requests, finish the others, stop
    while (!gSignal && listening) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    srv.scheduler->drain(std::chrono::seconds(60));
    http.stop();
  });
  std::printf("listening on http://%s:%d (model %s, %s, %s)\n", host.c_str(), bound,
              srv.modelId.c_str(), describe(a).c_str(), a.backend == ComputeBackend::CUDA ? "cuda" : "cpu");
  std::fflush(stdout);
  bool ok = http.listen_after_bind();
  listening = false;
  watcher.join();
  if (!ok && !gSignal) throw RuntimeError("serve: the HTTP server stopped unexpectedly");
  std::fprintf(stderr, "hipattn serve: stopped (signal %d)\n", int(gSignal));
  return 0;
}

} // namespace hip::tools
