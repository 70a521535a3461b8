// The gateway against real loopback HTTP providers on a real anvil chain: API keys, models,
// completions (plain and streamed), failover, a provider dying mid-stream, receipts stored
// and served, tickets that reach the provider and verify, route explain, spot checks and a
// dispute carried from openDispute to claim across a gateway restart.
//
// The providers are small stand-ins that speak the protocol honestly (X-Dgrid-Auth checked,
// tickets validated with market::check_ticket, credit held and charged, receipts signed with
// market::sign_receipt) but "generate" tokens from a formula instead of running a model, so
// each test controls exactly how a provider behaves. The last test puts the real provider
// nodes (src/node/provider.*, the real model) behind the gateway.
#include "node/gateway.hpp"

#include <gtest/gtest.h>

#include "support/test_env.hpp"
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "crypto/keccak.hpp"
#include "infer/output_hash.hpp"
#include "market/canonical.hpp"
#include "market/credit.hpp"
#include "market/pricing.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_client.hpp"
#include "net/sse.hpp"
#include "node/auth.hpp"
#include "node/chain.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

using nlohmann::json;

using test::TempDir;

const Hash32 kModel = crypto::keccak256(std::string_view("gateway-test-model"));
constexpr std::string_view kModelName = "fake-260k";

// A provider stand-in. Thread-safe: the HTTP server calls it from many threads.
class FakeProvider {
 public:
  enum class Mode { honest, cheat, die_mid_stream };

  FakeProvider(eth::RpcClient& rpc, const eth::Deployment& d, crypto::PrivateKey key, market::Price price)
      : rpc_(rpc), deployment_(d), key_(std::move(key)), price_(price) {
    rand_ = market::derive_recipient_rand(crypto::keccak256(key_.secret()), 1);
    rand_hash_ = eth::recipient_rand_hash(rand_);
    router_.add("GET", "/dgrid/v1/info", [this](net::Request&, net::ResponseWriter& w) { w.send(net::json_response(200, info())); });
    router_.add("GET", "/dgrid/v1/credit", [this](net::Request& req, net::ResponseWriter& w) {
      auto s = crypto::parse_address(req.query_param("sender").value_or(""));
      if (!s) return (void)w.send(net::error_response(400, "sender", "invalid_request_error", "invalid_sender"));
      std::lock_guard lock(mu_);
      w.send(net::json_response(200, {{"sender", s->hex()}, {"credit", to_dec(credit_[*s])}}));
    });
    router_.add("POST", "/v1/completions", [this](net::Request& req, net::ResponseWriter& w) { completion(req, w, false); });
    router_.add("POST", "/v1/chat/completions", [this](net::Request& req, net::ResponseWriter& w) { completion(req, w, true); });
    router_.add("POST", "/dgrid/v1/execute", [this](net::Request& req, net::ResponseWriter& w) { execute(req, w); });
  }

