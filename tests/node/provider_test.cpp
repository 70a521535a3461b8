// The provider service end to end: a real node process-in-test on loopback HTTP, a real
// anvil chain with dgrid's contracts, the real model in ../shared/models, real tickets
// signed by a sender and redeemed on chain.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "crypto/keccak.hpp"
#include "market/canonical.hpp"
#include "market/receipt.hpp"
#include "market/ticket_wire.hpp"
#include "net/http_client.hpp"
#include "net/sse.hpp"
#include "node/auth.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;

class ProviderTest : public test::DgridChainTest {
 protected:
  void SetUp() override {
    DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    model_ = test::shared_file("models/stories260K.gguf");
    if (model_.empty()) {
      if (test::shared_required()) FAIL() << "../shared/models/stories260K.gguf missing";
      GTEST_SKIP() << "../shared/models/stories260K.gguf not present (tests that need the real model skip)";
    }
    dir_ = fs::temp_directory_path() / ("dgrid-provider-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "deployment.json") << deployment_.to_json().dump();
    // The sender (a gateway) funds its TicketBroker deposit and reserve.
    auto f = broker().fund(wallet(kSender), token(), dusd(100), dusd(10));
    ASSERT_TRUE(f) << f.error().to_string();
  }
  void TearDown() override {
    node_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string config_text(const std::string& win_prob) {
    std::string key = to_hex(anvil_->dev_keys()[kProvider].secret());
    return "data_dir = \"data\"\n[chain]\nrpc = \"" + anvil_->rpc_url() + "\"\ndeployment = \"deployment.json\"\npoll_interval_ms = 200\n" +
           "[key]\nprivate_key = \"" + key + "\"\n" +
           "[provider]\nenabled = true\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\ncapacity = 2\nface_value = \"0.01\"\n" +
           "redeem_interval_ms = 300\njuror = false\nwin_prob = \"" + win_prob + "\"\n" +
           "[[provider.models]]\nname = \"stories\"\npath = \"" + model_.string() + "\"\nprice_input = \"1\"\nprice_output = \"2\"\n";
  }

  // Tickets of 0.01 dUSD face value winning with probability `win_prob`.
  void start_node(const std::string& win_prob = "0.01") {
    std::ofstream(dir_ / "node.toml") << config_text(win_prob);
    auto cfg = NodeConfig::load(dir_ / "node.toml");
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    auto n = Node::start(*cfg);
    ASSERT_TRUE(n) << n.error().to_string();
    node_ = std::move(*n);
    url_ = node_->provider_url();
  }

  nlohmann::json get_json(const std::string& path) {
    net::ClientRequest rq;
    rq.url = url_ + path;
    auto r = http_.request(rq);
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return nlohmann::json::parse(r->body);
  }

  market::TicketParams params() {
    auto p = market::ticket_params_from_json(get_json("/dgrid/v1/info")["ticket_params"]);
    EXPECT_TRUE(p) << p.error().to_string();
    return *p;
  }

  std::vector<eth::SignedTicket> tickets(const u256& amount, const crypto::PrivateKey& key) {
    market::TicketIssuer issuer(key, eth::dgrid_domain_separator(anvil_->chain_id(), deployment_.broker));
    auto t = issuer.issue(params(), amount, nonce_);
    EXPECT_TRUE(t) << t.error().to_string();
    return t ? *t : std::vector<eth::SignedTicket>{};
  }

  Result<net::ClientResponse> post(const std::string& path, const std::string& body, const crypto::PrivateKey* signer,
                                   const std::vector<eth::SignedTicket>& attach = {}) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = url_ + path;
    rq.body = body;
    if (signer) rq.headers.push_back({"X-Dgrid-Auth", sign_request(*signer, "POST", path, body)});
    if (!attach.empty()) rq.headers.push_back({"X-Dgrid-Tickets", market::encode_tickets_header(attach)});
    return http_.request(rq);
  }

  u256 credit(const crypto::Address& who) {
    return u256(get_json("/dgrid/v1/credit?sender=" + who.checksummed())["credit"].get<std::string>());
  }

  static constexpr size_t kProvider = 1, kSender = 2, kStranger = 3;
  const crypto::PrivateKey& sender_key() { return anvil_->dev_keys()[kSender]; }

  fs::path model_, dir_;
  std::unique_ptr<Node> node_;
  std::string url_;
  net::HttpClient http_;
  u256 nonce_ = 1;
};

const std::string kBody = R"({"model":"stories","prompt":"Once upon a time","max_tokens":12,"temperature":0,"seed":7})";

TEST_F(ProviderTest, RegistersOnChainAndAdvertises) {
  start_node();
  auto info = get_json("/dgrid/v1/info");
  EXPECT_EQ(info["address"], wallet(kProvider).address().checksummed());
  ASSERT_EQ(info["models"].size(), 1u);
  EXPECT_EQ(info["models"][0]["id"], "stories");
  auto p = registry().provider(wallet(kProvider).address());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->registered);
  EXPECT_EQ(p->uri, url_);
  EXPECT_EQ(p->stake, dusd(100));
  ASSERT_EQ(p->models.size(), 1u);
  EXPECT_EQ(to_hex(p->models[0]), info["models"][0]["model_id"]);
  auto models = get_json("/v1/models");
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "stories");
}

