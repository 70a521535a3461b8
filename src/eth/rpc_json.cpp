#include "eth/rpc_json.hpp"

namespace dgrid::eth {

using nlohmann::json;

namespace {

Result<const json*> field(const json& j, std::string_view name) {
  if (!j.is_object()) return fail(Errc::malformed, "expected a JSON object holding '" + std::string(name) + "'");
  auto it = j.find(name);
  if (it == j.end()) return fail(Errc::malformed, "missing field '" + std::string(name) + "'");
  return &*it;
}

Result<std::string_view> hex_string(const json& j, std::string_view name) {
  if (!j.is_string()) return fail(Errc::malformed, "field '" + std::string(name) + "' is not a string");
  const std::string& s = j.get_ref<const std::string&>();
  if (!s.starts_with("0x")) return fail(Errc::malformed, "field '" + std::string(name) + "' is not 0x-hex: " + s.substr(0, 80));
  return std::string_view(s);
}

}  // namespace

Result<u256> json_quantity(const json& j, std::string_view name) {
  auto s = hex_string(j, name);
  if (!s) return std::unexpected(s.error());
  auto v = parse_u256(*s);
  if (!v || s->size() == 2) return fail(Errc::malformed, "field '" + std::string(name) + "' is not a hex quantity: " + std::string(s->substr(0, 80)));
  return v;
}

Result<uint64_t> json_u64(const json& j, std::string_view name) {
  auto v = json_quantity(j, name);
  if (!v) return std::unexpected(v.error());
  if (*v > std::numeric_limits<uint64_t>::max()) return fail(Errc::malformed, "field '" + std::string(name) + "' exceeds 64 bits");
  return static_cast<uint64_t>(*v);
}

Result<Bytes> json_data(const json& j, std::string_view name) {
  auto s = hex_string(j, name);
  if (!s) return std::unexpected(s.error());
  auto b = from_hex(*s);
  if (!b) return std::unexpected(b.error().context("field '" + std::string(name) + "'"));
  return b;
}

Result<Hash32> json_hash(const json& j, std::string_view name) {
  auto s = hex_string(j, name);
  if (!s) return std::unexpected(s.error());
  auto h = fixed_from_hex<32>(*s);
  if (!h) return std::unexpected(h.error().context("field '" + std::string(name) + "'"));
  return h;
}

Result<Address> json_address(const json& j, std::string_view name) {
  auto s = hex_string(j, name);
  if (!s) return std::unexpected(s.error());
  auto a = crypto::parse_address(*s);
  if (!a) return std::unexpected(a.error().context("field '" + std::string(name) + "'"));
  return a;
}

// Reads a named field of an object through one of the decoders above.
#define DGRID_FIELD(out, obj, name, decoder)                        \
  do {                                                              \
    auto f_ = field(obj, name);                                     \
    if (!f_) return std::unexpected(f_.error());                    \
    auto v_ = decoder(**f_, name);                                  \
    if (!v_) return std::unexpected(v_.error());                    \
    out = std::move(*v_);                                           \
  } while (0)

Result<Log> parse_log(const json& j) {
  Log log;
  DGRID_FIELD(log.address, j, "address", json_address);
  auto topics = field(j, "topics");
  if (!topics) return std::unexpected(topics.error());
  if (!(*topics)->is_array() || (*topics)->size() > 4) return fail(Errc::malformed, "log 'topics' must be an array of at most 4 hashes");
  for (const auto& t : **topics) {
    auto h = json_hash(t, "topics[]");
    if (!h) return std::unexpected(h.error());
    log.topics.push_back(*h);
  }
  DGRID_FIELD(log.data, j, "data", json_data);
  DGRID_FIELD(log.block_number, j, "blockNumber", json_u64);
  DGRID_FIELD(log.block_hash, j, "blockHash", json_hash);
  DGRID_FIELD(log.tx_hash, j, "transactionHash", json_hash);
  DGRID_FIELD(log.log_index, j, "logIndex", json_u64);
  if (auto it = j.find("removed"); it != j.end()) {
    if (!it->is_boolean()) return fail(Errc::malformed, "log 'removed' is not a boolean");
    log.removed = it->get<bool>();
  }
  return log;
}

Result<Receipt> parse_receipt(const json& j) {
  Receipt r;
  DGRID_FIELD(r.tx_hash, j, "transactionHash", json_hash);
  DGRID_FIELD(r.block_number, j, "blockNumber", json_u64);
  uint64_t status = 0;
  DGRID_FIELD(status, j, "status", json_u64);
  if (status > 1) return fail(Errc::malformed, "receipt 'status' must be 0x0 or 0x1");
  r.success = status == 1;
  DGRID_FIELD(r.gas_used, j, "gasUsed", json_u64);
  if (j.contains("effectiveGasPrice")) DGRID_FIELD(r.effective_gas_price, j, "effectiveGasPrice", json_quantity);
  if (auto it = j.find("contractAddress"); it != j.end() && !it->is_null()) {
    auto a = json_address(*it, "contractAddress");
    if (!a) return std::unexpected(a.error());
    r.contract_address = *a;
  }
  auto logs = field(j, "logs");
  if (!logs) return std::unexpected(logs.error());
  if (!(*logs)->is_array()) return fail(Errc::malformed, "receipt 'logs' is not an array");
  for (const auto& lj : **logs) {
    auto l = parse_log(lj);
    if (!l) return std::unexpected(l.error().context("receipt log"));
    r.logs.push_back(std::move(*l));
  }
  return r;
}

Result<BlockHeader> parse_block_header(const json& j) {
  BlockHeader b;
  DGRID_FIELD(b.number, j, "number", json_u64);
  DGRID_FIELD(b.hash, j, "hash", json_hash);
  DGRID_FIELD(b.timestamp, j, "timestamp", json_u64);
  if (j.contains("baseFeePerGas")) {
    u256 fee;
    DGRID_FIELD(fee, j, "baseFeePerGas", json_quantity);
    b.base_fee = fee;
  }
  return b;
}

}  // namespace dgrid::eth
