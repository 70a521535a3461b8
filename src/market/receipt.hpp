// Inference receipts: the EIP-712 struct a provider signs for every job, exactly as
// contracts/Disputes.sol hashes it, with its JSON form (the `dgrid_receipt` object and the
// receipt store's value), the openDispute tuple, job ids and jurors' vote commitments.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"
#include "eth/abi_value.hpp"

namespace dgrid::market {

// Receipt(bytes32 jobId,address provider,bytes32 model,bytes32 inputHash,bytes32 outputHash,
//         uint64 promptTokens,uint64 completionTokens,uint256 cost,uint256 chainId,uint64 timestamp)
struct Receipt {
  Hash32 job_id{};
  crypto::Address provider;
  Hash32 model{};
  Hash32 input_hash{};   // keccak256(encode_canonical(request))
  Hash32 output_hash{};  // keccak256 of the output token ids, uint32 little-endian
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  u256 cost = 0;           // token base units charged for the job
  uint64_t chain_id = 0;
  uint64_t timestamp = 0;  // unix seconds when the provider signed

  bool operator==(const Receipt&) const = default;
};

struct SignedReceipt {
  Receipt receipt;
  crypto::Address verifying_contract;  // the Disputes contract: part of the EIP-712 domain
  crypto::Signature signature;

  bool operator==(const SignedReceipt&) const = default;
};

// hashStruct(Receipt).
Hash32 receipt_struct_hash(const Receipt& r) noexcept;
// keccak256(0x1901 || domain(chain_id of r, verifying_contract) || hashStruct(r)).
Hash32 receipt_digest(const Receipt& r, const crypto::Address& verifying_contract) noexcept;

SignedReceipt sign_receipt(const Receipt& r, const crypto::Address& disputes, const crypto::PrivateKey& key) noexcept;

// The signature must recover (low s) to r.provider; Errc::permission_denied naming both the
// recovered signer and the claimed provider otherwise, Errc::crypto when it does not recover.
Result<void> verify_receipt_signature(const SignedReceipt& s);

// {"job_id","provider" (EIP-55),"model","input_hash","output_hash","prompt_tokens",
//  "completion_tokens","cost" (decimal string),"chain_id","timestamp","verifying_contract",
//  "signature" (0x r||s||v, v 27/28)}
nlohmann::json receipt_to_json(const SignedReceipt& s);
// Strict inverse: every field present and well-formed, no unknown fields (a misspelt field is
// an error, not a default). Errc::malformed naming the field. Does not check the signature.
Result<SignedReceipt> receipt_from_json(const nlohmann::json& j);

// The Disputes.Receipt tuple, for openDispute calls.
eth::abi::Value receipt_value(const Receipt& r);

// keccak256(input_hash || provider (20 bytes) || nonce): unique per job given a fresh nonce.
Hash32 make_job_id(const Hash32& input_hash, const crypto::Address& provider, const Hash32& nonce) noexcept;

// keccak256(abi.encode(uint256 disputeId, bytes32 outputHash, bytes32 salt, address juror)),
// what a juror commits to before revealing its vote.
Hash32 vote_commitment(uint64_t dispute_id, const Hash32& output_hash, const Hash32& salt,
                       const crypto::Address& juror) noexcept;

}  // namespace dgrid::market
