#include "eth/transaction.hpp"

#include <gtest/gtest.h>

#include <random>

#include "crypto/keccak.hpp"
#include "eth/rlp.hpp"
#include "eth/tx_random.hpp"

namespace dgrid::eth {
namespace {

Bytes hex(std::string_view h) { return unwrap(from_hex(h)); }
crypto::PrivateKey key(std::string_view h) { return unwrap(crypto::PrivateKey::from_hex(h)); }

// The example in EIP-155's specification.
constexpr char kEip155Key[] = "0x4646464646464646464646464646464646464646464646464646464646464646";
constexpr char kEip155Raw[] =
    "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195"
    "fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";

Transaction eip155_tx() {
  Transaction tx;
  tx.type = TxType::legacy;
  tx.chain_id = 1;
  tx.nonce = 9;
  tx.gas_price = u256(20'000'000'000ull);
  tx.gas_limit = 21000;
  tx.to = unwrap(crypto::parse_address("0x3535353535353535353535353535353535353535"));
  tx.value = u256(1'000'000'000'000'000'000ull);
  return tx;
}

TEST(Transaction, Eip155Example) {
  Transaction tx = eip155_tx();
  EXPECT_EQ(to_hex(signing_hash(tx)), "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  auto k = key(kEip155Key);
  SignedTx s = sign(tx, k);
  EXPECT_EQ(to_hex(s.raw), kEip155Raw);
  EXPECT_EQ(s.hash, crypto::keccak256(s.raw));
  EXPECT_EQ(s.from.checksummed(), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");

  auto d = decode_signed(hex(kEip155Raw));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->tx, tx);
  EXPECT_EQ(d->from, s.from);
  EXPECT_EQ(d->hash, s.hash);
  EXPECT_EQ(d->sig.recid, 0);
  EXPECT_EQ(encode_signed(d->tx, d->sig), s.raw);
}

TEST(Transaction, RoundTripAllTypes) {
  std::mt19937_64 rng(3);
  auto k = crypto::PrivateKey::generate();
  for (TxType type : {TxType::legacy, TxType::access_list, TxType::eip1559}) {
    for (int i = 0; i < 30; ++i) {
      Transaction tx = random_tx(rng, type);
      SignedTx s = sign(tx, k);
      if (type != TxType::legacy) {
        EXPECT_EQ(s.raw[0], static_cast<uint8_t>(type));
      }
      auto d = decode_signed(s.raw);
      ASSERT_TRUE(d) << d.error().to_string();
      // Fields a type does not carry are not decoded: compare what the type covers.
      Transaction expect = tx;
      if (type == TxType::eip1559) expect.gas_price = 0;
      else expect.max_priority_fee_per_gas = expect.max_fee_per_gas = 0;
      EXPECT_EQ(d->tx, expect);
      EXPECT_EQ(d->from, k.address());
      EXPECT_EQ(d->hash, s.hash);
      EXPECT_EQ(encode_signed(d->tx, d->sig), s.raw);
    }
  }
}

TEST(Transaction, TamperingIsDetected) {
  std::mt19937_64 rng(5);
  auto k = crypto::PrivateKey::generate();
  for (TxType type : {TxType::legacy, TxType::eip1559}) {
    Transaction tx = random_tx(rng, type);
    SignedTx s = sign(tx, k);
    for (size_t i = 0; i < s.raw.size(); ++i) {
      Bytes bad = s.raw;
      bad[i] ^= static_cast<uint8_t>(1 + rng() % 255);
      auto d = decode_signed(bad);
      // Either rejected outright, or it no longer proves that k signed these fields.
      if (d) {
        EXPECT_TRUE(d->from != k.address() || d->tx != decode_signed(s.raw)->tx) << i;
      }
    }
    Bytes trailing = s.raw;
    trailing.push_back(0);
    EXPECT_FALSE(decode_signed(trailing));
    EXPECT_FALSE(decode_signed(ByteView(s.raw).first(s.raw.size() - 1)));
  }
}

TEST(Transaction, RejectsHighSAndBadV) {
  auto k = key(kEip155Key);
  Transaction tx = eip155_tx();
  auto d = unwrap(decode_signed(hex(kEip155Raw)));
  // The malleable twin (n - s, flipped parity) recovers the same key but must be refused.
  const u256 n("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  crypto::Signature twin = d.sig;
  twin.s = to_be32(n - *from_be(d.sig.s));
  twin.recid ^= 1;
  auto r = decode_signed(encode_signed(tx, twin));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::crypto);
  // r >= n does not verify.
  crypto::Signature big_r = d.sig;
  big_r.r = to_be32(n);
  EXPECT_FALSE(decode_signed(encode_signed(tx, big_r)));

  // v = 29 is neither pre-155 (27/28) nor EIP-155 (>= 37).
  Bytes raw;
  size_t mark = rlp::begin_list(raw);
  rlp::encode(raw, tx.nonce);
  rlp::encode(raw, tx.gas_price);
  rlp::encode(raw, tx.gas_limit);
  rlp::encode(raw, *tx.to);
  rlp::encode(raw, tx.value);
  rlp::encode(raw, tx.data);
  rlp::encode(raw, uint64_t{29});
  rlp::encode(raw, d.sig.r);
  rlp::encode(raw, d.sig.s);
  rlp::end_list(raw, mark);
  r = decode_signed(raw);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("invalid v 29"), std::string::npos) << r.error().message;

  EXPECT_EQ(decode_signed(hex("03c0")).error().code, Errc::unsupported);
  EXPECT_FALSE(decode_signed({}));
  (void)k;
}

TEST(Transaction, RejectsNonCanonicalIntegers) {
  // nonce 9 re-encoded as 0x820009 (leading zero): a different byte string for the same tx.
  Bytes raw = hex(kEip155Raw);
  Bytes bad = hex("f86e" "820009" + to_hex(ByteView(raw).subspan(3), false));
  auto r = decode_signed(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::malformed);
  EXPECT_NE(r.error().message.find("leading zero"), std::string::npos) << r.error().message;
}

TEST(Transaction, ContractCreationAndPreEip155) {
  auto k = crypto::PrivateKey::generate();
  Transaction tx = eip155_tx();
  tx.chain_id = 0;
  tx.to.reset();
  tx.data = {0x60, 0x00};
  SignedTx s = sign(tx, k);
  auto d = decode_signed(s.raw);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->tx.to.has_value());
  EXPECT_EQ(d->tx.chain_id, 0u);
  EXPECT_EQ(d->from, k.address());
  // v is 27 or 28 for pre-EIP-155 signatures.
  auto list = rlp::decode(s.raw);
  ASSERT_TRUE(list);
  auto v = list->children[6].as_uint();
  EXPECT_TRUE(*v == 27 || *v == 28);
}

}  // namespace
}  // namespace dgrid::eth
