// Ethereum transactions: legacy (pre- and post-EIP-155), EIP-2930 (type 1) and EIP-1559
// (type 2): signing hashes, signing, raw encoding and strict decoding with sender recovery.
// Pure functions (no I/O), thread-safe; results own their data.
#pragma once

#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::eth {

struct AccessListEntry {
  crypto::Address address;
  std::vector<Hash32> storage_keys;
  bool operator==(const AccessListEntry&) const = default;
};
using AccessList = std::vector<AccessListEntry>;

enum class TxType : uint8_t { legacy = 0, access_list = 1, eip1559 = 2 };

struct Transaction {
  TxType type = TxType::eip1559;
  // For a legacy transaction 0 means pre-EIP-155: signed without replay protection.
  uint64_t chain_id = 1;
  uint64_t nonce = 0;
  u256 gas_price = 0;                 // legacy and type 1
  u256 max_priority_fee_per_gas = 0;  // type 2
  u256 max_fee_per_gas = 0;           // type 2
  uint64_t gas_limit = 0;
  std::optional<crypto::Address> to;  // nullopt: contract creation
  u256 value = 0;
  Bytes data;
  AccessList access_list;             // types 1 and 2

  bool operator==(const Transaction&) const = default;
};

// The digest the sender signs: keccak256(type || rlp(fields)) for typed transactions,
// keccak256(rlp(fields [, chain_id, 0, 0])) for legacy ones.
Hash32 signing_hash(const Transaction& tx) noexcept;

// The raw transaction (what eth_sendRawTransaction takes) for a given signature.
Bytes encode_signed(const Transaction& tx, const crypto::Signature& sig) noexcept;

struct SignedTx {
  Bytes raw;
  Hash32 hash{};  // keccak256(raw): the transaction hash
  crypto::Address from;
};

// Signs with a deterministic (RFC 6979) low-s signature.
SignedTx sign(const Transaction& tx, const crypto::PrivateKey& key) noexcept;

struct DecodedTx {
  Transaction tx;
  crypto::Signature sig;
  Hash32 hash{};
  crypto::Address from;
};

// Parses a raw legacy, type-1 or type-2 transaction with strict RLP (canonical integers,
// no trailing bytes), checks the signature (r, s non-zero and below n, low s, valid v or
// y-parity) and recovers the sender. Errc::malformed for encoding errors, Errc::crypto for
// signatures that do not verify, Errc::unsupported for other transaction types.
Result<DecodedTx> decode_signed(ByteView raw);

}  // namespace dgrid::eth
