#include "eth/transaction.hpp"

#include "crypto/keccak.hpp"
#include "eth/rlp.hpp"

namespace dgrid::eth {

// RLP for access-list entries (found by ADL from the rlp templates).
void encode(Bytes& out, const AccessListEntry& e) noexcept { rlp::encode_list(out, e.address, e.storage_keys); }

namespace {

void encode_to(Bytes& out, const std::optional<crypto::Address>& to) {
  if (to) rlp::encode(out, *to);
  else rlp::encode(out, ByteView{});
}

// The fields every signature covers, in the order of each type's payload.
void encode_fields(Bytes& out, const Transaction& tx) {
  switch (tx.type) {
    case TxType::legacy:
      rlp::encode(out, tx.nonce);
      rlp::encode(out, tx.gas_price);
      rlp::encode(out, tx.gas_limit);
      encode_to(out, tx.to);
      rlp::encode(out, tx.value);
      rlp::encode(out, tx.data);
      return;
    case TxType::access_list:
      rlp::encode(out, tx.chain_id);
      rlp::encode(out, tx.nonce);
      rlp::encode(out, tx.gas_price);
      rlp::encode(out, tx.gas_limit);
      encode_to(out, tx.to);
      rlp::encode(out, tx.value);
      rlp::encode(out, tx.data);
      rlp::encode(out, tx.access_list);
      return;
    case TxType::eip1559:
      rlp::encode(out, tx.chain_id);
      rlp::encode(out, tx.nonce);
      rlp::encode(out, tx.max_priority_fee_per_gas);
      rlp::encode(out, tx.max_fee_per_gas);
      rlp::encode(out, tx.gas_limit);
      encode_to(out, tx.to);
      rlp::encode(out, tx.value);
      rlp::encode(out, tx.data);
      rlp::encode(out, tx.access_list);
      return;
  }
}

// Signature values are integers in RLP: minimal big-endian.
void encode_sig_word(Bytes& out, const Hash32& w) { rlp::encode(out, *from_be(w)); }

std::unexpected<Error> malformed(std::string msg) { return fail(Errc::malformed, "transaction: " + std::move(msg)); }

}  // namespace

Hash32 signing_hash(const Transaction& tx) noexcept {
  Bytes out;
  if (tx.type != TxType::legacy) out.push_back(static_cast<uint8_t>(tx.type));
  size_t mark = rlp::begin_list(out);
  encode_fields(out, tx);
  if (tx.type == TxType::legacy && tx.chain_id != 0) {
    rlp::encode(out, tx.chain_id);
    rlp::encode(out, uint64_t{0});
    rlp::encode(out, uint64_t{0});
  }
  rlp::end_list(out, mark);
  return crypto::keccak256(out);
}

Bytes encode_signed(const Transaction& tx, const crypto::Signature& sig) noexcept {
  Bytes out;
  if (tx.type != TxType::legacy) out.push_back(static_cast<uint8_t>(tx.type));
  size_t mark = rlp::begin_list(out);
  encode_fields(out, tx);
  if (tx.type == TxType::legacy) {
    u256 v = tx.chain_id == 0 ? u256(27 + sig.recid) : u256(tx.chain_id) * 2 + 35 + sig.recid;
    rlp::encode(out, v);
  } else {
    rlp::encode(out, uint64_t{sig.recid});
  }
  encode_sig_word(out, sig.r);
  encode_sig_word(out, sig.s);
  rlp::end_list(out, mark);
  return out;
}

SignedTx sign(const Transaction& tx, const crypto::PrivateKey& key) noexcept {
  crypto::Signature sig = key.sign(signing_hash(tx));
  SignedTx out;
  out.raw = encode_signed(tx, sig);
  out.hash = crypto::keccak256(out.raw);
  out.from = key.address();
  return out;
}

namespace {

Result<std::optional<crypto::Address>> read_to(rlp::Reader& r) {
  const size_t at = r.offset();
  auto b = r.read_bytes();
  if (!b) return std::unexpected(b.error());
  if (b->empty()) return std::optional<crypto::Address>{};
  if (b->size() != 20) return malformed("'to' must be empty or 20 bytes at offset " + std::to_string(at));
  crypto::Address a;
  std::copy(b->begin(), b->end(), a.bytes.begin());
  return std::optional<crypto::Address>(a);
}

Result<AccessList> read_access_list(rlp::Reader& r) {
  auto list = r.read_list();
  if (!list) return std::unexpected(list.error());
  AccessList out;
  while (!list->empty()) {
    auto entry = list->read_list();
    if (!entry) return std::unexpected(entry.error());
    AccessListEntry e;
    auto addr = entry->read_address();
    if (!addr) return std::unexpected(addr.error());
    e.address = *addr;
    auto keys = entry->read_list();
    if (!keys) return std::unexpected(keys.error());
    while (!keys->empty()) {
      auto k = keys->read_fixed<32>();
      if (!k) return std::unexpected(k.error());
      e.storage_keys.push_back(*k);
    }
    if (auto done = entry->finish(); !done) return std::unexpected(done.error());
    out.push_back(std::move(e));
  }
  return out;
}

// Reads r and s as canonical integers into a signature.
Result<void> read_rs(rlp::Reader& r, crypto::Signature& sig) {
  auto rv = r.read_u256();
  if (!rv) return std::unexpected(rv.error());
  auto sv = r.read_u256();
  if (!sv) return std::unexpected(sv.error());
  if (*rv == 0 || *sv == 0) return fail(Errc::crypto, "transaction: signature r or s is zero");
  sig.r = to_be32(*rv);
  sig.s = to_be32(*sv);
  return {};
}

// Expands a Result<T> into `var` or returns its error (with the transaction prefix kept).
#define DGRID_TRY_ASSIGN(var, expr)                 \
  do {                                              \
    auto _r = (expr);                               \
    if (!_r) return std::unexpected(_r.error());    \
    var = std::move(*_r);                           \
  } while (0)

Result<void> read_fields(rlp::Reader& r, Transaction& tx) {
  if (tx.type != TxType::legacy) DGRID_TRY_ASSIGN(tx.chain_id, r.read_u64());
  DGRID_TRY_ASSIGN(tx.nonce, r.read_u64());
  if (tx.type == TxType::eip1559) {
    DGRID_TRY_ASSIGN(tx.max_priority_fee_per_gas, r.read_u256());
    DGRID_TRY_ASSIGN(tx.max_fee_per_gas, r.read_u256());
  } else {
    DGRID_TRY_ASSIGN(tx.gas_price, r.read_u256());
  }
  DGRID_TRY_ASSIGN(tx.gas_limit, r.read_u64());
  DGRID_TRY_ASSIGN(tx.to, read_to(r));
  DGRID_TRY_ASSIGN(tx.value, r.read_u256());
  ByteView data;
  DGRID_TRY_ASSIGN(data, r.read_bytes());
  tx.data.assign(data.begin(), data.end());
  if (tx.type != TxType::legacy) DGRID_TRY_ASSIGN(tx.access_list, read_access_list(r));
  return {};
}

#undef DGRID_TRY_ASSIGN

}  // namespace

Result<DecodedTx> decode_signed(ByteView raw) {
  if (raw.empty()) return malformed("empty input");
  DecodedTx out;
  ByteView body = raw;
  if (raw[0] < 0xc0) {
    if (raw[0] != 1 && raw[0] != 2)
      return fail(Errc::unsupported, "transaction: unsupported type 0x" + to_hex(raw.first(1), false));
    out.tx.type = static_cast<TxType>(raw[0]);
    body = raw.subspan(1);
  } else {
    out.tx.type = TxType::legacy;
  }
  rlp::Reader top(body, raw.size() - body.size());
  auto list = top.read_list();
  if (!list) return std::unexpected(list.error());
  if (auto done = top.finish(); !done) return std::unexpected(done.error());
  if (auto f = read_fields(*list, out.tx); !f) return std::unexpected(f.error());

  if (out.tx.type == TxType::legacy) {
    const size_t at = list->offset();
    auto v = list->read_u256();
    if (!v) return std::unexpected(v.error());
    if (*v == 27 || *v == 28) {
      out.tx.chain_id = 0;
      out.sig.recid = static_cast<uint8_t>(*v - 27);
    } else if (*v >= 37) {
      u256 chain = (*v - 35) / 2;
      if (chain > std::numeric_limits<uint64_t>::max()) return malformed("chain id in v exceeds 64 bits");
      out.tx.chain_id = static_cast<uint64_t>(chain);
      out.sig.recid = static_cast<uint8_t>((*v - 35) % 2);
    } else {
      return fail(Errc::crypto, "transaction: invalid v " + to_dec(*v) + " at offset " + std::to_string(at));
    }
  } else {
    const size_t at = list->offset();
    auto parity = list->read_u64();
    if (!parity) return std::unexpected(parity.error());
    if (*parity > 1)
      return fail(Errc::crypto, "transaction: y-parity " + std::to_string(*parity) + " is not 0 or 1 at offset " +
                                    std::to_string(at));
    out.sig.recid = static_cast<uint8_t>(*parity);
  }
  if (auto rs = read_rs(*list, out.sig); !rs) return std::unexpected(rs.error());
  if (auto done = list->finish(); !done) return std::unexpected(done.error());

  auto from = crypto::recover_address(signing_hash(out.tx), out.sig);
  if (!from) return fail(Errc::crypto, "transaction: " + from.error().message);
  out.from = *from;
  out.hash = crypto::keccak256(raw);
  return out;
}

}  // namespace dgrid::eth