  void serve() {
    net::ServerOptions o;
    o.port = port_;  // a restart reuses the port the registry knows
    auto s = net::HttpServer::start(o, router_.handler());
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    port_ = server_->port();
  }
  void shutdown() {
    if (server_) server_->stop(std::chrono::milliseconds(100));
    server_.reset();
  }
  ~FakeProvider() { shutdown(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const crypto::Address& address() const { return key_.address(); }
  void set_mode(Mode m) { mode_ = m; }
  // Loses every sender's credit (as a provider restarted without its database would).
  void forget_credit() {
    std::lock_guard lock(mu_);
    credit_.clear();
  }
  uint64_t tickets_accepted() const { return tickets_accepted_; }
  uint64_t jobs() const { return jobs_; }
  u256 credit_of(const crypto::Address& a) {
    std::lock_guard lock(mu_);
    return credit_[a];
  }

  // The deterministic "model": what an honest provider outputs for a canonical request.
  static std::vector<uint32_t> generate(const market::CanonicalRequest& r) {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < r.max_tokens; ++i)
      out.push_back(static_cast<uint32_t>((r.seed * 31 + i * 7 + r.prompt.size()) % 997 + 3));
    return out;
  }

 private:
  json info() {
    market::TicketParams tp;
    tp.recipient = address();
    tp.recipient_rand_hash = rand_hash_;
    tp.face_value = 1'000'000;
    tp.win_prob = eth::win_prob_for(1, 1000);
    tp.expiration_block = head() + 100;
    tp.broker = deployment_.broker;
    tp.chain_id = deployment_.chain_id;
    return {{"address", address().checksummed()},
            {"version", "test"},
            {"chain_id", deployment_.chain_id},
            {"models", json::array({{{"id", kModelName}, {"model_id", to_hex(kModel)}, {"context", 4096},
                                     {"price", market::price_to_json(price_)}}})},
            {"hardware", {{"threads", 1}, {"backend", "cpu"}}},
            {"capacity", 4},
            {"in_flight", 0},
            {"ticket_params", market::ticket_params_to_json(tp)}};
  }

  uint64_t head() {
    std::lock_guard lock(rpc_mu_);
    return rpc_.block_number().value_or(0);
  }

  // Authenticates, credits tickets, holds the max cost. Answers the error itself and
  // returns nullopt on failure.
  std::optional<std::pair<crypto::Address, u256>> pay(net::Request& req, net::ResponseWriter& w, const u256& max_cost) {
    auto who = verifier_.verify(req.header("x-dgrid-auth").value_or(""), req.method, req.path, req.body);
    if (!who) {
      w.send(net::error_response(401, who.error().message, "authentication_error", "invalid_auth"));
      return std::nullopt;
    }
    if (auto th = req.header("x-dgrid-tickets")) {
      auto tickets = market::decode_tickets_header(*th);
      if (!tickets) {
        w.send(net::error_response(402, tickets.error().message, "invalid_request_error", "invalid_ticket"));
        return std::nullopt;
      }
      market::TicketCheck c;
      c.me = address();
      c.domain_separator = eth::dgrid_domain_separator(deployment_.chain_id, deployment_.broker);
      c.current_block = head();
      c.expected_win_prob = eth::win_prob_for(1, 1000);
      c.max_face_value = u256(1'000'000'000'000ull);
      c.recipient_rand = [this](const Hash32& h) -> std::optional<u256> {
        if (h == rand_hash_) return rand_;
        return std::nullopt;
      };
      for (const auto& t : *tickets) {
        auto ok = market::check_ticket(t, c);
        if (!ok) {
          w.send(net::error_response(402, ok.error().message, "invalid_request_error", "invalid_ticket"));
          return std::nullopt;
        }
        if (ok->ticket.ticket.sender != *who) {
          w.send(net::error_response(402, "ticket sender is not the authenticated sender", "invalid_request_error", "invalid_ticket"));
          return std::nullopt;
        }
        std::lock_guard lock(mu_);
        if (!seen_.insert(ok->digest).second) {
          w.send(net::error_response(402, "ticket already used", "invalid_request_error", "invalid_ticket"));
          return std::nullopt;
        }
        credit_[*who] += ok->ev;
        ++tickets_accepted_;
      }
    }
    std::lock_guard lock(mu_);
    if (credit_[*who] < max_cost) {
      w.send(net::error_response(402, "insufficient credit: have " + to_dec(credit_[*who]) + ", need " + to_dec(max_cost),
                                 "insufficient_credit", "insufficient_credit"));
      return std::nullopt;
    }
    credit_[*who] -= max_cost;
    return std::pair{*who, max_cost};
  }

  void settle(const crypto::Address& who, const u256& held, const u256& cost) {
    std::lock_guard lock(mu_);
    credit_[who] += held - cost;
  }

  // Signs the receipt for `r` producing `tokens`; a cheat claims a different output.
  json receipt_for(const market::CanonicalRequest& r, const std::vector<uint32_t>& tokens, const u256& cost) {
    market::Receipt rc;
    rc.provider = address();
    rc.model = r.model;
    rc.input_hash = market::input_hash(r);
    std::vector<uint32_t> claimed = tokens;
    if (mode_ == Mode::cheat && !claimed.empty()) claimed[0] += 1;
    rc.output_hash = infer::output_hash(claimed);
    rc.prompt_tokens = r.prompt.size();
    rc.completion_tokens = tokens.size();
    rc.cost = cost;
    rc.chain_id = deployment_.chain_id;
    rc.timestamp = static_cast<uint64_t>(std::time(nullptr));
    rc.job_id = market::make_job_id(rc.input_hash, address(), crypto::keccak256(to_be32(u256(++job_nonce_))));
    return market::receipt_to_json(market::sign_receipt(rc, deployment_.disputes, key_));
  }

  static std::string text_of(const std::vector<uint32_t>& tokens) {
    std::string s;
    for (auto t : tokens) s += " w" + std::to_string(t);
    return s;
  }

  void completion(net::Request& req, net::ResponseWriter& w, bool chat) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return (void)w.send(net::error_response(400, "body is not JSON", "invalid_request_error", "invalid_body"));
    std::string prompt;
    if (chat) {
      for (const auto& m : body.value("messages", json::array())) prompt += m.value("content", "");
    } else {
      prompt = body.value("prompt", "");
    }
    market::CanonicalRequest r;
    r.model = kModel;
    for (unsigned char c : prompt) r.prompt.push_back(c);
    if (r.prompt.empty()) r.prompt.push_back(1);
    r.max_tokens = body.value("max_tokens", 16u);
    r.temperature = body.value("temperature", 1.0f);
    if (!body.contains("seed")) return (void)w.send(net::error_response(400, "test provider wants a seed", "invalid_request_error", "seed"));
    r.seed = body["seed"].get<uint64_t>();
    u256 max_cost = market::max_job_cost(price_, r.prompt.size(), r.max_tokens);
    auto paid = pay(req, w, max_cost);
    if (!paid) return;
    ++jobs_;
    auto tokens = generate(r);
    u256 cost = market::job_cost(price_, r.prompt.size(), tokens.size());
    json usage = {{"prompt_tokens", r.prompt.size()}, {"completion_tokens", tokens.size()},
                  {"total_tokens", r.prompt.size() + tokens.size()}};
    const std::string object = chat ? "chat.completion" : "text_completion";
    if (!body.value("stream", false)) {
      settle(paid->first, paid->second, cost);
      json choice = chat ? json{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text_of(tokens)}}}, {"finish_reason", "length"}}
                         : json{{"index", 0}, {"text", text_of(tokens)}, {"finish_reason", "length"}, {"logprobs", nullptr}};
      json out = {{"id", "cmpl-test"}, {"object", object}, {"created", 0}, {"model", kModelName},
                  {"choices", json::array({choice})}, {"usage", usage},
                  {"dgrid_receipt", receipt_for(r, tokens, cost)}, {"dgrid_request", to_hex(market::encode_canonical(r))}};
      w.send(net::json_response(200, out));
      return;
    }
    const std::string chunk_object = chat ? "chat.completion.chunk" : "text_completion";
    w.begin_stream(200, "text/event-stream");
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string piece = " w" + std::to_string(tokens[i]);
      json choice = chat ? json{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}
                         : json{{"index", 0}, {"text", piece}, {"finish_reason", nullptr}, {"logprobs", nullptr}};
      json c = {{"id", "cmpl-test"}, {"object", chunk_object}, {"created", 0}, {"model", kModelName}, {"choices", json::array({choice})}};
      if (!w.write(net::sse_data(c.dump()))) return settle(paid->first, paid->second, 0);
      if (mode_ == Mode::die_mid_stream) {
        settle(paid->first, paid->second, 0);
        return;  // without end(): the connection drops mid-body, like a crashed process
      }
    }
    settle(paid->first, paid->second, cost);
    json last = {{"id", "cmpl-test"}, {"object", chunk_object}, {"created", 0}, {"model", kModelName},
                 {"choices", json::array()}, {"usage", usage},
                 {"dgrid_receipt", receipt_for(r, tokens, cost)}, {"dgrid_request", to_hex(market::encode_canonical(r))}};
    w.write(net::sse_data(last.dump()));
    w.write(net::sse_data("[DONE]"));
    w.end();
  }

  void execute(net::Request& req, net::ResponseWriter& w) {
    auto body = json::parse(req.body, nullptr, false);
    auto bytes = from_hex(body.is_object() ? body.value("request", "") : "");
    if (!bytes) return (void)w.send(net::error_response(400, "request must be 0x-hex", "invalid_request_error", "invalid_request"));
    auto r = market::decode_canonical(*bytes);
    if (!r) return (void)w.send(net::error_response(400, r.error().message, "invalid_request_error", "invalid_request"));
    auto paid = pay(req, w, market::max_job_cost(price_, r->prompt.size(), r->max_tokens));
    if (!paid) return;
    ++jobs_;
    auto tokens = generate(*r);
    u256 cost = market::job_cost(price_, r->prompt.size(), tokens.size());
    settle(paid->first, paid->second, cost);
    json receipt = receipt_for(*r, tokens, cost);
    w.send(net::json_response(200, {{"output_hash", receipt["output_hash"]}, {"tokens", tokens}, {"text", text_of(tokens)},
                                    {"prompt_tokens", r->prompt.size()}, {"completion_tokens", tokens.size()},
                                    {"dgrid_receipt", receipt}, {"dgrid_request", to_hex(*bytes)}}));
  }

  eth::RpcClient& rpc_;
  std::mutex rpc_mu_;
  eth::Deployment deployment_;
  crypto::PrivateKey key_;
  market::Price price_;
  std::atomic<Mode> mode_{Mode::honest};
  u256 rand_ = 0;
  Hash32 rand_hash_{};
  RequestVerifier verifier_;
  std::mutex mu_;
  std::map<crypto::Address, u256> credit_;
  std::set<Hash32> seen_;
  std::atomic<uint64_t> tickets_accepted_{0}, jobs_{0}, job_nonce_{0};
  net::Router router_;
  std::unique_ptr<net::HttpServer> server_;
  uint16_t port_ = 0;
};

