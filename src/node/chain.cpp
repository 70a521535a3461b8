#include "node/chain.hpp"

#include <fstream>

#include "eth/devnet.hpp"
#include "eth/ticket.hpp"

namespace dgrid::node {

Result<eth::Deployment> load_deployment(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) file = path / "devnet.json";
  std::ifstream in(file);
  if (!in) return fail(Errc::not_found, "cannot read deployment file " + file.string() + " (run `dgrid devnet up` or `dgrid chain deploy --out FILE`)");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    return fail(Errc::malformed, "deployment file " + file.string() + " is not JSON: " + e.what());
  }
  // A devnet.json nests the deployment under "contracts"; a bare record is the deployment.
  if (j.is_object() && j.contains("contracts") && j.contains("rpc_url")) {
    auto info = eth::DevnetInfo::from_json(j);
    if (!info) return fail(info.error().code, file.string() + ": " + info.error().message);
    return info->contracts;
  }
  auto d = eth::Deployment::from_json(j);
  if (!d) return fail(d.error().code, file.string() + ": " + d.error().message);
  return *d;
}

Result<std::unique_ptr<ChainContext>> ChainContext::connect(const std::string& rpc_url,
                                                            const eth::Deployment& deployment,
                                                            const crypto::PrivateKey& key) {
  std::unique_ptr<ChainContext> c(new ChainContext());
  auto rpc = eth::RpcClient::connect(rpc_url);
  if (!rpc) return fail(rpc.error().code, "chain rpc " + rpc_url + ": " + rpc.error().message);
  c->rpc_ = std::move(*rpc);
  auto id = c->rpc_->chain_id();
  if (!id) return fail(id.error().code, "chain rpc " + rpc_url + ": " + id.error().message);
  if (*id != deployment.chain_id) {
    return fail(Errc::invalid_argument, "chain " + rpc_url + " has chain id " + std::to_string(*id) +
                                            " but the deployment is for chain " + std::to_string(deployment.chain_id));
  }
  c->deployment_ = deployment;
  c->nonces_ = std::make_unique<eth::NonceManager>(*c->rpc_);
  c->wallet_ = std::make_unique<eth::Wallet>(*c->rpc_, *c->nonces_, key, *id);
  auto contracts = eth::DgridContracts::at(*c->rpc_, deployment);
  if (!contracts) return fail(contracts.error().code, "dgrid contracts: " + contracts.error().message);
  c->contracts_ = std::make_unique<eth::DgridContracts>(std::move(*contracts));
  c->broker_domain_ = eth::dgrid_domain_separator(*id, deployment.broker);
  c->disputes_domain_ = eth::dgrid_domain_separator(*id, deployment.disputes);
  if (auto h = c->refresh_head(); !h) return fail(h.error().code, "chain rpc " + rpc_url + ": " + h.error().message);
  return c;
}

Result<uint64_t> ChainContext::refresh_head() {
  auto n = rpc_->block_number();
  if (!n) return fail(n.error().code, n.error().message);
  head_.store(*n, std::memory_order_relaxed);
  return *n;
}

}  // namespace dgrid::node
