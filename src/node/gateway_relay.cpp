// Completions through the gateway: validate, fix the seed, route, pay, forward with a signed
// X-Dgrid-Auth, relay (SSE chunk by chunk when streaming), fail over before the first token,
// and verify and store the receipt that comes back (docs/protocol.md "Gateway endpoints").
#include <spdlog/spdlog.h>

#include <charconv>

#include "net/openai.hpp"
#include "net/sse.hpp"
#include "node/gateway_impl.hpp"

namespace dgrid::node {

namespace {

constexpr std::chrono::milliseconds kJobTimeout{600'000};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The gateway cannot tokenize for every model, so it bounds the prompt from above: a token
// covers at least one byte, plus room for a BOS token and a chat template's markup.
uint64_t prompt_token_bound(const net::CompletionRequest& r) {
  if (!r.chat) return r.prompt.size() + 8;
  uint64_t n = 16;
  for (const auto& m : r.messages) n += m.content.size() + m.role.size() + 16;
  return n;
}

// The provider's error object, if its body has one.
struct UpstreamError {
  int status = 0;
  std::string message;
  std::string type;
  std::string code;
};

UpstreamError upstream_error(int status, std::string_view body) {
  UpstreamError e;
  e.status = status;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& o = j["error"];
    if (o.contains("message") && o["message"].is_string()) e.message = o["message"].get<std::string>();
    if (o.contains("type") && o["type"].is_string()) e.type = o["type"].get<std::string>();
    if (o.contains("code") && o["code"].is_string()) e.code = o["code"].get<std::string>();
  }
  if (e.message.empty()) e.message = "HTTP " + std::to_string(status);
  return e;
}

// Does a chunk carry generated text (the first token, for failover and time to first token)?
bool chunk_has_token(const nlohmann::json& chunk) {
  auto it = chunk.find("choices");
  if (it == chunk.end() || !it->is_array()) return false;
  for (const auto& c : *it) {
    if (!c.is_object()) continue;
    if (auto t = c.find("text"); t != c.end() && t->is_string() && !t->get_ref<const std::string&>().empty()) return true;
    if (auto d = c.find("delta"); d != c.end() && d->is_object()) {
      if (auto t = d->find("content"); t != d->end() && t->is_string() && !t->get_ref<const std::string&>().empty())
        return true;
    }
  }
  return false;
}

std::string error_chunk(std::string message, std::string type, std::string code) {
  nlohmann::json j = {{"error", {{"message", std::move(message)}, {"type", std::move(type)}, {"code", std::move(code)}}}};
  return net::sse_data(j.dump());
}

enum class Outcome {
  done,       // the client got its answer (or is gone)
  failover,   // nothing reached the client; try the next provider
  top_up,     // 402 insufficient_credit: re-read credit, top up and retry this provider once
  refresh,    // 402 stale_ticket_params: re-read the provider's /info, re-issue tickets, retry once
  user_error  // the provider refused the request itself (400/413): relay to the client
};

// One request's state across attempts.
struct Job {
  Gateway::Impl& g;
  net::ResponseWriter& w;
  bool chat = false;
  bool stream = false;
  std::string path;
  nlohmann::json body;
  Hash32 model{};
  uint64_t seed = 0;
  uint32_t max_tokens = 0;
  uint64_t prompt_bound = 0;
  std::vector<std::string> failures;  // "0xabc…: why", per failed attempt
  bool all_busy = true;
  std::optional<UpstreamError> user_error;
};

struct Attempt {
  ProviderRecord provider;
  const ModelOffer* offer = nullptr;
  Payment pay;
};

void note_failure(Job& job, const crypto::Address& who, const std::string& why, bool busy) {
  job.failures.push_back(who.checksummed() + ": " + why);
  if (!busy) job.all_busy = false;
  job.g.stats.failovers++;
  job.g.metrics.failovers.inc();
  std::lock_guard lock(job.g.stats.mu);
  job.g.stats.providers[who].failures++;
}

// Classifies a non-200 answer that arrived before anything was relayed.
Outcome classify(Job& job, Attempt& a, int status, std::string_view body, bool may_top_up) {
  UpstreamError e = upstream_error(status, body);
  if (status == 402 && e.code == "insufficient_credit" && may_top_up) return Outcome::top_up;
  // The provider rotates its recipient_rand_hash after each winning ticket (its rand becomes
  // public when redeemed), so tickets made from older /info parameters are refused.
  if (status == 402 && e.code == "stale_ticket_params" && may_top_up) return Outcome::refresh;
  if (status == 400 || status == 413) {
    job.user_error = e;
    return Outcome::user_error;
  }
  bool busy = status == 429;
  std::string why = "HTTP " + std::to_string(status) + " " + e.message;
  job.g.book.failure(a.provider.address, why);
  note_failure(job, a.provider.address, why, busy);
  return Outcome::failover;
}

// Adds the gateway's fields to the provider's final object and verifies its receipt.
void finish_object(Job& job, Attempt& a, nlohmann::json& obj, std::optional<u256>& charged) {
  const auto& addr = a.provider.address;
  obj["dgrid_provider"] = addr.checksummed();
  auto rit = obj.find("dgrid_receipt");
  auto qit = obj.find("dgrid_request");
  if (rit == obj.end() || qit == obj.end()) {
    obj["dgrid_receipt_error"] = "the provider sent no receipt";
    job.g.stats.receipts_invalid++;
    job.g.book.failure(addr, "no receipt");
    return;
  }
  auto v = job.g.accept_receipt(*rit, *qit, addr, job.model, job.seed, a.offer->price, ReceiptUse::store_and_maybe_check);
  if (!v) {
    spdlog::warn("gateway: receipt from {} rejected: {}", addr.checksummed(), v.error().message);
    obj["dgrid_receipt_error"] = v.error().message;
    return;
  }
  charged = v->receipt.receipt.cost;
}

// The request to the provider for one attempt: the user's body, signed and paid.
net::ClientRequest provider_request(Job& job, Attempt& a, const std::string& body) {
  net::ClientRequest r;
  r.method = "POST";
  r.url = a.provider.url + job.path;
  r.body = body;
  r.headers = job.g.paid_headers("POST", job.path, body, a.pay);
  r.timeout = kJobTimeout;
  return r;
}

Outcome run_plain(Job& job, Attempt& a, const std::string& body, bool may_top_up) {
  Gateway::Impl& g = job.g;
  const auto& addr = a.provider.address;
  net::ClientRequest r = provider_request(job, a, body);
  auto t0 = Clock::now();
  g.book.begin(addr);
  auto resp = g.http.request(r);
  if (!resp) {
    g.book.failure(addr, resp.error().message);
    g.settle_payment(a.pay, std::nullopt, /*uncertain=*/true);
    note_failure(job, addr, resp.error().message, false);
    return Outcome::failover;
  }
  if (resp->status != 200) {
    g.settle_payment(a.pay, std::nullopt, /*uncertain=*/true);
    Outcome o = classify(job, a, resp->status, resp->body, may_top_up);
    if (o == Outcome::top_up || o == Outcome::refresh || o == Outcome::user_error) g.book.success(addr, ms_since(t0), 0);
    return o;
  }
  auto obj = nlohmann::json::parse(resp->body, nullptr, false);
  if (!obj.is_object()) {
    g.book.failure(addr, "answer is not a JSON object");
    g.settle_payment(a.pay, std::nullopt, true);
    note_failure(job, addr, "answer is not a JSON object", false);
    return Outcome::failover;
  }
  std::optional<u256> charged;
  finish_object(job, a, obj, charged);
  if (charged) {
    double total = ms_since(t0);
    uint64_t n = obj.contains("usage") ? obj["usage"].value("completion_tokens", uint64_t{1}) : 1;
    // Without a stream the first token's time is not observable: split the total evenly.
    double per = total / static_cast<double>(n + 1);
    g.book.success(addr, per, per);
  }
  g.settle_payment(a.pay, charged, /*uncertain=*/!charged);
  job.w.send(net::json_response(200, obj));
  return Outcome::done;
}

Outcome run_stream(Job& job, Attempt& a, const std::string& body, bool may_top_up) {
  Gateway::Impl& g = job.g;
  const auto& addr = a.provider.address;
  net::ClientRequest r = provider_request(job, a, body);

  int status = 0;
  std::string error_body;
  net::SseParser parser;
  std::vector<std::string> held;  // events before the first token: not relayed yet
  bool started = false;           // the client's stream has begun (no failover after this)
  bool client_gone = false;
  bool saw_done = false;
  bool saw_receipt = false;
  std::optional<std::string> upstream_failure;  // an error chunk from the provider
  std::optional<u256> charged;
  std::optional<double> ttft;
  uint64_t token_chunks = 0;
  auto t0 = Clock::now();

  auto begin_client = [&]() -> bool {
    if (started) return true;
    started = true;
    if (!job.w.begin_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}, {"X-Dgrid-Provider", addr.checksummed()}})) {
      client_gone = true;
      return false;
    }
    for (const auto& e : held) {
      if (!job.w.write(e)) {
        client_gone = true;
        return false;
      }
    }
    held.clear();
    return true;
  };
  auto relay = [&](std::string data) -> bool {
    if (!started) {
      held.push_back(std::move(data));
      return true;
    }
    if (!job.w.write(data)) {
      client_gone = true;
      return false;
    }
    return true;
  };

  auto on_event = [&](std::string_view data) -> bool {
    if (data == "[DONE]") {
      saw_done = true;
      return true;
    }
    auto chunk = nlohmann::json::parse(data, nullptr, false);
    if (!chunk.is_object()) {
      upstream_failure = "the provider sent a chunk that is not a JSON object";
      return false;
    }
    if (chunk.contains("error")) {
      const auto& e = chunk["error"];
      upstream_failure = e.is_object() && e.contains("message") && e["message"].is_string()
                             ? e["message"].get<std::string>()
                             : std::string("the provider reported an error");
      return false;
    }
    if (chunk.contains("dgrid_receipt")) {
      saw_receipt = true;
      finish_object(job, a, chunk, charged);
      if (!begin_client()) return false;
      return relay(net::sse_data(chunk.dump()));
    }
    if (chunk_has_token(chunk)) {
      ++token_chunks;
      if (!ttft) {
        ttft = ms_since(t0);
        g.metrics.ttft.observe(*ttft / 1000.0);
      }
      if (!begin_client()) return false;
    }
    return relay(net::sse_data(data));
  };

  g.book.begin(addr);
  bool aborted = false;
  auto head = g.http.request_stream(
      r, [&](const net::ClientResponse& h) { status = h.status; },
      [&](std::string_view bytes) -> bool {
        if (status != 200) {
          if (error_body.size() < (1 << 16)) error_body.append(bytes);
          return true;
        }
        bool keep = true;
        parser.feed(bytes, [&](std::string_view data) {
          if (keep && !on_event(data)) keep = false;
        });
        if (!keep) aborted = true;
        return keep;
      });

  if (head && status != 200) {
    g.settle_payment(a.pay, std::nullopt, /*uncertain=*/true);
    Outcome o = classify(job, a, status, error_body, may_top_up);
    if (o == Outcome::top_up || o == Outcome::refresh || o == Outcome::user_error) g.book.success(addr, ms_since(t0), 0);
    return o;
  }
  if (client_gone) {
    // The user left: not the provider's fault. Whatever it charged shows in its balance.
    g.book.success(addr, ttft.value_or(ms_since(t0)), 0);
    g.settle_payment(a.pay, charged, /*uncertain=*/true);
    return Outcome::done;
  }
  bool ok = head && saw_done && saw_receipt && !upstream_failure && !aborted;
  if (ok) {
    double total = ms_since(t0);
    double first = ttft.value_or(total);
    double per = token_chunks > 1 ? (total - first) / static_cast<double>(token_chunks - 1) : 0;
    if (charged) {
      g.book.success(addr, first, per);
    }
    g.settle_payment(a.pay, charged, /*uncertain=*/!charged);
    if (!begin_client()) return Outcome::done;
    if (job.w.write(net::sse_data("[DONE]"))) job.w.end();
    return Outcome::done;
  }

  std::string why = !head ? head.error().message
                    : upstream_failure ? "provider error: " + *upstream_failure
                    : saw_receipt    ? "stream ended without [DONE]"
                                     : "stream ended without a receipt";
  g.book.failure(addr, why);
  g.settle_payment(a.pay, std::nullopt, /*uncertain=*/true);
  if (!started) {
    note_failure(job, addr, why, false);
    return Outcome::failover;
  }
  // Tokens already reached the user: the request cannot move to another provider. End the
  // stream with an error chunk and without [DONE], as a provider does.
  spdlog::warn("gateway: provider {} failed mid-stream: {}", addr.checksummed(), why);
  {
    std::lock_guard lock(g.stats.mu);
    g.stats.providers[addr].failures++;
  }
  g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
  job.w.write(error_chunk("provider " + addr.checksummed() + " failed mid-stream: " + why, "upstream_error",
                          "provider_failed"));
  job.w.end();
  return Outcome::done;
}

