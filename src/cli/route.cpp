// dgrid route explain: asks a gateway how it would route a request right now, and why —
// every candidate provider with its score components, eligibility and the pick.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "net/http_client.hpp"

namespace dgrid::cli {
namespace {

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

void register_route(CLI::App& app) {
  auto* route = app.add_subcommand("route", "Inspect a gateway's routing");
  route->require_subcommand(1);
  auto* cmd = route->add_subcommand("explain", "Show how the gateway would route a request now, with every provider's score");
  struct Opts {
    std::string gateway = "http://127.0.0.1:8787", model, api_key;
    uint32_t max_tokens = 128, prompt_tokens = 32;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--gateway", o->gateway, "gateway base URL")->capture_default_str();
  cmd->add_option("--model", o->model, "model name as in GET /v1/models")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "max_tokens of the hypothetical request")->capture_default_str();
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "prompt length of the hypothetical request")->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "gateway API key (or env DGRID_API_KEY)")->envname("DGRID_API_KEY");
  cmd->add_flag("--json", o->json, "print the gateway's JSON");
  cmd->callback([o] {
    net::HttpClient http;
    net::ClientRequest rq;
    rq.url = o->gateway + "/dgrid/v1/route/explain?model=" + url_encode(o->model) +
             "&max_tokens=" + std::to_string(o->max_tokens) + "&prompt_tokens=" + std::to_string(o->prompt_tokens);
    if (!o->api_key.empty()) rq.headers = {{"Authorization", "Bearer " + o->api_key}};
    auto r = http.request(rq);
    if (!r) throw Exception(Error(r.error().code, "gateway " + o->gateway + ": " + r.error().message));
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status != 200) {
      std::string msg = j.is_object() && j.contains("error") ? j["error"].value("message", r->body) : r->body;
      throw Exception(Error(Errc::unavailable, "gateway answered " + std::to_string(r->status) + ": " + msg));
    }
    if (o->json || !j.is_object()) {
      print_json(j);
      return;
    }
    std::cout << j.value("summary", "") << "\n";
    if (j.contains("weights")) std::cout << "weights " << j["weights"].dump() << ", random pick among the best " << j.value("top_k", 0) << "\n";
    std::cout << "\n  rank  provider                                    p(pick)  total   price  latency  reliab.  stake  load   expected cost / latency\n";
    if (j.contains("candidates") && j["candidates"].is_array()) {
      for (const auto& c : j["candidates"]) {
        std::ostringstream line;
        bool chosen = c.value("reason", "") == "chosen";
        line << (chosen ? "  *" : "   ") << std::setw(3) << (c["rank"].is_number() ? std::to_string(c["rank"].get<int>()) : "-") << "  "
             << std::left << std::setw(44) << c.value("address", "?") << std::right;
        if (c.value("eligible", false)) {
          const auto& sc = c["scores"];
          line << std::fixed << std::setprecision(3) << std::setw(7) << c.value("pick_probability", 0.0) << std::setw(7)
               << c.value("total", 0.0) << std::setw(8) << sc.value("price", 0.0) << std::setw(9) << sc.value("latency", 0.0)
               << std::setw(9) << sc.value("reliability", 0.0) << std::setw(7) << sc.value("stake", 0.0) << std::setw(6)
               << sc.value("load", 0.0) << "   " << c["inputs"].value("expected_cost", "?") << " units / "
               << std::setprecision(1) << c["inputs"].value("expected_latency_ms", 0.0) << " ms"
               << (c["inputs"].value("latency_known", true) ? "" : " (prior)");
        } else {
          line << "  not eligible: " << c.value("reason", "?");
        }
        std::cout << line.str() << "\n";
      }
    }
  });
}

const CommandRegistrar kRegistrar{"route", register_route};

}  // namespace
}  // namespace dgrid::cli
