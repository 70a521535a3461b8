// Receipt hashing, signing and the receipt JSON codec.
#include "market/receipt.hpp"

#include <cstring>

#include "crypto/eip712.hpp"
#include "crypto/keccak.hpp"
#include "eth/ticket.hpp"
#include "market/json_fields.hpp"

namespace dgrid::market {

namespace {

constexpr std::string_view kReceiptType =
    "Receipt(bytes32 jobId,address provider,bytes32 model,bytes32 inputHash,bytes32 outputHash,uint64 promptTokens,"
    "uint64 completionTokens,uint256 cost,uint256 chainId,uint64 timestamp)";

Hash32 address_word(const crypto::Address& a) noexcept {
  Hash32 w{};
  std::memcpy(w.data() + 12, a.bytes.data(), a.bytes.size());
  return w;
}

}  // namespace

// Every Receipt field is static, so hashStruct is keccak256 over the type hash and one
// 32-byte word per field: no JSON, no allocation on the provider's per-job path.
Hash32 receipt_struct_hash(const Receipt& r) noexcept {
  static const Hash32 type_hash = crypto::keccak256(kReceiptType);
  crypto::Keccak256 h;
  h.update(type_hash);
  h.update(r.job_id);
  h.update(address_word(r.provider));
  h.update(r.model);
  h.update(r.input_hash);
  h.update(r.output_hash);
  h.update(to_be32(r.prompt_tokens));
  h.update(to_be32(r.completion_tokens));
  h.update(to_be32(r.cost));
  h.update(to_be32(r.chain_id));
  h.update(to_be32(r.timestamp));
  return h.finalize();
}

Hash32 receipt_digest(const Receipt& r, const crypto::Address& verifying_contract) noexcept {
  return crypto::eip712_digest(eth::dgrid_domain_separator(r.chain_id, verifying_contract), receipt_struct_hash(r));
}

SignedReceipt sign_receipt(const Receipt& r, const crypto::Address& disputes, const crypto::PrivateKey& key) noexcept {
  return {r, disputes, key.sign(receipt_digest(r, disputes))};
}

Result<void> verify_receipt_signature(const SignedReceipt& s) {
  auto signer = crypto::recover_address(receipt_digest(s.receipt, s.verifying_contract), s.signature);
  if (!signer) return std::unexpected(signer.error().context("receipt signature"));
  if (*signer != s.receipt.provider)
    return fail(Errc::permission_denied, "receipt signed by " + signer->checksummed() + ", not by its provider " +
                                             s.receipt.provider.checksummed());
  return {};
}

nlohmann::json receipt_to_json(const SignedReceipt& s) {
  const Receipt& r = s.receipt;
  return {
      {"job_id", to_hex(r.job_id)},
      {"provider", r.provider.checksummed()},
      {"model", to_hex(r.model)},
      {"input_hash", to_hex(r.input_hash)},
      {"output_hash", to_hex(r.output_hash)},
      {"prompt_tokens", r.prompt_tokens},
      {"completion_tokens", r.completion_tokens},
      {"cost", to_dec(r.cost)},
      {"chain_id", r.chain_id},
      {"timestamp", r.timestamp},
      {"verifying_contract", s.verifying_contract.checksummed()},
      {"signature", s.signature.hex()},
  };
}

Result<SignedReceipt> receipt_from_json(const nlohmann::json& j) {
  namespace f = json_fields;
  if (auto ok = f::expect_keys(j,
                               {"job_id", "provider", "model", "input_hash", "output_hash", "prompt_tokens",
                                "completion_tokens", "cost", "chain_id", "timestamp", "verifying_contract", "signature"},
                               "receipt");
      !ok)
    return std::unexpected(ok.error());
  SignedReceipt s;
  Receipt& r = s.receipt;
  // Each reader names its field; "receipt: " says which object it was in.
  auto ctx = [](const Error& e) { return std::unexpected(e.context("receipt")); };
  auto job_id = f::hash32(j, "job_id");
  if (!job_id) return ctx(job_id.error());
  auto provider = f::address(j, "provider");
  if (!provider) return ctx(provider.error());
  auto model = f::hash32(j, "model");
  if (!model) return ctx(model.error());
  auto in = f::hash32(j, "input_hash");
  if (!in) return ctx(in.error());
  auto out = f::hash32(j, "output_hash");
  if (!out) return ctx(out.error());
  auto prompt_tokens = f::u64(j, "prompt_tokens");
  if (!prompt_tokens) return ctx(prompt_tokens.error());
  auto completion_tokens = f::u64(j, "completion_tokens");
  if (!completion_tokens) return ctx(completion_tokens.error());
  auto cost = f::decimal(j, "cost");
  if (!cost) return ctx(cost.error());
  auto chain_id = f::u64(j, "chain_id");
  if (!chain_id) return ctx(chain_id.error());
  auto timestamp = f::u64(j, "timestamp");
  if (!timestamp) return ctx(timestamp.error());
  auto verifying_contract = f::address(j, "verifying_contract");
  if (!verifying_contract) return ctx(verifying_contract.error());
  auto sig = f::signature(j, "signature");
  if (!sig) return ctx(sig.error());
  r.job_id = *job_id;
  r.provider = *provider;
  r.model = *model;
  r.input_hash = *in;
  r.output_hash = *out;
  r.prompt_tokens = *prompt_tokens;
  r.completion_tokens = *completion_tokens;
  r.cost = *cost;
  r.chain_id = *chain_id;
  r.timestamp = *timestamp;
  s.verifying_contract = *verifying_contract;
  s.signature = *sig;
  return s;
}

eth::abi::Value receipt_value(const Receipt& r) {
  using eth::abi::Value;
  return Value::tuple({Value::bytes(r.job_id), Value::address(r.provider), Value::bytes(r.model),
                       Value::bytes(r.input_hash), Value::bytes(r.output_hash), Value::uint(r.prompt_tokens),
                       Value::uint(r.completion_tokens), Value::uint(r.cost), Value::uint(r.chain_id),
                       Value::uint(r.timestamp)});
}

Hash32 make_job_id(const Hash32& input_hash, const crypto::Address& provider, const Hash32& nonce) noexcept {
  crypto::Keccak256 h;
  h.update(input_hash);
  h.update(provider.bytes);
  h.update(nonce);
  return h.finalize();
}

Hash32 vote_commitment(uint64_t dispute_id, const Hash32& output_hash, const Hash32& salt,
                       const crypto::Address& juror) noexcept {
  crypto::Keccak256 h;
  h.update(to_be32(dispute_id));
  h.update(output_hash);
  h.update(salt);
  h.update(address_word(juror));
  return h.finalize();
}

}  // namespace dgrid::market