// Reads a whole SSE response into its events' data.
std::vector<std::string> sse_events(std::string_view body) {
  std::vector<std::string> out;
  net::SseParser p;
  p.feed(body, [&](std::string_view d) { out.emplace_back(d); });
  return out;
}

class GatewayTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kGatewayWallet = 5;
  static constexpr const char* kKey = "sk-dgrid-test";

  void SetUp() override {
    test::DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto c = ChainContext::connect(anvil_->rpc_url(), deployment_, anvil_->dev_keys().at(kGatewayWallet));
    ASSERT_TRUE(c) << c.error().to_string();
    chain_ = std::move(*c);
    open_state();
    options_.api_keys = {kKey};
    options_.deposit = dusd(1000);
    options_.reserve = dusd(100);
    options_.top_up = 2'000;
    options_.start_threads = false;  // the test drives discovery and checks
  }

  void TearDown() override {
    if (server_) server_->stop(std::chrono::milliseconds(100));
    if (gateway_) gateway_->stop();
    server_.reset();
    gateway_.reset();
  }

  void open_state() {
    auto s = NodeState::open(dir_.path());
    ASSERT_TRUE(s) << s.error().to_string();
    state_ = std::move(*s);
  }

  // Registers wallet i as a provider of kModel (stake = the minimum) and starts serving it.
  FakeProvider& add_provider(size_t i, market::Price price = {u256(1'000'000), u256(2'000'000)}) {
    auto p = std::make_unique<FakeProvider>(*rpc_, deployment_, anvil_->dev_keys().at(i), price);
    p->serve();
    EXPECT_TRUE(registry().register_provider(wallet(i), p->url(), ""));
    EXPECT_TRUE(registry().stake(wallet(i), token(), *registry().min_stake() + params_.provider_slash));
    EXPECT_TRUE(registry().add_model(wallet(i), kModel));
    providers_.push_back(std::move(p));
    return *providers_.back();
  }

  void start_gateway(bool discover = true) {
    metrics_ = std::make_unique<Registry>();  // a gateway registers its metrics once per registry
    auto g = Gateway::start(options_, *chain_, *state_, *metrics_);
    ASSERT_TRUE(g) << g.error().to_string();
    gateway_ = std::move(*g);
    router_ = std::make_unique<net::Router>();
    gateway_->register_routes(*router_);
    auto s = net::HttpServer::start({}, router_->handler());
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    if (!discover) return;
    auto d = gateway_->discover_once();
    ASSERT_TRUE(d) << d.error().to_string();
  }

  void restart_gateway() {
    server_->stop(std::chrono::milliseconds(100));
    gateway_->stop();
    server_.reset();
    gateway_.reset();
    state_.reset();
    open_state();
    start_gateway();
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  net::ClientResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                           std::optional<std::string> key = kKey) {
    net::ClientRequest r;
    r.method = method;
    r.url = base() + path;
    r.body = body;
    if (key) r.headers.emplace_back("Authorization", "Bearer " + *key);
    auto resp = http_.request(r);
    EXPECT_TRUE(resp) << resp.error().to_string();
    return resp ? *resp : net::ClientResponse{};
  }

  json completion(bool stream = false, uint32_t max_tokens = 8) {
    json body = {{"model", kModelName}, {"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"stream", stream}};
    auto r = call("POST", "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    if (stream) return json{{"events", sse_events(r.body)}};
    return json::parse(r.body, nullptr, false);
  }

  TempDir dir_;
  std::unique_ptr<ChainContext> chain_;
  std::unique_ptr<NodeState> state_;
  std::unique_ptr<Registry> metrics_;
  GatewayOptions options_;
  std::vector<std::unique_ptr<FakeProvider>> providers_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<net::Router> router_;
  std::unique_ptr<net::HttpServer> server_;
  net::HttpClient http_;
};

TEST_F(GatewayTest, ApiKeysModelsAndUnknownModel) {
  add_provider(1);
  add_provider(2, {u256(500'000), u256(3'000'000)});
  start_gateway();

  auto none = call("GET", "/v1/models", "", std::nullopt);
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("authentication_error"), std::string::npos) << none.body;
  auto wrong = call("GET", "/v1/models", "", std::string("sk-wrong"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("incorrect API key"), std::string::npos) << wrong.body;
  auto post = call("POST", "/v1/completions", R"({"model":"x","prompt":"hi"})", std::nullopt);
  EXPECT_EQ(post.status, 401);

  auto models = call("GET", "/v1/models");
  ASSERT_EQ(models.status, 200) << models.body;
  auto j = json::parse(models.body);
  ASSERT_EQ(j["data"].size(), 1u) << j.dump();
  EXPECT_EQ(j["data"][0]["id"], kModelName);
  EXPECT_EQ(j["data"][0]["dgrid"]["providers"], 2);
  EXPECT_EQ(j["data"][0]["dgrid"]["model_id"], to_hex(kModel));
  EXPECT_EQ(j["data"][0]["dgrid"]["min_price"]["input"], "500000");
  EXPECT_EQ(j["data"][0]["dgrid"]["min_price"]["output"], "2000000");

  auto unknown = call("POST", "/v1/completions", R"({"model":"gpt-17","prompt":"hi"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("model_not_found"), std::string::npos) << unknown.body;
  auto bad = call("POST", "/v1/completions", R"({"model":"fake-260k","prompt":"hi","temperature":9})");
  EXPECT_EQ(bad.status, 400) << bad.body;
}

TEST_F(GatewayTest, CompletionPaysWithTicketsAndStoresTheReceipt) {
  auto& p = add_provider(1);
  start_gateway();
  // The deposit and reserve were funded at start.
  auto info = broker().sender_info(chain_->address());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->deposit, options_.deposit);
  EXPECT_EQ(info->reserve, options_.reserve);

  json out = completion();
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["dgrid_provider"], p.address().checksummed());
  ASSERT_TRUE(out.contains("dgrid_receipt")) << out.dump();
  EXPECT_FALSE(out.contains("dgrid_receipt_error")) << out.dump();
  // Tickets reached the provider and passed its checks; the credit left is what they were
  // worth minus the job's cost.
  EXPECT_GT(p.tickets_accepted(), 0u);
  u256 cost = *parse_u256(out["dgrid_receipt"]["cost"].get<std::string>());
  EXPECT_GT(cost, 0);
  EXPECT_EQ(p.credit_of(chain_->address()) + cost,
            market::ticket_ev(1'000'000, eth::win_prob_for(1, 1000)) * p.tickets_accepted());
  // The receipt is stored and served, byte for byte the provider's signed one.
  std::string job_id = out["dgrid_receipt"]["job_id"];
  auto r = call("GET", "/dgrid/v1/receipts/" + job_id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), out["dgrid_receipt"]);
  auto sr = market::receipt_from_json(json::parse(r.body));
  ASSERT_TRUE(sr);
  EXPECT_TRUE(market::verify_receipt_signature(*sr));
  EXPECT_EQ(call("GET", "/dgrid/v1/receipts/0x" + std::string(64, '0')).status, 404);
  EXPECT_EQ(call("GET", "/dgrid/v1/receipts/nope").status, 400);
  // The seed the gateway chose is in the canonical request the receipt commits to.
  auto creq = market::decode_canonical(*from_hex(out["dgrid_request"].get<std::string>()));
  ASSERT_TRUE(creq);
  EXPECT_EQ(creq->max_tokens, 8u);

  // A second request reuses the credit sent ahead where it suffices.
  uint64_t tickets = p.tickets_accepted();
  completion();
  EXPECT_GE(p.tickets_accepted(), tickets);
  auto stats = json::parse(call("GET", "/dgrid/v1/stats").body);
  EXPECT_EQ(stats["requests"], 2);
  EXPECT_EQ(stats["receipts"]["stored"], 2);
  EXPECT_EQ(stats["tickets_sent"], p.tickets_accepted());
  ASSERT_EQ(stats["providers"].size(), 1u);
  EXPECT_EQ(stats["providers"][0]["jobs"], 2);
}

TEST_F(GatewayTest, StreamsChunkByChunkWithTheReceiptLast) {
  auto& p = add_provider(1);
  start_gateway();
  json body = {{"model", kModelName}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}, {"max_tokens", 5}, {"stream", true}};
  auto r = call("POST", "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = sse_events(r.body);
  ASSERT_EQ(events.size(), 5u + 2u) << r.body;  // 5 tokens, the receipt chunk, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  auto last = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["dgrid_provider"], p.address().checksummed());
  EXPECT_TRUE(last.contains("dgrid_request"));
  EXPECT_FALSE(last.contains("dgrid_receipt_error")) << last.dump();
  auto stored = call("GET", "/dgrid/v1/receipts/" + last["dgrid_receipt"]["job_id"].get<std::string>());
  EXPECT_EQ(stored.status, 200);
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["content"].get<std::string>().substr(0, 2), " w");
}

TEST_F(GatewayTest, FailsOverWhenAProviderRefusesConnections) {
  auto& dead = add_provider(1, {u256(1), u256(1)});  // the cheapest: routing likes it
  auto& live = add_provider(2);
  start_gateway();
  dead.shutdown();  // discovered as live, now refusing connections
  for (int i = 0; i < 8; ++i) {
    json out = completion(/*stream=*/i % 2 == 1);
    if (i % 2 == 1) {
      auto events = out["events"];
      ASSERT_GE(events.size(), 2u);
      EXPECT_EQ(events.back(), "[DONE]");
      EXPECT_EQ(json::parse(events[events.size() - 2].get<std::string>())["dgrid_provider"], live.address().checksummed());
    } else {
      EXPECT_EQ(out["dgrid_provider"], live.address().checksummed());
    }
  }
  auto stats = json::parse(call("GET", "/dgrid/v1/stats").body);
  EXPECT_EQ(stats["requests_failed"], 0);
  EXPECT_GE(stats["failovers"].get<int>(), 1) << "the cheap dead provider was never tried first";
  EXPECT_EQ(live.jobs(), 8u);

  // With every provider gone the user gets a clear upstream error.
  live.shutdown();
  auto r = call("POST", "/v1/completions", json{{"model", kModelName}, {"prompt", "x"}}.dump());
  EXPECT_TRUE(r.status == 502 || r.status == 503) << r.status << " " << r.body;
  EXPECT_NE(r.body.find("upstream_error"), std::string::npos) << r.body;
}

TEST_F(GatewayTest, ProviderDyingMidStreamEndsTheStreamWithAnErrorChunk) {
  auto& p = add_provider(1);
  start_gateway();
  p.set_mode(FakeProvider::Mode::die_mid_stream);
  json body = {{"model", kModelName}, {"prompt", "hello"}, {"max_tokens", 6}, {"stream", true}};
  auto r = call("POST", "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = sse_events(r.body);
  ASSERT_EQ(events.size(), 2u) << r.body;  // the one token relayed, then the error
  EXPECT_FALSE(json::parse(events[0])["choices"][0]["text"].get<std::string>().empty());
  auto err = json::parse(events[1]);
  ASSERT_TRUE(err.contains("error")) << events[1];
  EXPECT_EQ(err["error"]["code"], "provider_failed");
  EXPECT_NE(err["error"]["message"].get<std::string>().find(p.address().checksummed()), std::string::npos);
  auto stats = json::parse(call("GET", "/dgrid/v1/stats").body);
  EXPECT_EQ(stats["requests_failed"], 1);
  EXPECT_EQ(stats["receipts"]["stored"], 0);
}

TEST_F(GatewayTest, RouteExplainListsEveryCandidate) {
  auto& a = add_provider(1);
  auto& b = add_provider(2, {u256(10), u256(10)});
  start_gateway();
  auto r = call("GET", "/dgrid/v1/route/explain?model=fake-260k&max_tokens=32", "", std::nullopt);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  ASSERT_EQ(j["candidates"].size(), 2u) << j.dump(2);
  std::set<std::string> seen;
  for (const auto& c : j["candidates"]) {
    auto who = crypto::parse_address(c["address"].get<std::string>());
    ASSERT_TRUE(who) << c.dump();
    seen.insert(who->hex());
  }
  EXPECT_TRUE(seen.contains(a.address().hex()));
  EXPECT_TRUE(seen.contains(b.address().hex()));
  EXPECT_EQ(j["max_tokens"], 32);
  EXPECT_FALSE(j["chosen"].is_null());
  EXPECT_EQ(call("GET", "/dgrid/v1/route/explain?model=nope").status, 404);
  EXPECT_EQ(call("GET", "/dgrid/v1/route/explain").status, 400);
}

TEST_F(GatewayTest, SpotCheckMismatchIsDisputedThroughClaimAcrossARestart) {
  options_.spot_check_rate = 1.0;  // check every job
  auto& cheat = add_provider(1);
  cheat.set_mode(FakeProvider::Mode::cheat);
  start_gateway();
  json out = completion();
  ASSERT_EQ(out["dgrid_provider"], cheat.address().checksummed());
  Hash32 job_id = *fixed_from_hex<32>(out["dgrid_receipt"]["job_id"].get<std::string>());
  auto job = state_->job(job_id);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->spot_check, SpotCheck::pending);

  // Nobody else serves the model yet: the check waits.
  gateway_->check_once();
  EXPECT_EQ((*state_->job(job_id))->spot_check, SpotCheck::pending);

  // An honest provider appears; the re-execution disagrees and a dispute is opened.
  auto& honest = add_provider(2);
  ASSERT_TRUE(gateway_->discover_once());
  u256 before = *token().balance_of(chain_->address());
  // The postponed check is retried after a backoff of a few check intervals.
  options_.check_interval = std::chrono::milliseconds(1);
  restart_gateway();
  gateway_->check_once();
  job = state_->job(job_id);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->spot_check, SpotCheck::mismatch);
  ASSERT_TRUE((*job)->dispute_id.has_value());
  u256 id = *(*job)->dispute_id;
  EXPECT_EQ(honest.jobs(), 1u);
  auto stats = gateway_->stats();
  EXPECT_EQ(stats["spot_checks"]["mismatches"], 1);
  EXPECT_EQ(stats["disputes"]["opened"], 1);
  EXPECT_EQ(*token().balance_of(chain_->address()), before - params_.dispute_bond);

  // A restart mid-dispute resumes from the state: draw, (no juror votes), resolve, claim.
  restart_gateway();
  mine(2);
  gateway_->check_once();  // drawJurors
  auto rec = state_->dispute(id);
  ASSERT_TRUE(rec && *rec);
  EXPECT_TRUE((*rec)->open);
  mine(3 * kDelay);
  gateway_->check_once();  // resolve and claim
  rec = state_->dispute(id);
  ASSERT_TRUE(rec && *rec);
  EXPECT_FALSE((*rec)->open) << (*rec)->json;
  auto j = json::parse((*rec)->json);
  EXPECT_EQ(j["stage"], "closed");
  // Nobody voted: no majority, the bond comes back.
  EXPECT_EQ(j["outcome"], "no_majority");
  EXPECT_EQ(*token().balance_of(chain_->address()), before);
  EXPECT_EQ(gateway_->stats()["disputes"]["other"], 1);
}

TEST_F(GatewayTest, InsufficientCreditIsToppedUpAndRetriedOnce) {
  auto& p = add_provider(1);
  start_gateway();
  completion();
  uint64_t tickets = p.tickets_accepted();
  // The gateway believes credit is left; the provider answers 402, the gateway re-reads its
  // balance, sends tickets and retries on the same provider.
  p.forget_credit();
  json out = completion();
  EXPECT_EQ(out["dgrid_provider"], p.address().checksummed());
  EXPECT_GT(p.tickets_accepted(), tickets);
  EXPECT_EQ(p.jobs(), 2u);
  auto stats = gateway_->stats();
  EXPECT_EQ(stats["failovers"], 0);
  EXPECT_EQ(stats["requests_failed"], 0);
}

TEST_F(GatewayTest, AWrongCheckerDoesNotGetAnHonestProviderDisputed) {
  options_.spot_check_rate = 1.0;
  auto& honest = add_provider(1);
  start_gateway();
  json out = completion();
  ASSERT_EQ(out["dgrid_provider"], honest.address().checksummed());
  Hash32 job_id = *fixed_from_hex<32>(out["dgrid_receipt"]["job_id"].get<std::string>());
  // Two checkers join, one of which lies. Whichever checks first, the verdict is a match:
  // a disagreement is settled by the third execution before any bond is posted. A lying
  // checker signed a receipt for its wrong answer, so that receipt (never the honest
  // provider's) may be disputed.
  auto& liar = add_provider(2);
  liar.set_mode(FakeProvider::Mode::cheat);
  add_provider(3);
  ASSERT_TRUE(gateway_->discover_once());
  gateway_->check_once();
  auto job = state_->job(job_id);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->spot_check, SpotCheck::match);
  EXPECT_FALSE((*job)->dispute_id.has_value());
  auto stats = gateway_->stats();
  EXPECT_EQ(stats["spot_checks"]["matches"], 1);
  EXPECT_LE(stats["disputes"]["opened"].get<int>(), 1);
  auto open = state_->open_disputes();
  ASSERT_TRUE(open);
  for (const auto& d : *open) {
    EXPECT_EQ(d.json.find(honest.address().checksummed()), std::string::npos) << d.json;
    EXPECT_EQ(d.json.find(honest.address().hex()), std::string::npos) << d.json;
  }
  (void)liar;
}