TEST_F(ProviderTest, PaidCompletionChargesCreditAndSignsAReceipt) {
  start_node();
  auto t = tickets(u256(500), sender_key());
  ASSERT_FALSE(t.empty());
  nlohmann::json body = {{"tickets", nlohmann::json::array()}};
  for (const auto& x : t) body["tickets"].push_back(market::ticket_to_json(x));
  auto c = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  u256 before = credit(wallet(kSender).address());
  EXPECT_GT(before, 0);

  auto r = post("/v1/completions", kBody, &sender_key());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  auto sr = market::receipt_from_json(j["dgrid_receipt"]);
  ASSERT_TRUE(sr) << sr.error().to_string();
  EXPECT_TRUE(market::verify_receipt_signature(*sr));
  EXPECT_EQ(sr->receipt.provider, wallet(kProvider).address());
  EXPECT_EQ(sr->verifying_contract, deployment_.disputes);
  EXPECT_EQ(sr->receipt.completion_tokens, j["usage"]["completion_tokens"].get<uint64_t>());
  // The canonical request hashes to the receipt's input hash and decodes to what was asked.
  auto req = from_hex(j["dgrid_request"].get<std::string>());
  ASSERT_TRUE(req);
  EXPECT_EQ(crypto::keccak256(*req), sr->receipt.input_hash);
  auto creq = market::decode_canonical(*req);
  ASSERT_TRUE(creq);
  EXPECT_EQ(creq->seed, 7u);
  EXPECT_EQ(creq->max_tokens, 12u);
  // Charged exactly the receipt's cost.
  EXPECT_EQ(credit(wallet(kSender).address()), before - sr->receipt.cost);
  // The provider's receipt store serves it.
  auto stored = get_json("/dgrid/v1/receipts/" + to_hex(sr->receipt.job_id));
  EXPECT_EQ(stored, j["dgrid_receipt"]);

  // Deterministic: the same request again gives the same output hash and text.
  auto r2 = post("/v1/completions", kBody, &sender_key());
  ASSERT_TRUE(r2 && r2->status == 200);
  auto j2 = nlohmann::json::parse(r2->body);
  EXPECT_EQ(j2["choices"][0]["text"], j["choices"][0]["text"]);
  EXPECT_EQ(j2["dgrid_receipt"]["output_hash"], j["dgrid_receipt"]["output_hash"]);
}

TEST_F(ProviderTest, StreamingCarriesTheReceiptInTheLastChunk) {
  start_node();
  auto t = tickets(u256(500), sender_key());
  std::string body = R"({"model":"stories","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"temperature":0,"seed":3,"stream":true})";
  net::ClientRequest rq;
  rq.method = "POST";
  rq.url = url_ + "/v1/chat/completions";
  rq.body = body;
  rq.headers = {{"X-Dgrid-Auth", sign_request(sender_key(), "POST", "/v1/chat/completions", body)},
                {"X-Dgrid-Tickets", market::encode_tickets_header(t)}};
  net::SseParser parser;
  std::vector<std::string> events;
  int status = 0;
  auto r = http_.request_stream(rq, [&](const net::ClientResponse& h) { status = h.status; },
                                [&](std::string_view d) {
                                  parser.feed(d, [&](std::string_view e) { events.emplace_back(e); });
                                  return true;
                                });
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(status, 200);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto last = nlohmann::json::parse(events[events.size() - 2]);
  ASSERT_TRUE(last.contains("dgrid_receipt"));
  EXPECT_TRUE(last["choices"].empty());
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    auto c = nlohmann::json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c["choices"][0]["delta"].contains("content")) text += c["choices"][0]["delta"]["content"].get<std::string>();
  }
  auto sr = market::receipt_from_json(last["dgrid_receipt"]);
  ASSERT_TRUE(sr);
  EXPECT_TRUE(market::verify_receipt_signature(*sr));
  EXPECT_EQ(sr->receipt.completion_tokens, last["usage"]["completion_tokens"].get<uint64_t>());
  EXPECT_FALSE(text.empty());
}

