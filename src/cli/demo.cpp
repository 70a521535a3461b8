// dgrid demo: the whole marketplace on one machine. A local chain (anvil, 1-second blocks),
// three provider nodes with different prices and latencies (one of them cheats on a share of
// its jobs), and a gateway, each a real `dgrid node` process on loopback. It sends a stream
// of real requests through the gateway, shows what happens live, waits for spot checks and
// disputes to play out on chain, and prints a summary with balances before and after.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "cli/common.hpp"
#include "store/segments.hpp"
#include "market/storage_pricing.hpp"
#include "node/chain.hpp"
#include "node/store_client.hpp"
#include "eth/anvil.hpp"
#include "eth/bindings.hpp"
#include "eth/devnet.hpp"
#include "infer/gguf.hpp"
#include "infer/synth.hpp"
#include "net/http_client.hpp"
#include "net/sse.hpp"

extern char** environ;

namespace dgrid::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

struct ProviderPlan {
  std::string role;
  std::string price_in, price_out;  // dUSD per million tokens
  unsigned latency_ms;
  double cheat_rate;
  std::string blurb;
};

const ProviderPlan kPlans[] = {
    {"provider-1", "10", "30", 0, 0.0, "mid price, fast, honest"},
    {"provider-2", "20", "60", 80, 0.0, "expensive, slower, honest"},
    {"provider-3", "5", "15", 0, 0.35, "cheapest, CHEATS on ~35% of jobs"},
};

const char* kPrompts[] = {
    "Once upon a time, there was a little girl named Lily.",
    "One day, a big dog went to the park.",
    "Tom and his mom went to the store to buy",
    "The sun was shining and the birds were singing.",
    "There was a small cat who liked to play with a ball.",
    "Sara had a red balloon. She",
    "Ben wanted to build a tall tower with his blocks.",
    "In a small house lived an old man and his dog.",
};

struct Child {
  std::string name;
  pid_t pid = -1;
  std::filesystem::path dir;
  std::string url;
};

pid_t spawn_node(const std::filesystem::path& config, const std::filesystem::path& log) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> argv = {self, "node", "--config", config.string()};
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Exception(Error(Errc::io, "cannot start `dgrid node`: " + std::string(strerror(rc))));
  return pid;
}

// Waits for DATA_DIR/endpoints.json, written by a node once it serves.
nlohmann::json wait_endpoints(const Child& c, std::chrono::seconds timeout) {
  auto file = c.dir / "data" / "endpoints.json";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
      throw Exception(Error(Errc::unavailable, c.name + " exited during startup; see " + (c.dir / "node.log").string()));
    }
    std::ifstream in(file);
    if (in) {
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw Exception(Error(Errc::timeout, c.name + " did not come up within " + std::to_string(timeout.count()) + " s; see " +
                                           (c.dir / "node.log").string()));
}

std::string toml_str(const std::string& s) { return nlohmann::json(s).dump(); }