void reply_error(net::ResponseWriter& w, int status, std::string message, std::string type, std::string code) {
  w.send(net::error_response(status, std::move(message), std::move(type), std::move(code)));
}

}  // namespace

void handle_completion(Gateway::Impl& g, net::Request& req, net::ResponseWriter& w, bool chat) {
  g.stats.requests++;
  g.metrics.requests.inc();
  if (req.body.size() > g.options.max_request_bytes) {
    g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
    return reply_error(w, 413, "request body is " + std::to_string(req.body.size()) + " bytes; the limit is " +
                                   std::to_string(g.options.max_request_bytes),
                       "invalid_request_error", "request_too_large");
  }
  auto parsed = net::parse_completion_request(req.body, chat);
  if (!parsed) {
    g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
    return reply_error(w, 400, parsed.error().message, "invalid_request_error", "invalid_request");
  }
  Job job{.g = g, .w = w, .path = {}, .body = {}, .failures = {}, .user_error = {}};
  job.chat = chat;
  job.stream = parsed->stream;
  job.path = chat ? "/v1/chat/completions" : "/v1/completions";
  job.body = nlohmann::json::parse(req.body, nullptr, false);
  auto model = g.resolve_model(parsed->model);
  if (!model) {
    g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
    return reply_error(w, 404, "model \"" + parsed->model + "\" is not served by any live provider (GET /v1/models lists them)",
                       "invalid_request_error", "model_not_found");
  }
  job.model = *model;
  // The seed makes the job reproducible: a spot check or a juror re-runs exactly this.
  job.seed = parsed->seed ? *parsed->seed : (g.random_u64() >> 1);
  job.body["seed"] = job.seed;
  job.max_tokens = parsed->max_tokens ? *parsed->max_tokens : g.options.default_max_tokens;
  if (!parsed->max_tokens) job.body["max_tokens"] = job.max_tokens;
  job.prompt_bound = prompt_token_bound(*parsed);

  std::vector<crypto::Address> tried;
  for (uint32_t attempt = 0; attempt < g.options.max_attempts; ++attempt) {
    std::mt19937_64 rng(g.random_u64());
    auto d = g.book.route(job.model, job.prompt_bound, job.max_tokens, tried, rng);
    if (!d.chosen) {
      if (attempt == 0) job.failures.push_back("no eligible provider: " + d.summary);
      break;
    }
    tried.push_back(*d.chosen);
    Attempt a;
    auto p = g.provider(*d.chosen);
    if (!p || !(a.offer = p->offer(job.model))) continue;
    a.provider = std::move(*p);
    a.offer = a.provider.offer(job.model);
    spdlog::debug("gateway: routing to {}: {}", a.provider.address.checksummed(), d.summary);
    job.body["model"] = a.offer->name;
    const std::string body = job.body.dump();
    const u256 max_cost = market::max_job_cost(a.offer->price, job.prompt_bound, job.max_tokens);

    bool topped_up = false;
    Outcome o = Outcome::failover;
    for (;;) {
      auto pay = g.prepare_payment(a.provider, max_cost, /*force_sync=*/topped_up);
      if (!pay) {
        note_failure(job, a.provider.address, "payment: " + pay.error().message, false);
        o = Outcome::failover;
        break;
      }
      a.pay = std::move(*pay);
      o = job.stream ? run_stream(job, a, body, !topped_up) : run_plain(job, a, body, !topped_up);
      if (o == Outcome::refresh) {
        spdlog::info("gateway: {} rotated its ticket parameters; re-reading /info", a.provider.address.checksummed());
        g.poll_info(a.provider.address);
        auto fresh = g.provider(a.provider.address);
        if (!fresh || !fresh->offer(job.model)) break;
        a.provider = std::move(*fresh);
        a.offer = a.provider.offer(job.model);
        topped_up = true;
        continue;
      }
      if (o != Outcome::top_up) break;
      spdlog::info("gateway: {} reports insufficient credit; re-reading and topping up", a.provider.address.checksummed());
      topped_up = true;
    }
    if (o == Outcome::done) return;
    if (o == Outcome::user_error) {
      g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
      const auto& e = *job.user_error;
      return reply_error(w, e.status, e.message, e.type.empty() ? "invalid_request_error" : e.type,
                         e.code.empty() ? "invalid_request" : e.code);
    }
    if (o == Outcome::top_up) note_failure(job, a.provider.address, "insufficient credit after a top-up", false);
    if (o == Outcome::refresh) note_failure(job, a.provider.address, "ticket parameters still stale after re-reading /info", false);
  }
  g.stats.requests_failed++;
    g.metrics.requests_failed.inc();
  std::string msg;
  for (const auto& f : job.failures) msg += (msg.empty() ? "" : "; ") + f;
  if (job.failures.empty()) msg = "no provider could take the request";
  if (tried.empty()) return reply_error(w, 503, "no provider available for this model: " + msg, "upstream_error", "no_provider");
  if (job.all_busy) return reply_error(w, 429, "every provider tried is busy: " + msg, "upstream_error", "provider_busy");
  reply_error(w, 502, "the request failed on " + std::to_string(tried.size()) + " provider(s): " + msg, "upstream_error",
              "upstream_error");
}

}  // namespace dgrid::node
