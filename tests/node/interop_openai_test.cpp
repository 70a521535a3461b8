// The official `openai` npm client, unmodified, against a real dgrid network started in this
// process: a fresh anvil with dgrid's contracts, two provider nodes serving ../shared's
// stories260K, and a gateway node with an API key, all from TOML configs through
// node::Node::start. tests/interop/openai.mjs drives the client (models, chat and legacy
// completions, streaming with usage, the stream helper, typed errors) and verifies each
// dgrid_receipt with ethers.verifyTypedData; this test asserts on the facts it prints.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "net/http_client.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "support/dgrid_chain.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kApiKey = "sk-dgrid-interop";
constexpr const char* kModelName = "stories";
constexpr size_t kGatewayWallet = 5;

class OpenAiInteropTest : public test::DgridChainTest {
 protected:
  void SetUp() override {
    DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string tmpl = (fs::temp_directory_path() / "dgrid_openai_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "deployment.json") << deployment_.to_json().dump();
  }

  void TearDown() override {
    for (auto& n : nodes_) n->stop();
    nodes_.clear();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string common(size_t wallet_index) const {
    return "data_dir = \"data\"\n[chain]\nrpc = \"" + anvil_->rpc_url() +
           "\"\ndeployment = \"../deployment.json\"\npoll_interval_ms = 200\n[key]\nprivate_key = \"" +
           to_hex(anvil_->dev_keys().at(wallet_index).secret()) + "\"\n";
  }

  // nullptr (with the failure recorded) when the config or the start fails.
  Node* start_node(const std::string& name, const std::string& toml) {
    auto dir = dir_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / "node.toml") << toml;
    auto cfg = NodeConfig::load(dir / "node.toml");
    if (!cfg) {
      ADD_FAILURE() << name << ": " << cfg.error().to_string();
      return nullptr;
    }
    auto n = Node::start(*cfg);
    if (!n) {
      ADD_FAILURE() << name << ": " << n.error().to_string();
      return nullptr;
    }
    nodes_.push_back(std::move(*n));
    return nodes_.back().get();
  }

  Node* start_provider(size_t wallet_index, const fs::path& model) {
    return start_node("provider" + std::to_string(wallet_index),
                      common(wallet_index) +
                          "[provider]\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\ncapacity = 2\nface_value = \"0.01\"\n"
                          "win_prob = \"0.01\"\njuror = false\n[[provider.models]]\nname = \"" +
                          kModelName + "\"\npath = \"" + model.string() + "\"\nprice_input = \"1\"\nprice_output = \"2\"\n");
  }

  Node* start_gateway() {
    return start_node("gateway", common(kGatewayWallet) + "[gateway]\nlisten = \"127.0.0.1:0\"\napi_keys = [\"" + kApiKey +
                                     "\"]\nspot_check_rate = 0.0\ndiscovery_interval_ms = 200\n"
                                     "deposit = \"100\"\nreserve = \"10\"\n");
  }

  net::ClientResponse get(const std::string& url) {
    net::ClientRequest r;
    r.method = "GET";
    r.url = url;
    r.headers.emplace_back("Authorization", std::string("Bearer ") + kApiKey);
    auto resp = http_.request(r);
    return resp ? *resp : net::ClientResponse{};
  }

  // Polls GET /v1/models until the model is listed with `providers` live providers.
  bool wait_for_providers(const std::string& gateway, int providers) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get(gateway + "/v1/models");
      if (r.status == 200) {
        auto j = json::parse(r.body, nullptr, false);
        if (j.is_object() && j["data"].is_array()) {
          for (const auto& m : j["data"])
            if (m.value("id", "") == kModelName && m.contains("dgrid") && m["dgrid"].value("providers", 0) == providers)
              return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  fs::path dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
  net::HttpClient http_;
};

// A receipt as openai.mjs reports it: present, verified by ethers against the deployment's
// domain, signed by one of our providers, for this chain and Disputes contract.
void expect_verified_receipt(const json& r, const std::set<std::string>& providers, const eth::Deployment& d,
                             const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(r.is_object()) << r.dump();
  ASSERT_EQ(r["present"], true) << r.dump();
  EXPECT_EQ(r["verified"], true) << r.dump();
  EXPECT_EQ(r["recovered"], r["provider"]) << r.dump();
  EXPECT_TRUE(providers.count(r["provider"].get<std::string>())) << r.dump();
  EXPECT_EQ(r["chain_id"], d.chain_id);
  EXPECT_EQ(r["verifying_contract"], d.disputes.checksummed());
}

void expect_error(const json& e, const std::string& cls, int status, const std::string& code, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(e.is_object()) << e.dump();
  EXPECT_EQ(e["raised"], true) << e.dump();
  EXPECT_EQ(e["class"], cls) << e.dump();
  EXPECT_EQ(e["status"], status) << e.dump();
  EXPECT_EQ(e["code"], code) << e.dump();
}

TEST_F(OpenAiInteropTest, OfficialClientWorksUnmodified) {
  DGRID_SHARED_OR_SKIP(model, "models/stories260K.gguf");
  DGRID_INTEROP_OR_SKIP();
  if (!fs::exists(fs::path(DGRID_TOOLS_DIR) / "openai")) {
    if (test::shared_required()) FAIL() << "tools/node_modules/openai missing: run scripts/setup";
    GTEST_SKIP() << "tools/node_modules/openai missing: run scripts/setup";
  }
  std::set<std::string> providers;
  for (size_t i : {1, 2}) {
    Node* p = start_provider(i, model);
    ASSERT_NE(p, nullptr);
    providers.insert(p->address());
  }
  Node* gateway = start_gateway();
  ASSERT_NE(gateway, nullptr);
  const std::string base = gateway->gateway_url();
  ASSERT_TRUE(wait_for_providers(base, 2)) << "the gateway did not list both providers: " << get(base + "/v1/models").body;

  auto run = test::run_node_script(
      "openai.mjs", {base + "/v1", kApiKey, kModelName, std::to_string(deployment_.chain_id), deployment_.disputes.checksummed()});
  ASSERT_EQ(run.exit_code, 0) << "openai.mjs failed (its stderr is in the test log); stdout: " << run.out;
  auto out = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << run.out;
  std::cout << "openai.mjs summary: " << out.dump() << "\n";
  EXPECT_FALSE(out["client_version"].get<std::string>().empty());

  // models.list() iterates the gateway's list.
  bool listed = false;
  for (const auto& m : out["models"]) listed = listed || (m["id"] == kModelName && m["object"] == "model");
  EXPECT_TRUE(listed) << out["models"].dump();

  // Non-streaming chat: content, usage, and the extra dgrid_receipt field.
  const json& chat = out["chat"];
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["role"], "assistant");
  ASSERT_TRUE(chat["content"].is_string()) << chat.dump();
  EXPECT_FALSE(chat["content"].get<std::string>().empty());
  ASSERT_TRUE(chat["usage"].is_object()) << chat.dump();
  EXPECT_GT(chat["usage"]["prompt_tokens"].get<uint64_t>(), 0u);
  EXPECT_GT(chat["usage"]["completion_tokens"].get<uint64_t>(), 0u);
  EXPECT_LE(chat["usage"]["completion_tokens"].get<uint64_t>(), 16u);
  EXPECT_EQ(chat["usage"]["total_tokens"].get<uint64_t>(),
            chat["usage"]["prompt_tokens"].get<uint64_t>() + chat["usage"]["completion_tokens"].get<uint64_t>());
  EXPECT_TRUE(chat["receipt_error"].is_null()) << chat.dump();
  expect_verified_receipt(chat["receipt"], providers, deployment_, "chat");
  EXPECT_EQ(chat["receipt"]["prompt_tokens"], chat["usage"]["prompt_tokens"]);
  EXPECT_EQ(chat["receipt"]["completion_tokens"], chat["usage"]["completion_tokens"]);
  EXPECT_EQ(chat["dgrid_provider"], chat["receipt"]["provider"]);

  // Legacy completions.
  const json& completion = out["completion"];
  EXPECT_EQ(completion["object"], "text_completion");
  ASSERT_TRUE(completion["text"].is_string()) << completion.dump();
  EXPECT_FALSE(completion["text"].get<std::string>().empty());
  EXPECT_GT(completion["usage"]["completion_tokens"].get<uint64_t>(), 0u);
  EXPECT_TRUE(completion["receipt_error"].is_null()) << completion.dump();
  expect_verified_receipt(completion["receipt"], providers, deployment_, "completion");

  // Streaming chat with include_usage: deltas that concatenate to the plain answer.
  const json& stream = out["stream"];
  EXPECT_GE(stream["content_chunks"].get<int>(), 1) << stream.dump();
  EXPECT_EQ(stream["objects"], json::array({"chat.completion.chunk"}));
  EXPECT_FALSE(stream["text"].get<std::string>().empty());
  EXPECT_EQ(stream["equals_plain"], true) << "streamed: " << stream["text"] << "\nplain:    " << stream["plain_text"];
  ASSERT_TRUE(stream["usage"].is_object()) << stream.dump();
  EXPECT_GT(stream["usage"]["completion_tokens"].get<uint64_t>(), 0u);
  EXPECT_TRUE(stream["finish_reason"] == "length" || stream["finish_reason"] == "stop") << stream.dump();
  expect_verified_receipt(stream["receipt"], providers, deployment_, "stream");
  EXPECT_EQ(stream["receipt"]["completion_tokens"], stream["usage"]["completion_tokens"]);

  // The client's stream helper assembles the same chunks into a ChatCompletion.
  EXPECT_FALSE(out["stream_helper"]["content"].get<std::string>().empty()) << out["stream_helper"].dump();
  EXPECT_EQ(out["stream_helper"]["content"], out["stream_helper"]["deltas"]);
  EXPECT_EQ(out["completion_stream"]["equals_plain"], true) << out["completion_stream"].dump();

  // Errors raise the client's typed exceptions.
  const json& errors = out["errors"];
  expect_error(errors["wrong_key"], "AuthenticationError", 401, "invalid_api_key", "wrong key");
  expect_error(errors["wrong_key_models"], "AuthenticationError", 401, "invalid_api_key", "wrong key, models");
  expect_error(errors["unknown_model"], "NotFoundError", 404, "model_not_found", "unknown model");
  expect_error(errors["unknown_model_stream"], "NotFoundError", 404, "model_not_found", "unknown model, streamed");
  expect_error(errors["bad_temperature"], "BadRequestError", 400, "invalid_request", "temperature 5");

  // The receipts the client saw are the gateway's stored ones.
  for (const char* k : {"chat", "completion", "stream"}) {
    auto r = get(base + "/dgrid/v1/receipts/" + out[k]["receipt"]["job_id"].get<std::string>());
    EXPECT_EQ(r.status, 200) << k << ": " << r.body;
  }
}

}  // namespace
}  // namespace dgrid::node