TEST_F(GatewayTest, BackgroundThreadsDiscoverAndCheck) {
  options_.start_threads = true;
  options_.discovery_interval = std::chrono::milliseconds(50);
  options_.check_interval = std::chrono::milliseconds(50);
  options_.spot_check_rate = 1.0;
  add_provider(1);
  add_provider(2);
  start_gateway(/*discover=*/false);
  // Waits (bounded) for what the threads do; nothing here depends on how fast they are.
  auto wait_for = [](const std::function<bool()>& done) {
    for (int i = 0; i < 600 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return json::parse(call("GET", "/v1/models").body)["data"].size() == 1; }));
  ASSERT_TRUE(wait_for([&] { return json::parse(call("GET", "/v1/models").body)["data"][0]["dgrid"]["providers"] == 2; }));
  completion(/*stream=*/true);
  ASSERT_TRUE(wait_for([&] { return gateway_->stats()["spot_checks"]["run"] == 1; }));
  EXPECT_EQ(gateway_->stats()["spot_checks"]["matches"], 1);
  gateway_->stop();
  gateway_->stop();  // idempotent
}

// The integrator's real provider nodes (the deterministic engine on ../shared's stories260K)
// behind the gateway: plain and streamed completions with verified receipts, and a spot
// check re-executed on the other provider that matches bit for bit.
TEST_F(GatewayTest, RealProvidersServeVerifyAndPassSpotChecks) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  std::ofstream(dir_.path() / "deployment.json") << deployment_.to_json().dump();
  std::vector<std::unique_ptr<Node>> nodes;
  for (size_t i : {1, 2}) {
    auto dir = dir_.path() / ("provider" + std::to_string(i));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "node.toml")
        << "data_dir = \"data\"\n[chain]\nrpc = \"" << anvil_->rpc_url() << "\"\ndeployment = \"../deployment.json\"\n"
        << "poll_interval_ms = 200\n[key]\nprivate_key = \"" << to_hex(anvil_->dev_keys()[i].secret()) << "\"\n"
        << "[provider]\nenabled = true\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\ncapacity = 2\nface_value = \"0.01\"\n"
        << "win_prob = \"0.01\"\njuror = false\n[[provider.models]]\nname = \"stories\"\npath = \"" << model.string()
        << "\"\nprice_input = \"1\"\nprice_output = \"2\"\n";
    auto cfg = NodeConfig::load(dir / "node.toml");
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    auto n = Node::start(*cfg);
    ASSERT_TRUE(n) << n.error().to_string();
    nodes.push_back(std::move(*n));
  }
  options_.spot_check_rate = 1.0;
  start_gateway();
  auto models = json::parse(call("GET", "/v1/models").body);
  ASSERT_EQ(models["data"].size(), 1u) << models.dump();
  EXPECT_EQ(models["data"][0]["id"], "stories");
  EXPECT_EQ(models["data"][0]["dgrid"]["providers"], 2);

  json body = {{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}};
  auto r = call("POST", "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto out = json::parse(r.body);
  EXPECT_FALSE(out.contains("dgrid_receipt_error")) << out.dump();
  EXPECT_FALSE(out["choices"][0]["text"].get<std::string>().empty());
  Hash32 job_id = *fixed_from_hex<32>(out["dgrid_receipt"]["job_id"].get<std::string>());

  json chat = {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}}, {"max_tokens", 8}, {"stream", true}};
  auto s = call("POST", "/v1/chat/completions", chat.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  auto events = sse_events(s.body);
  ASSERT_GE(events.size(), 3u) << s.body;
  EXPECT_EQ(events.back(), "[DONE]");
  auto last = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(last.contains("dgrid_receipt")) << last.dump();
  EXPECT_FALSE(last.contains("dgrid_receipt_error")) << last.dump();

  gateway_->check_once();
  auto job = state_->job(job_id);
  ASSERT_TRUE(job && *job);
  EXPECT_EQ((*job)->spot_check, SpotCheck::match);
  auto stats = gateway_->stats();
  EXPECT_EQ(stats["spot_checks"]["matches"], 2) << stats.dump();
  EXPECT_EQ(stats["spot_checks"]["mismatches"], 0);
  EXPECT_EQ(stats["receipts"]["invalid"], 0);
  server_->stop(std::chrono::milliseconds(100));
  gateway_->stop();
  for (auto& n : nodes) n->stop();
}

}  // namespace
}  // namespace dgrid::node
