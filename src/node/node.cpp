#include "node/node.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include "crypto/keystore.hpp"
#include "crypto/keccak.hpp"
#include "net/http_server.hpp"
#include "node/chain.hpp"
#include "node/gateway.hpp"
#include "node/juror.hpp"
#include "node/metrics.hpp"
#include "node/provider.hpp"
#include "node/state.hpp"
#include "node/store_client.hpp"
#include "node/storer.hpp"

namespace dgrid::node {
namespace {

std::string url_of(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Starts one service's listener (idle keep-alive 2 min, `tune` for the rest) and returns its
// server; `url` gets http://host:port. Errors name the service and address.
Result<std::unique_ptr<net::HttpServer>> start_listener(const char* service, const ListenAddress& at, const net::Router& router,
                                                std::string& url, const std::function<void(net::ServerOptions&)>& tune = {}) {
  net::ServerOptions so;
  so.host = at.host;
  so.port = at.port;
  so.idle_timeout = std::chrono::minutes(2);
  if (tune) tune(so);
  auto server = net::HttpServer::start(so, router.handler());
  if (!server) return fail(server.error().code, std::string(service) + " listener " + at.to_string() + ": " + server.error().message);
  url = url_of(so.host, (*server)->port());
  return server;
}

}  // namespace

struct Node::Impl {
  NodeConfig config;
  std::unique_ptr<ChainContext> chain;
  std::unique_ptr<NodeState> state;
  std::unique_ptr<Registry> metrics;
  std::unique_ptr<Provider> provider;
  std::unique_ptr<Juror> juror;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<Storer> storer;
  net::Router provider_router, gateway_router, storer_router;
  std::unique_ptr<net::HttpServer> provider_server, gateway_server, storer_server;
  std::string provider_url, gateway_url, storer_url;
  bool stopped = false;
};

Node::~Node() { stop(); }

namespace {

// Models named by content id: fetched from storers (every block verified) into
// DATA_DIR/models/<cid> before the provider loads them; a copy already there is re-hashed.
Result<void> fetch_models_by_cid(Node::Impl& im, const std::function<void(const std::string&)>& say) {
  std::vector<std::string> sources = im.config.provider.model_sources;
  bool discovered = false;
  for (auto& m : im.config.provider.models) {
    if (m.cid.empty()) continue;
    auto cid = store::Cid::parse(m.cid);
    if (!cid) return fail(Errc::invalid_argument, "model " + m.name + ": " + cid.error().message);
    if (sources.empty() && !discovered) {
      auto found = discover_storers(im.chain->rpc(), im.chain->deployment());
      if (!found) return std::unexpected(found.error().context("finding storers for model " + m.name));
      for (const auto& s : *found) sources.push_back(s.url);
      discovered = true;
    }
    say("model " + m.name + ": fetching " + m.cid + " from " + std::to_string(sources.size()) + " storer(s), verifying every block ...");
    int last_pct = -10;
    auto path = ensure_content_file(*cid, im.config.data_dir / "models", sources, [&](uint64_t done, uint64_t total) {
      const int pct = total ? static_cast<int>(done * 100 / total) : 100;
      if (pct >= last_pct + 10 || done == total) {
        last_pct = pct;
        spdlog::info("model {}: {}% of {} bytes", m.name, pct, total);
      }
    });
    if (!path) return std::unexpected(path.error().context("model " + m.name + " (" + m.cid + ")"));
    say("model " + m.name + ": " + path->string() + " verified against " + m.cid);
    m.path = *path;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Node>> Node::start(const NodeConfig& config, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    spdlog::info("{}", s);
    if (progress) progress(s);
  };
  std::unique_ptr<Node> node(new Node());
  node->impl_ = std::make_unique<Impl>();
  Impl& im = *node->impl_;
  im.config = config;
  const NodeConfig& cfg = im.config;
  if (!cfg.provider.enabled && !cfg.gateway.enabled && !cfg.storer.enabled) {
    return fail(Errc::invalid_argument, "nothing to run: enable [provider], [gateway] and/or [storer] in the config");
  }

  auto key = load_key(cfg.key);
  if (!key) return std::unexpected(key.error());
  auto target = resolve_chain(cfg.chain);
  if (!target) return std::unexpected(target.error());
  say("connecting to chain " + target->rpc_url + " as " + key->address().checksummed());
  auto chain = ChainContext::connect(target->rpc_url, target->deployment, *key);
  if (!chain) return std::unexpected(chain.error());
  im.chain = std::move(*chain);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return fail(Errc::io, "cannot create data_dir " + cfg.data_dir.string() + ": " + ec.message());
  auto state = NodeState::open(cfg.data_dir);
  if (!state) return fail(state.error().code, "node state in " + cfg.data_dir.string() + ": " + state.error().message);
  im.state = std::move(*state);
  if (im.state->holds_released_at_open() > 0) {
    say("released " + std::to_string(im.state->holds_released_at_open()) + " credit holds left by an unfinished run (those jobs were not charged)");
  }
  im.metrics = std::make_unique<Registry>();

  auto common_routes = [&im](net::Router& r) {
    r.add("GET", "/metrics", [&im](net::Request&, net::ResponseWriter& w) {
      w.send(net::Response{200, std::string(kMetricsContentType), {}, im.metrics->render()});
    });
    r.add("GET", "/healthz", [](net::Request&, net::ResponseWriter& w) { w.send(net::json_response(200, {{"ok", true}})); });
  };

  // The storer listens before registration: its URL goes into the registration metadata.
  std::string storer_public;
  if (cfg.storer.enabled) {
    say("opening the blockstore ...");
    auto st = Storer::create(*im.chain, *im.state, *im.metrics, cfg);
    if (!st) return std::unexpected(st.error());
    im.storer = std::move(*st);
    im.storer->add_routes(im.storer_router);
    common_routes(im.storer_router);
    auto server = start_listener("storer", cfg.storer.listen, im.storer_router, im.storer_url, [&](net::ServerOptions& so) {
      so.max_body_bytes = cfg.storer.max_upload_batch;
      // Bodies are read before a handler can authenticate them: bound what anonymous clients
      // can make the storer buffer (64 connections x max_upload_batch), not 1024 of them.
      so.max_connections = 64;
      // A CAR batch of max_upload_batch bytes must arrive within the read timeout.
      so.read_timeout = std::chrono::minutes(5);
    });
    if (!server) return std::unexpected(server.error());
    im.storer_server = std::move(*server);
    storer_public = cfg.storer.public_url.empty() ? im.storer_url : cfg.storer.public_url;
    while (storer_public.ends_with('/')) storer_public.pop_back();
    say("storer listening on " + im.storer_url);
  }

  if (cfg.provider.enabled) {
    if (auto r = fetch_models_by_cid(im, say); !r) return std::unexpected(r.error());
    say("loading models ...");
    auto p = Provider::create(cfg, *im.chain, *im.state, *im.metrics);
    if (!p) return std::unexpected(p.error());
    im.provider = std::move(*p);
    im.provider->register_routes(im.provider_router);
    common_routes(im.provider_router);
    auto server = start_listener("provider", cfg.provider.listen, im.provider_router, im.provider_url);
    if (!server) return std::unexpected(server.error());
    im.provider_server = std::move(*server);
    std::string public_url = cfg.provider.public_url.empty() ? im.provider_url : cfg.provider.public_url;
    say("provider listening on " + im.provider_url + "; registering on chain ...");
    if (auto r = im.provider->go_online(public_url, storer_public); !r) return std::unexpected(r.error());
    if (cfg.provider.juror) {
      auto j = Juror::start(cfg, *im.chain, *im.state, *im.metrics, *im.provider);
      if (!j) return std::unexpected(j.error());
      im.juror = std::move(*j);
    }
  }

  if (im.storer) {
    if (!im.provider) {
      // Storers must be active registry providers to claim slots: register with the storer
      // URL as the service URI and no models, staking provider.stake.
      say("registering the storer on chain ...");
      if (auto r = register_and_stake(*im.chain, storer_public, registration_metadata({}, storer_public), cfg.provider.stake); !r)
        return std::unexpected(r.error());
    }
    if (auto r = im.storer->start(storer_public); !r) return std::unexpected(r.error());
  }

  if (cfg.gateway.enabled) {
    say("starting gateway ...");
    auto g = Gateway::start(cfg, *im.chain, *im.state, *im.metrics);
    if (!g) return std::unexpected(g.error());
    im.gateway = std::move(*g);
    im.gateway->register_routes(im.gateway_router);
    common_routes(im.gateway_router);
    auto server = start_listener("gateway", cfg.gateway.listen, im.gateway_router, im.gateway_url,
                         [&](net::ServerOptions& so) { so.max_body_bytes = cfg.gateway.max_request_bytes; });
    if (!server) return std::unexpected(server.error());
    im.gateway_server = std::move(*server);
    say("gateway listening on " + im.gateway_url);
  }

  // Where this node serves, for scripts and the demo (written last: its presence means ready).
  nlohmann::json ep = {{"address", im.chain->address().checksummed()},
                       {"pid", ::getpid()},
                       {"provider_url", im.provider_url},
                       {"gateway_url", im.gateway_url},
                       {"storer_url", im.storer_url}};
  if (auto w = crypto::write_file_atomic(cfg.data_dir / "endpoints.json", ep.dump(2) + "\n", 0644); !w) {
    return fail(w.error().code, "writing endpoints.json: " + w.error().message);
  }
  return node;
}

std::string Node::provider_url() const { return impl_->provider_url; }
std::string Node::gateway_url() const { return impl_->gateway_url; }
std::string Node::storer_url() const { return impl_->storer_url; }
std::string Node::address() const { return impl_->chain->address().checksummed(); }

void Node::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  std::error_code ec;
  std::filesystem::remove(impl_->config.data_dir / "endpoints.json", ec);
  // Stop taking requests first and let in-flight ones finish, then the background loops.
  if (impl_->gateway_server) impl_->gateway_server->stop(std::chrono::seconds(10));
  if (impl_->provider_server) impl_->provider_server->stop(std::chrono::seconds(10));
  if (impl_->storer_server) impl_->storer_server->stop(std::chrono::seconds(10));
  if (impl_->gateway) impl_->gateway->stop();
  if (impl_->juror) impl_->juror->stop();
  if (impl_->provider) impl_->provider->stop();
  if (impl_->storer) impl_->storer->stop();
  spdlog::info("node stopped");
}

}  // namespace dgrid::node

namespace dgrid::node {

namespace {

// %j: the log message as a JSON string body (quotes, backslashes and control characters
// escaped), so `log_format = "json"` lines stay valid JSON whatever the message holds.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string escaped = nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    // dump() adds the surrounding quotes; the pattern has its own.
    dest.append(escaped.data() + 1, escaped.data() + escaped.size() - 1);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

void configure_logging(const NodeConfig& c) {
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  if (c.log_format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonMessageFlag>('j').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","pid":%P,"message":"%j"})");
    spdlog::set_formatter(std::move(f));
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
}

}  // namespace dgrid::node