// Whether a loopback TCP port can be bound now (the gateway's fixed demo port may be taken).
bool port_free(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Counters from the gateway's /dgrid/v1/stats.
uint64_t stat(const nlohmann::json& s, const char* group, const char* key) {
  if (!s.is_object() || !s.contains(group) || !s[group].is_object()) return 0;
  return s[group].value(key, uint64_t{0});
}
uint64_t spot_checks(const nlohmann::json& s) { return stat(s, "spot_checks", "run"); }
uint64_t mismatches(const nlohmann::json& s) { return stat(s, "spot_checks", "mismatches"); }
uint64_t disputes_opened(const nlohmann::json& s) { return stat(s, "disputes", "opened"); }
uint64_t disputes_resolved(const nlohmann::json& s) {
  return stat(s, "disputes", "won") + stat(s, "disputes", "lost") + stat(s, "disputes", "other");
}

struct Balances {
  u256 token, stake;
};

std::string dusd(const u256& v) { return format_units(v, 6); }
std::string dusd_delta(const u256& before, const u256& after) {
  if (after >= before) return "+" + format_units(after - before, 6);
  return "-" + format_units(before - after, 6);
}

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the whole marketplace locally: chain, 3 providers (one cheating), a gateway, real traffic");
  struct Opts {
    std::string model, dir = ".demo";
    unsigned requests = 96, concurrency = 3, max_tokens = 48;
    uint16_t port = 8787;
    double spot_check_rate = 0.3;
    bool once = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "a real GGUF model to serve (default: generate a small synthetic one)")->check(CLI::ExistingFile);
  cmd->add_option("--dir", o->dir, "working directory (chain, node configs, data, logs); wiped at start")->capture_default_str();
  cmd->add_option("--requests", o->requests, "requests to send")->capture_default_str();
  cmd->add_option("--concurrency", o->concurrency, "requests in flight")->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens, "max_tokens per request")->capture_default_str();
  cmd->add_option("--port", o->port, "gateway port (0: any free port)")->capture_default_str();
  cmd->add_option("--spot-check-rate", o->spot_check_rate,
                  "share of jobs the gateway re-executes (production default 0.05; higher here so a short demo shows disputes)")
      ->capture_default_str();
  cmd->add_flag("--once", o->once, "exit after the summary instead of keeping the network up");
  cmd->add_flag("--json", o->json, "print the summary as JSON");
  cmd->callback([o] {
    namespace fs = std::filesystem;
    auto say = [&](const std::string& s) {
      if (!o->json) std::cout << s << std::endl;
      else progress(s);
    };
    fs::path dir = fs::absolute(o->dir);
    std::error_code ec;
    if (fs::exists(dir / "devnet.json")) (void)eth::devnet_down(dir);
    fs::remove_all(dir, ec);
    fs::create_directories(dir);

    // ---- model
    fs::path model = o->model;
    bool synthetic = model.empty();
    if (synthetic) {
      model = dir / "synthetic-demo.gguf";
      auto spec = unwrap(infer::synth_preset("tiny"));
      spec.context = 512;
      unwrap(infer::write_synthetic_model(spec, nullptr, model));
      say("model: no --model given, so the demo generated a SYNTHETIC model with random weights (" + model.string() +
          "): its text is gibberish, but it runs through the same deterministic engine. Use --model FILE.gguf for a real one.");
    } else {
      say("model: " + fs::absolute(model).string());
    }

    // ---- chain
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    eth::DevnetOptions dopts;
    dopts.dir = dir;
    dopts.block_time_s = 1;
    // Short dispute windows so a case resolves within the demo (docs/economics.md has the
    // production values).
    dopts.params.commit_window = 10;
    dopts.params.reveal_window = 10;
    dopts.params.unbonding_delay = 40;
    // Storage epochs of 10 blocks (production: 256) so storers prove the model during the demo.
    dopts.params.epoch_length = 10;
    say("chain: starting anvil (1 s blocks) and deploying the dgrid contracts ...");
    auto devnet = unwrap(eth::Devnet::up(dopts, [&](const std::string& s) { progress("  " + s); }));
    const auto& info = devnet->info();
    say("chain: " + info.rpc_url + " chain id " + std::to_string(info.chain_id));

    // ---- nodes
    std::vector<Child> children;
    auto cleanup = [&] {
      for (auto& c : children) {
        if (c.pid > 0) eth::stop_process(c.pid, std::chrono::seconds(5));
        c.pid = -1;
      }
    };
    struct Guard {
      std::function<void()> f;
      ~Guard() { f(); }
    } guard{cleanup};

    auto key_of = [&](const std::string& role) { return unwrap(info.account(role))->private_key; };
    auto write_base_config = [&](std::ofstream& cfg, const std::string& role) {
      cfg << "data_dir = \"data\"\n"
          << "[chain]\nrpc = " << toml_str(info.rpc_url) << "\ndeployment = " << toml_str((dir / "devnet.json").string())
          << "\npoll_interval_ms = 500\n"
          << "[key]\nprivate_key = " << toml_str(key_of(role)) << "\n";
    };

    // ---- storage: two storers keep the model; providers fetch it by content id
    std::vector<std::string> storer_urls;
    for (const char* role : {"storer-1", "storer-2"}) {
      Child c{role, -1, dir / role, ""};
      fs::create_directories(c.dir);
      std::ofstream cfg(c.dir / "node.toml");
      cfg << "# " << role << ": keeps content for one-time endowments, proves it every epoch\n";
      write_base_config(cfg, role);
      cfg << "[provider]\nenabled = false\nstake = \"100\"\n[storer]\nlisten = \"127.0.0.1:0\"\n";
      cfg.close();
      c.pid = spawn_node(c.dir / "node.toml", c.dir / "node.log");
      children.push_back(c);
    }
    for (auto& c : children) {
      c.url = wait_endpoints(c, std::chrono::seconds(120)).value("storer_url", "");
      storer_urls.push_back(c.url);
      say("node: " + c.name + " up at " + c.url + "  (" + (c.dir / "node.log").string() + ")");
    }
    auto model_summary = unwrap(store::summarize_file(model));
    const std::string model_cid = model_summary.cid.to_string();
    nlohmann::json storage = {{"model_cid", model_cid}, {"size", model_summary.size}};
    {
      auto user_chain = unwrap(node::ChainContext::connect(info.rpc_url, info.contracts, unwrap(crypto::PrivateKey::from_hex(key_of("user")))));
      auto quote = unwrap(market::quote_endowment(model_summary.size, 2, market::StoragePriceParams{}));
      node::PutOptions po;
      po.replicas = 2;
      po.endowment = quote.total;
      po.storer_urls = storer_urls;
      po.wait_claims = std::chrono::seconds(60);
      node::PutEvents ev;
      ev.step = [&](const std::string& line) { say("storage: " + line); };
      auto put = unwrap(node::put_file(*user_chain, model, model_summary, po, ev));
      storage["deal_id"] = put.deal_id;
      storage["endowment"] = dusd(quote.total);
      storage["claimed"] = put.claimed;
      say("storage: model " + model_cid + " stored under deal " + std::to_string(put.deal_id) + " (endowment " + dusd(quote.total) +
          " dUSD, paid once); providers will fetch it by CID and verify every block");
    }
    const size_t storer_count = children.size();

    for (const auto& p : kPlans) {
      Child c{p.role, -1, dir / p.role, ""};
      fs::create_directories(c.dir);
      std::ofstream cfg(c.dir / "node.toml");
      cfg << "# " << p.role << ": " << p.blurb << "\n";
      write_base_config(cfg, p.role);
      cfg << "[provider]\nenabled = true\nlisten = \"127.0.0.1:0\"\nstake = \"100\"\ncapacity = 4\n"
          << "face_value = \"0.01\"\nwin_prob = \"0.1\"\nredeem_interval_ms = 2000\njuror = true\nlatency_ms = " << p.latency_ms << "\ncheat_rate = " << p.cheat_rate
          << "\n[[provider.models]]\nname = \"demo\"\ncid = " << toml_str(model_cid)
          << "\nprice_input = " << toml_str(p.price_in) << "\nprice_output = " << toml_str(p.price_out) << "\n";
      cfg.close();
      c.pid = spawn_node(c.dir / "node.toml", c.dir / "node.log");
      children.push_back(c);
    }
    uint16_t gateway_port = o->port;
    if (gateway_port != 0 && !port_free(gateway_port)) {
      say("gateway: port " + std::to_string(gateway_port) + " is in use; using a free port instead");
      gateway_port = 0;
    }
    Child gw{"gateway", -1, dir / "gateway", ""};
    fs::create_directories(gw.dir);
    const std::string api_key = "sk-dgrid-demo";
    {
      std::ofstream cfg(gw.dir / "node.toml");
      cfg << "# the user-facing gateway\n";
      write_base_config(cfg, "gateway");
      cfg << "[gateway]\nenabled = true\nlisten = \"127.0.0.1:" << gateway_port << "\"\napi_keys = [" << toml_str(api_key) << "]\n"
          << "spot_check_rate = " << o->spot_check_rate << "\ntop_up = \"0.01\"\ndiscovery_interval_ms = 1000\n"
          << "[provider]\nenabled = false\n";
    }
    gw.pid = spawn_node(gw.dir / "node.toml", gw.dir / "node.log");
    children.push_back(gw);

    for (size_t i = storer_count; i < children.size(); ++i) {
      auto& c = children[i];
      auto ep = wait_endpoints(c, std::chrono::seconds(120));
      c.url = ep.value(c.name == "gateway" ? "gateway_url" : "provider_url", "");
      say("node: " + c.name + " up at " + c.url + "  (" + (c.dir / "node.log").string() + ")");
    }
    std::string gateway = children.back().url;

    // ---- balances before
    auto rpc = unwrap(eth::RpcClient::connect(info.rpc_url));
    auto contracts = unwrap(eth::DgridContracts::at(*rpc, info.contracts));
    auto balances = [&] {
      std::map<std::string, Balances> b;
      for (const auto& p : kPlans) {
        auto a = unwrap(info.account(p.role))->address;
        b[p.role] = {unwrap(contracts.token.balance_of(a)), unwrap(contracts.registry.stake_of(a))};
      }
      auto g = unwrap(info.account("gateway"))->address;
      auto si = unwrap(contracts.broker.sender_info(g));
      b["gateway"] = {unwrap(contracts.token.balance_of(g)), si.deposit + si.reserve};
      return b;
    };

    net::HttpClient http;
    auto stats = [&]() -> nlohmann::json {
      net::ClientRequest rq;
      rq.url = gateway + "/dgrid/v1/stats";
      rq.timeout = std::chrono::seconds(5);
      auto r = http.request(rq);
      if (!r || r->status != 200) return nlohmann::json::object();
      return nlohmann::json::parse(r->body, nullptr, false);
    };
    // Discovery: wait until the gateway sees all three providers.
    say("gateway: discovering providers from chain events ...");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto models_ready = [&] {
      net::ClientRequest rq;
      rq.url = gateway + "/v1/models";
      rq.headers = {{"Authorization", "Bearer " + api_key}};
      auto r = http.request(rq);
      if (!r || r->status != 200) return false;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_object() || !j.contains("data")) return false;
      for (const auto& m : j["data"]) {
        if (m.value("id", "") == "demo" && m.contains("dgrid") && m["dgrid"].value("providers", 0) >= 3) return true;
      }
      return false;
    };
    while (true) {
      if (models_ready()) break;
      if (std::chrono::steady_clock::now() > deadline) throw Exception(Error(Errc::timeout, "gateway did not discover 3 providers in 60 s; see " + (gw.dir / "node.log").string()));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    auto before = balances();

    // ---- traffic
    say("traffic: " + std::to_string(o->requests) + " requests through the gateway (" + std::to_string(o->concurrency) +
        " at a time; half streamed, chat and plain completions)");
    std::atomic<unsigned> next{0}, done{0}, failed{0};
    std::atomic<uint64_t> tokens{0};
    std::mutex share_mu;
    std::map<std::string, unsigned> share;
    std::string last_receipt_json, last_error;
    auto t0 = std::chrono::steady_clock::now();
    auto worker = [&] {
      net::HttpClient client;
      std::mt19937 rng(std::random_device{}());
      while (!g_interrupted) {
        unsigned i = next.fetch_add(1);
        if (i >= o->requests) break;
        bool chat = i % 2 == 0, stream = (i / 2) % 2 == 0;
        nlohmann::json body = {{"model", "demo"}, {"max_tokens", o->max_tokens}, {"temperature", 0.8}, {"stream", stream}};
        std::string prompt = kPrompts[rng() % std::size(kPrompts)];
        if (chat) body["messages"] = {{{"role", "user"}, {"content", prompt}}};
        else body["prompt"] = prompt;
        net::ClientRequest rq;
        rq.method = "POST";
        rq.url = gateway + (chat ? "/v1/chat/completions" : "/v1/completions");
        rq.headers = {{"Authorization", "Bearer " + api_key}};
        rq.body = body.dump();
        rq.timeout = std::chrono::seconds(120);
        nlohmann::json final_obj;
        bool ok = false;
        if (stream) {
          net::SseParser parser;
          int status = 0;
          std::string err_body;
          auto r = client.request_stream(
              rq, [&](const net::ClientResponse& h) { status = h.status; },
              [&](std::string_view data) {
                if (status != 200) {
                  err_body.append(data.substr(0, 300));
                  return true;
                }
                parser.feed(data, [&](std::string_view ev) {
                  if (ev == "[DONE]") {
                    ok = status == 200 && final_obj.contains("dgrid_receipt");
                    return;
                  }
                  auto j = nlohmann::json::parse(ev, nullptr, false);
                  if (j.is_object() && j.contains("dgrid_receipt")) final_obj = j;
                  if (j.is_object() && j.contains("error")) err_body = j.dump();
                });
                return true;
              });
          ok = ok && r.has_value();
          if (!ok) {
            std::lock_guard lock(share_mu);
            last_error = !r ? r.error().message : "HTTP " + std::to_string(status) + " " + err_body;
          }
        } else {
          auto r = client.request(rq);
          if (r && r->status == 200) {
            final_obj = nlohmann::json::parse(r->body, nullptr, false);
            ok = final_obj.is_object() && final_obj.contains("dgrid_receipt");
          }
          if (!ok) {
            std::lock_guard lock(share_mu);
            last_error = !r ? r.error().message : "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 300);
          }
        }
        if (ok) {
          tokens += final_obj["usage"].value("completion_tokens", 0);
          std::lock_guard lock(share_mu);
          share[final_obj.value("dgrid_provider", "?")]++;
          last_receipt_json = final_obj.dump(2);
        } else {
          failed++;
        }
        done++;
      }
    };
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < std::max(1u, o->concurrency); ++i) workers.emplace_back(worker);
    bool tty = isatty(STDERR_FILENO);
    while (done.load() < o->requests && !g_interrupted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      auto s = stats();
      std::ostringstream line;
      line << "  requests " << done.load() << "/" << o->requests << "  failed " << failed.load() << "  tokens "
           << tokens.load() << "  " << std::fixed << std::setprecision(1) << tokens.load() / std::max(secs, 1e-3)
           << " tok/s  spot checks " << spot_checks(s) << "  mismatches " << mismatches(s) << "  disputes "
           << disputes_opened(s);
      if (tty) std::cerr << "\r" << line.str() << "   " << std::flush;
      else progress(line.str());
    }
    for (auto& t : workers) t.join();
    if (tty) std::cerr << std::endl;
    double traffic_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // ---- let verification, disputes and redemptions finish
    say("settling: waiting for spot checks, disputes (commit-reveal on chain), ticket redemptions and the storers' first proofs ...");
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);
    nlohmann::json s;
    uint64_t last_checks = UINT64_MAX;
    auto quiet_since = std::chrono::steady_clock::now();
    while (!g_interrupted) {
      s = stats();
      // Spot checks run in the background: done once their count has not moved for 5 s.
      if (spot_checks(s) != last_checks) {
        last_checks = spot_checks(s);
        quiet_since = std::chrono::steady_clock::now();
      }
      bool checks_done = std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(5);
      bool disputes_done = disputes_opened(s) == disputes_resolved(s);
      // Every storer of the model has proven at least one epoch on chain.
      const uint64_t now_block = rpc->block_number().value_or(0);
      auto proven = contracts.storage.contract().query_events("StorageProven", info.contracts.block, now_block);
      bool storage_done = proven && proven->size() >= storage.value("claimed", 0u);
      if ((checks_done && disputes_done && storage_done) || std::chrono::steady_clock::now() > deadline) break;
      if (tty) {
        std::cerr << "\r  spot checks " << spot_checks(s) << "  mismatches " << mismatches(s) << "  disputes open "
                  << disputes_opened(s) - disputes_resolved(s) << "  block " << rpc->block_number().value_or(0) << "   "
                  << std::flush;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (tty) std::cerr << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(3));  // one more redemption pass
    auto after = balances();

    // ---- chain facts
    uint64_t head = unwrap(rpc->block_number());
    auto redeemed = unwrap(contracts.broker.contract().query_events("WinningTicketRedeemed", info.contracts.block, head));
    auto slashes = unwrap(contracts.registry.contract().query_events("Slashed", info.contracts.block, head));
    std::map<crypto::Address, std::string> role_of;
    for (const auto& a : info.accounts) role_of[a.address] = a.role;
    auto role = [&](const std::string& addr) {
      auto a = crypto::parse_address(addr);
      if (a && role_of.count(*a)) return role_of[*a];
      return addr;
    };

    nlohmann::json summary = {
        {"requests", o->requests},
        {"failed", failed.load()},
        {"last_failure", last_error},
        {"completion_tokens", tokens.load()},
        {"seconds", traffic_s},
        {"tokens_per_s", tokens.load() / std::max(traffic_s, 1e-3)},
        {"tickets_sent", s.value("tickets_sent", uint64_t{0})},
        {"tickets_redeemed_on_chain", redeemed.size()},
        {"spot_checks", spot_checks(s)},
        {"spot_check_mismatches", mismatches(s)},
        {"disputes_opened", disputes_opened(s)},
        {"disputes_resolved", disputes_resolved(s)},
        {"disputes_won_by_gateway", stat(s, "disputes", "won")},
        {"slashes", slashes.size()},
        {"synthetic_model", synthetic},
        {"gateway", gateway},
    };
    {
      uint64_t proofs = 0, missed = 0;
      u256 paid = 0;
      for (const auto& e : unwrap(contracts.storage.contract().query_events("StorageProven", info.contracts.block, head))) {
        auto ev = unwrap(eth::decode_storage_event(e));
        ++proofs;
        paid += std::get<eth::StorageProvenEvent>(ev).payment;
      }
      missed = unwrap(contracts.storage.contract().query_events("StorageProofMissed", info.contracts.block, head)).size();
      storage["proofs"] = proofs;
      storage["missed"] = missed;
      storage["paid"] = dusd(paid);
      summary["storage"] = storage;
    }
    nlohmann::json routing = nlohmann::json::object();
    for (const auto& [addr, n] : share) routing[role(addr)] = n;
    summary["routing"] = routing;
    nlohmann::json bal = nlohmann::json::object();
    for (const auto& [name, b] : before) {
      const auto& a = after[name];
      bal[name] = {{"wallet_before", dusd(b.token)}, {"wallet_after", dusd(a.token)},
                   {name == "gateway" ? "broker_funds_before" : "stake_before", dusd(b.stake)},
                   {name == "gateway" ? "broker_funds_after" : "stake_after", dusd(a.stake)}};
    }
    summary["balances"] = bal;

    if (o->json) {
      print_json(summary);
    } else {
      std::cout << "\n==================== dgrid demo summary ====================\n"
                << "requests      " << o->requests << " sent, " << failed.load() << " failed, " << tokens.load()
                << " tokens generated in " << std::fixed << std::setprecision(1) << traffic_s << " s ("
                << tokens.load() / std::max(traffic_s, 1e-3) << " tok/s)\n"
                << (last_error.empty() ? "" : "last failure  " + last_error + "\n") << "routing       ";
      for (const auto& p : kPlans) {
        unsigned n = 0;
        for (const auto& [addr, k] : share) if (role(addr) == p.role) n = k;
        std::cout << p.role << " " << n << "  ";
      }
      std::cout << "\n"
                << "tickets       " << s.value("tickets_sent", uint64_t{0}) << " sent by the gateway, " << redeemed.size()
                << " winning tickets redeemed on chain\n"
                << "verification  " << spot_checks(s) << " spot checks, " << mismatches(s) << " mismatches, "
                << disputes_opened(s) << " disputes opened, " << disputes_resolved(s) << " resolved ("
                << stat(s, "disputes", "won") << " won by the gateway), " << slashes.size() << " slashes\n"
                << "storage       model " << model_cid << " in deal " << storage.value("deal_id", uint64_t{0}) << ", "
                << storage.value("claimed", 0u) << " replicas, " << storage["proofs"].get<uint64_t>() << " storage proofs verified on chain ("
                << storage["paid"].get<std::string>() << " dUSD paid to storers), " << storage["missed"].get<uint64_t>() << " missed\n\n"
                << "balances (dUSD)          wallet before -> after (change)        stake / broker funds before -> after\n";
      for (const auto& p : kPlans) {
        const auto& b = before[p.role];
        const auto& a = after[p.role];
        std::cout << "  " << std::left << std::setw(11) << p.role << std::setw(12) << (" (" + std::string(p.blurb.substr(0, 8)) + ")")
                  << dusd(b.token) << " -> " << dusd(a.token) << " (" << dusd_delta(b.token, a.token) << ")    "
                  << dusd(b.stake) << " -> " << dusd(a.stake) << " (" << dusd_delta(b.stake, a.stake) << ")\n";
      }
      const auto& gb = before["gateway"];
      const auto& ga = after["gateway"];
      std::cout << "  gateway               " << dusd(gb.token) << " -> " << dusd(ga.token) << " (" << dusd_delta(gb.token, ga.token)
                << ")    " << dusd(gb.stake) << " -> " << dusd(ga.stake) << " (" << dusd_delta(gb.stake, ga.stake) << ")\n";
      size_t empty_slashes = 0;
      for (const auto& e : slashes) {
        auto who = e.values.get("provider");
        auto amount = e.values.get("slashed");
        if (amount && amount->as_uint() && *amount->as_uint() == 0) {
          ++empty_slashes;  // later cases against a provider whose stake is already gone
          continue;
        }
        std::cout << "  slashed: " << (who ? role(who->as_address()->checksummed()) : "?") << " lost "
                  << (amount ? dusd(*amount->as_uint()) : "?") << " dUSD of stake\n";
      }
      if (empty_slashes > 0) {
        std::cout << "  (" << empty_slashes << " later verdicts found no stake left to slash)\n";
      }
      std::cout << "=============================================================\n";
      if (!last_receipt_json.empty()) {
        std::ofstream(dir / "last-response.json") << last_receipt_json;
        std::cout << "a signed receipt: " << (dir / "last-response.json").string() << "\n  verify it: dgrid verify "
                  << (dir / "last-response.json").string() << " --devnet " << dir.string() << "\n";
      }
    }
    if (o->once || g_interrupted) return;

    std::cout << "\nThe network stays up. Try it (Ctrl-C to stop):\n"
              << "  curl -s " << gateway << "/v1/chat/completions -H 'Authorization: Bearer " << api_key << "' \\\n"
              << "    -H 'Content-Type: application/json' \\\n"
              << "    -d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":32}'\n"
              << "  any OpenAI client: base_url=" << gateway << "/v1 api_key=" << api_key << " model=demo\n"
              << "  dgrid route explain --gateway " << gateway << " --model demo\n"
              << "  metrics: " << gateway << "/metrics   logs: " << dir.string() << "/*/node.log\n"
              << std::flush;
    while (!g_interrupted) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::cout << "\nstopping ..." << std::endl;
  });
}

const CommandRegistrar kRegistrar{"demo", register_demo};

}  // namespace
}  // namespace dgrid::cli
