#include "eth/rpc.hpp"

#include <algorithm>
#include <thread>

#include "crypto/keccak.hpp"

namespace dgrid::eth {

using nlohmann::json;

namespace {

json call_to_json(const CallRequest& req) {
  json j = json::object();
  if (req.from) j["from"] = req.from->hex();
  if (req.to) j["to"] = req.to->hex();
  j["data"] = to_hex(req.data);
  if (req.value != 0) j["value"] = to_quantity(req.value);
  if (req.gas) j["gas"] = to_quantity(*req.gas);
  return j;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<RpcClient>> RpcClient::connect(std::string_view url, RpcOptions options) {
  auto parsed = parse_http_url(url);
  if (!parsed) return std::unexpected(parsed.error().context("RPC URL"));
  return std::unique_ptr<RpcClient>(new RpcClient(std::string(url), std::move(*parsed), options));
}

RpcClient::RpcClient(std::string url, HttpUrl parsed, RpcOptions options)
    : url_(std::move(url)), options_(options), http_(std::move(parsed)) {}

Result<json> RpcClient::call_once(const std::string& body) {
  auto res = http_.post(body, "application/json", options_.timeout);
  if (!res) return std::unexpected(res.error());
  if (res->status == 429 || res->status >= 500)
    return fail(Errc::unavailable, "RPC endpoint answered HTTP " + std::to_string(res->status));
  json reply = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded())
    return fail(Errc::malformed, "RPC endpoint answered HTTP " + std::to_string(res->status) + " with a body that is not JSON: " + res->body.substr(0, 120));
  if (!reply.is_object()) return fail(Errc::malformed, "RPC reply is not a JSON object");
  if (auto err = reply.find("error"); err != reply.end() && !err->is_null()) {
    std::string message = err->is_object() && err->contains("message") && (*err)["message"].is_string()
                              ? (*err)["message"].get<std::string>()
                              : err->dump();
    Bytes data;
    if (err->is_object() && err->contains("data") && (*err)["data"].is_string()) {
      if (auto d = from_hex((*err)["data"].get<std::string>())) data = std::move(*d);
    }
    bool reverted = contains(message, "revert") || (err->is_object() && err->value("code", 0) == 3);
    Error e{reverted ? Errc::reverted : Errc::rpc, message, std::move(data)};
    return std::unexpected(std::move(e));
  }
  auto it = reply.find("result");
  if (it == reply.end()) return fail(Errc::malformed, "RPC reply has neither 'result' nor 'error'");
  return std::move(*it);
}

Result<json> RpcClient::call(std::string_view method, json params) {
  json req = {{"jsonrpc", "2.0"}, {"id", next_id_++}, {"method", method}, {"params", std::move(params)}};
  std::string body = req.dump();
  auto delay = options_.backoff;
  Error last;
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    auto r = call_once(body);
    if (r) return r;
    last = r.error();
    if (last.code != Errc::unavailable && last.code != Errc::timeout) break;
    if (attempt < options_.max_attempts) {
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  }
  if (last.code == Errc::unavailable || last.code == Errc::timeout)
    last.message += " (after " + std::to_string(options_.max_attempts) + " attempts; is the chain running at " + url_ + "?)";
  return std::unexpected(last.context(method));
}

Result<uint64_t> RpcClient::chain_id() {
  auto r = call("eth_chainId", json::array());
  if (!r) return std::unexpected(r.error());
  return json_u64(*r, "eth_chainId");
}

Result<uint64_t> RpcClient::block_number() {
  auto r = call("eth_blockNumber", json::array());
  if (!r) return std::unexpected(r.error());
  return json_u64(*r, "eth_blockNumber");
}

Result<BlockHeader> RpcClient::block(std::optional<uint64_t> number) {
  auto r = call("eth_getBlockByNumber", json::array({number ? to_quantity(*number) : "latest", false}));
  if (!r) return std::unexpected(r.error());
  if (r->is_null()) return fail(Errc::not_found, "block " + (number ? std::to_string(*number) : "latest") + " not found");
  auto b = parse_block_header(*r);
  if (!b) return std::unexpected(b.error().context("eth_getBlockByNumber"));
  return b;
}

Result<u256> RpcClient::balance(const Address& who) {
  auto r = call("eth_getBalance", json::array({who.hex(), "latest"}));
  if (!r) return std::unexpected(r.error());
  return json_quantity(*r, "eth_getBalance");
}

Result<uint64_t> RpcClient::nonce(const Address& who, std::string_view block_tag) {
  auto r = call("eth_getTransactionCount", json::array({who.hex(), block_tag}));
  if (!r) return std::unexpected(r.error());
  return json_u64(*r, "eth_getTransactionCount");
}

Result<Bytes> RpcClient::code(const Address& who) {
  auto r = call("eth_getCode", json::array({who.hex(), "latest"}));
  if (!r) return std::unexpected(r.error());
  return json_data(*r, "eth_getCode");
}

Result<Bytes> RpcClient::eth_call(const CallRequest& req) {
  auto r = call("eth_call", json::array({call_to_json(req), "latest"}));
  if (!r) return std::unexpected(r.error());
  return json_data(*r, "eth_call");
}

Result<uint64_t> RpcClient::estimate_gas(const CallRequest& req) {
  auto r = call("eth_estimateGas", json::array({call_to_json(req)}));
  if (!r) return std::unexpected(r.error());
  return json_u64(*r, "eth_estimateGas");
}

Result<FeeSuggestion> RpcClient::suggest_fees() {
  auto head = block(std::nullopt);
  if (!head) return std::unexpected(head.error());
  FeeSuggestion f;
  f.base_fee = head->base_fee.value_or(0);
  auto tip = call("eth_maxPriorityFeePerGas", json::array());
  if (tip) {
    auto v = json_quantity(*tip, "eth_maxPriorityFeePerGas");
    if (!v) return std::unexpected(v.error());
    f.max_priority_fee_per_gas = *v;
  } else if (tip.error().code == Errc::rpc) {
    f.max_priority_fee_per_gas = 1'000'000'000;  // endpoint lacks the method: 1 gwei
  } else {
    return std::unexpected(tip.error());
  }
  f.max_fee_per_gas = 2 * f.base_fee + f.max_priority_fee_per_gas;
  return f;
}

Result<Hash32> RpcClient::send_raw_transaction(ByteView raw) {
  Hash32 expected = crypto::keccak256(raw);
  auto r = call("eth_sendRawTransaction", json::array({to_hex(raw)}));
  if (!r) {
    // A retried send whose first attempt got through is reported as a duplicate or as a
    // stale nonce; both mean our exact transaction is known, which is success.
    const std::string& msg = r.error().message;
    if (contains(msg, "already known") || contains(msg, "known transaction") || contains(msg, "already imported"))
      return expected;
    if (contains(msg, "nonce too low")) {
      auto rc = receipt(expected);
      if (rc && rc->has_value()) return expected;
    }
    return std::unexpected(r.error());
  }
  auto h = json_hash(*r, "eth_sendRawTransaction");
  if (!h) return std::unexpected(h.error());
  if (*h != expected)
    return fail(Errc::malformed, "node returned transaction hash " + to_hex(*h) + " but the signed bytes hash to " + to_hex(expected));
  return h;
}

Result<std::optional<Receipt>> RpcClient::receipt(const Hash32& tx_hash) {
  auto r = call("eth_getTransactionReceipt", json::array({to_hex(tx_hash)}));
  if (!r) return std::unexpected(r.error());
  if (r->is_null()) return std::optional<Receipt>{};
  auto rc = parse_receipt(*r);
  if (!rc) return std::unexpected(rc.error().context("eth_getTransactionReceipt"));
  if (rc->tx_hash != tx_hash) return fail(Errc::malformed, "receipt is for a different transaction");
  return std::optional<Receipt>(std::move(*rc));
}

Result<Receipt> RpcClient::wait_for_receipt(const Hash32& tx_hash, std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = receipt(tx_hash);
    if (!r) return std::unexpected(r.error());
    if (r->has_value()) return std::move(**r);
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(Errc::timeout, "transaction " + to_hex(tx_hash) + " not mined within " +
                                     std::to_string(timeout.count()) + " ms (it may still be mined later)");
    std::this_thread::sleep_for(poll);
  }
}

Result<std::vector<Log>> RpcClient::logs(const LogFilter& filter) {
  if (filter.to_block < filter.from_block) return std::vector<Log>{};
  json addresses = json::array();
  for (const auto& a : filter.addresses) addresses.push_back(a.hex());
  json topics = json::array();
  for (const auto& t : filter.topics) topics.push_back(t ? json(to_hex(*t)) : json(nullptr));
  std::vector<Log> out;
  uint64_t step = std::max<uint64_t>(1, options_.max_log_range);
  for (uint64_t from = filter.from_block; from <= filter.to_block;) {
    uint64_t to = std::min(filter.to_block, from + step - 1);
    json f = {{"fromBlock", to_quantity(from)}, {"toBlock", to_quantity(to)}, {"topics", topics}};
    if (!addresses.empty()) f["address"] = addresses;
    auto r = call("eth_getLogs", json::array({f}));
    if (!r) return std::unexpected(r.error());
    if (!r->is_array()) return fail(Errc::malformed, "eth_getLogs result is not an array");
    for (const auto& lj : *r) {
      auto l = parse_log(lj);
      if (!l) return std::unexpected(l.error().context("eth_getLogs"));
      if (l->block_number < from || l->block_number > to)
        return fail(Errc::malformed, "eth_getLogs returned a log from block " + std::to_string(l->block_number) + " outside the requested range");
      out.push_back(std::move(*l));
    }
    if (to == filter.to_block) break;
    from = to + 1;
  }
  return out;
}

}  // namespace dgrid::eth
