// dgrid verify: checks an inference receipt offline (EIP-712 signature by the provider it
// names), optionally against the chain (the signer is a registered provider declaring the
// model, the receipt is for this deployment) and optionally by re-executing the job with the
// deterministic engine (the output hash must match bit for bit).
#include <fstream>
#include <iostream>

#include "cli/common.hpp"
#include "crypto/keccak.hpp"
#include "infer/engine.hpp"
#include "market/canonical.hpp"
#include "market/receipt.hpp"
#include "eth/devnet.hpp"
#include "node/chain.hpp"
#include "node/provider.hpp"

namespace dgrid::cli {
namespace {

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

void register_verify(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify", "Verify a provider-signed inference receipt (offline, on chain, by re-execution)");
  struct Opts {
    std::string file, rpc, deployment, devnet_dir, model, request;
    bool reexecute = false, json = false;
    uint32_t threads = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("RECEIPT", o->file,
                  "receipt JSON: a dgrid_receipt object, a whole API response holding one, or a stored receipt")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--rpc", o->rpc, "chain RPC URL: also check the signer is a registered provider of the model");
  cmd->add_option("--deployment", o->deployment, "deployment record (devnet.json or `chain deploy --out` file)");
  cmd->add_option("--devnet", o->devnet_dir, "use the devnet recorded in DIR (rpc and deployment)");
  cmd->add_flag("--reexecute", o->reexecute, "re-run the job with the deterministic engine and compare output hashes");
  cmd->add_option("--model", o->model, "GGUF file of the receipt's model (for --reexecute)")->check(CLI::ExistingFile);
  cmd->add_option("--request", o->request,
                  "canonical request (0x-hex or a file holding it) when RECEIPT has no dgrid_request");
  cmd->add_option("--threads", o->threads, "engine threads for --reexecute")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(read_text_file(o->file));
    } catch (const nlohmann::json::exception& e) {
      throw Exception(Error(Errc::malformed, o->file + " is not JSON: " + e.what()));
    }
    nlohmann::json rj = doc.contains("dgrid_receipt") ? doc["dgrid_receipt"] : doc;
    auto signed_receipt = market::receipt_from_json(rj);
    if (!signed_receipt) throw Exception(Error(signed_receipt.error().code, o->file + ": " + signed_receipt.error().message));
    const auto& r = signed_receipt->receipt;
    std::vector<Check> checks;
    bool all_ok = true;
    auto add = [&](std::string name, bool ok, std::string detail) {
      all_ok = all_ok && ok;
      checks.push_back({std::move(name), ok, std::move(detail)});
    };

    auto sig = market::verify_receipt_signature(*signed_receipt);
    add("signature", bool(sig), sig ? "signed by " + r.provider.checksummed() + " (EIP-712, Disputes " + signed_receipt->verifying_contract.checksummed() + ")" : sig.error().message);

    // --- chain
    std::string rpc = o->rpc;
    std::string deployment_path = o->deployment;
    if (!o->devnet_dir.empty()) {
      auto info = unwrap(eth::DevnetInfo::load(o->devnet_dir));
      if (rpc.empty()) rpc = info.rpc_url;
      if (deployment_path.empty()) deployment_path = o->devnet_dir;
    }
    if (!rpc.empty()) {
      if (deployment_path.empty()) throw Exception(Error(Errc::invalid_argument, "--rpc needs --deployment FILE (or use --devnet DIR)"));
      auto dep = unwrap(node::load_deployment(deployment_path));
      add("deployment", dep.chain_id == r.chain_id && dep.disputes == signed_receipt->verifying_contract,
          "receipt is for chain " + std::to_string(r.chain_id) + " / Disputes " + signed_receipt->verifying_contract.checksummed() +
              "; deployment is chain " + std::to_string(dep.chain_id) + " / Disputes " + dep.disputes.checksummed());
      auto client = unwrap(eth::RpcClient::connect(rpc));
      auto contracts = unwrap(eth::DgridContracts::at(*client, dep));
      auto p = unwrap(contracts.registry.provider(r.provider));
      bool serves = std::find(p.models.begin(), p.models.end(), r.model) != p.models.end();
      add("registered", p.registered, p.registered ? "provider registered at " + p.uri + ", stake " + format_units(p.stake, 6) + " dUSD" : "signer " + r.provider.checksummed() + " is not a registered provider");
      add("model declared", serves, serves ? "provider declares model " + to_hex(r.model) : "provider does not declare model " + to_hex(r.model) + " on chain");
    }

    // --- re-execution
    std::optional<Hash32> reexec_hash;
    if (o->reexecute) {
      if (o->model.empty()) throw Exception(Error(Errc::invalid_argument, "--reexecute needs --model FILE.gguf (the receipt's model)"));
      std::string req_hex;
      if (!o->request.empty()) {
        req_hex = o->request.rfind("0x", 0) == 0 ? o->request : read_text_file(o->request);
        while (!req_hex.empty() && std::isspace(static_cast<unsigned char>(req_hex.back()))) req_hex.pop_back();
      } else if (doc.contains("dgrid_request") && doc["dgrid_request"].is_string()) {
        req_hex = doc["dgrid_request"].get<std::string>();
      } else {
        throw Exception(Error(Errc::invalid_argument, "--reexecute needs the canonical request: RECEIPT has no dgrid_request; pass --request"));
      }
      Bytes bytes = unwrap(from_hex(req_hex));
      add("input hash", crypto::keccak256(bytes) == r.input_hash, "keccak256(request) " + to_hex(crypto::keccak256(bytes)) + " vs receipt " + to_hex(r.input_hash));
      auto creq = unwrap(market::decode_canonical(bytes));
      progress("hashing model " + o->model);
      Hash32 mid = unwrap(node::model_file_id(o->model));
      add("model file", mid == r.model && creq.model == r.model, "model file " + to_hex(mid) + " vs receipt " + to_hex(r.model));
      if (mid == r.model) {
        infer::LoadOptions lo;
        lo.threads = o->threads;
        auto model = unwrap(infer::Model::load(o->model, lo));
        infer::GenerateRequest g = node::to_generate_request(creq);
        progress("re-executing " + std::to_string(creq.prompt.size()) + " prompt tokens, up to " + std::to_string(creq.max_tokens) + " new");
        auto out = unwrap(model->new_session()->generate(g));
        reexec_hash = out.output_hash;
        add("output hash", out.output_hash == r.output_hash,
            out.output_hash == r.output_hash ? "re-execution reproduces " + to_hex(r.output_hash) + " (" + std::to_string(out.completion_tokens) + " tokens)"
                                             : "re-execution gives " + to_hex(out.output_hash) + ", receipt claims " + to_hex(r.output_hash));
      }
    }

    if (o->json) {
      nlohmann::json cj = nlohmann::json::array();
      for (const auto& c : checks) cj.push_back({{"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
      print_json({{"valid", all_ok}, {"job_id", to_hex(r.job_id)}, {"provider", r.provider.checksummed()}, {"checks", cj}});
    } else {
      std::cout << "receipt " << to_hex(r.job_id) << "\n"
                << "  provider " << r.provider.checksummed() << "  model " << to_hex(r.model) << "\n"
                << "  tokens " << r.prompt_tokens << " in / " << r.completion_tokens << " out, cost "
                << format_units(r.cost, 6) << " dUSD\n";
      for (const auto& c : checks) std::cout << (c.ok ? "  ok    " : "  FAIL  ") << c.name << ": " << c.detail << "\n";
      std::cout << (all_ok ? "VALID" : "INVALID") << std::endl;
    }
    if (!all_ok) throw CLI::RuntimeError(1);
  });
}

const CommandRegistrar kRegistrar{"verify", register_verify};

}  // namespace
}  // namespace dgrid::cli