TEST_F(ProviderTest, RejectsBadPaymentAndChargesNothing) {
  start_node();
  const auto& me = wallet(kSender).address();
  // No auth header.
  auto r = post("/v1/completions", kBody, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("X-Dgrid-Auth"), std::string::npos);
  // Authenticated but no credit.
  r = post("/v1/completions", kBody, &sender_key());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 402) << r->body;
  EXPECT_NE(r->body.find("insufficient_credit"), std::string::npos);
  // A ticket signed by someone else than the sender it names.
  auto forged = tickets(u256(500), sender_key());
  ASSERT_FALSE(forged.empty());
  forged[0].sig = anvil_->dev_keys()[kStranger].sign(Hash32{});
  nlohmann::json body = {{"tickets", {market::ticket_to_json(forged[0])}}};
  r = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 402) << r->body;
  EXPECT_EQ(credit(me), 0);
  // A good ticket, then the same ticket again (replay).
  auto good = tickets(u256(100), sender_key());
  body = {{"tickets", {market::ticket_to_json(good[0])}}};
  r = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().to_string());
  u256 after_one = credit(me);
  r = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 402) << r->body;
  EXPECT_EQ(credit(me), after_one);
  // Expired ticket.
  auto p = params();
  p.expiration_block = block();
  market::TicketIssuer issuer(sender_key(), eth::dgrid_domain_separator(anvil_->chain_id(), deployment_.broker));
  auto old = issuer.issue(p, u256(100), nonce_);
  ASSERT_TRUE(old);
  body = {{"tickets", {market::ticket_to_json((*old)[0])}}};
  r = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 402) << r->body;
  EXPECT_NE(r->body.find("stale_ticket_params"), std::string::npos) << "the sender is told to re-read /info: " << r->body;
  EXPECT_EQ(credit(me), after_one);
  // Unknown model, malformed JSON, replayed auth header.
  r = post("/v1/completions", R"({"model":"nope","prompt":"x"})", &sender_key());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = post("/v1/completions", "{not json", &sender_key());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  net::ClientRequest rq;
  rq.method = "POST";
  rq.url = url_ + "/v1/completions";
  rq.body = kBody;
  rq.headers = {{"X-Dgrid-Auth", sign_request(sender_key(), "POST", "/v1/completions", kBody)}};
  auto first = http_.request(rq);
  auto again = http_.request(rq);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(again->status, 401) << again->body;
  EXPECT_NE(again->body.find("replayed"), std::string::npos);
  EXPECT_EQ(credit(me), after_one - (first->status == 200 ? u256(nlohmann::json::parse(first->body)["dgrid_receipt"]["cost"].get<std::string>()) : u256(0)));
}

TEST_F(ProviderTest, WinningTicketsAreRedeemedOnChain) {
  start_node("1");
  u256 before = balance(kProvider);
  auto t = tickets(u256(1), sender_key());
  ASSERT_EQ(t.size(), 1u);
  nlohmann::json body = {{"tickets", {market::ticket_to_json(t[0])}}};
  auto r = post("/dgrid/v1/credit", body.dump(), nullptr);
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().to_string());
  Hash32 digest = eth::ticket_digest(t[0].ticket, eth::dgrid_domain_separator(anvil_->chain_id(), deployment_.broker));
  bool used = false;
  for (int i = 0; i < 100 && !used; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto u = broker().is_used(digest);
    used = u && *u;
  }
  EXPECT_TRUE(used) << "the winning ticket was not redeemed within 10 s";
  EXPECT_EQ(balance(kProvider), before + t[0].ticket.face_value);
  // The rand was rotated: the next ticket must use the new recipient_rand_hash.
  EXPECT_NE(params().recipient_rand_hash, t[0].ticket.recipient_rand_hash);
}

}  // namespace
}  // namespace dgrid::node
