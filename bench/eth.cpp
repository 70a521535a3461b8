// Throughput of the Ethereum codecs, each against a baseline measured in the same run:
//   EIP-1559 sign+encode   vs bare secp256k1 signing (the ratio is the codec's overhead)
//   RLP encode/decode      vs memcpy of the same bytes
//   ABI ticket encode/decode vs keccak256 of the encoding (what a ticket costs anyway)
// Usage: bench_eth [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/keccak.hpp"
#include "crypto/secp256k1.hpp"
#include "eth/abi.hpp"
#include "eth/rlp.hpp"
#include "eth/transaction.hpp"
#include "harness.hpp"

namespace {

using namespace dgrid;
using bench::rate;
using bench::sink;

eth::Transaction sample_tx() {
  eth::Transaction tx;
  tx.chain_id = 31337;
  tx.nonce = 42;
  tx.max_priority_fee_per_gas = 1'000'000'000;
  tx.max_fee_per_gas = 30'000'000'000ull;
  tx.gas_limit = 200'000;
  crypto::Address to;
  to.bytes.fill(0x35);
  tx.to = to;
  tx.value = 0;
  tx.data.assign(4 + 32 * 6, 0xab);  // a typical contract call
  return tx;
}

// A payment ticket as the TicketBroker takes it.
std::vector<eth::abi::Type> ticket_types() {
  return *eth::abi::parse_type_list("(address,address,uint256,uint256,uint256,bytes32,bytes),bytes,uint256");
}

eth::abi::Values ticket_values() {
  using eth::abi::Value;
  crypto::Address a, b;
  a.bytes.fill(1);
  b.bytes.fill(2);
  Hash32 h;
  h.fill(7);
  return {Value::tuple({Value::address(a), Value::address(b), Value::uint(u256(1) << 70), Value::uint(~u256(0) >> 8),
                        Value::uint(12345), Value::bytes(h), Value::bytes(Bytes(64, 9))}),
          Value::bytes(Bytes(65, 3)), Value::uint(987654321)};
}

}  // namespace

int main(int argc, char** argv) {
  bench::Report report(argc, argv);
  auto key = *crypto::PrivateKey::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646");

  // --- signing
  eth::Transaction tx = sample_tx();
  Hash32 digest = eth::signing_hash(tx);
  double bare = rate([&] {
    digest[0]++;
    sink(key.sign(digest).r[0]);
  });
  double signed_rate = rate([&] {
    tx.nonce++;
    sink(eth::sign(tx, key).raw.size());
  });
  report.add({"eip1559 sign+encode", signed_rate, "tx/s", "secp256k1 sign", bare, ""});

  // --- RLP: a block-like list of 200 transactions' worth of items
  Bytes payload;
  {
    size_t mark = eth::rlp::begin_list(payload);
    for (int i = 0; i < 200; ++i) {
      tx.nonce = static_cast<uint64_t>(i);
      Bytes raw = eth::sign(tx, key).raw;
      eth::rlp::encode(payload, raw);
    }
    eth::rlp::end_list(payload, mark);
  }
  auto tree = *eth::rlp::decode(payload);
  const double mb = static_cast<double>(payload.size()) / 1e6;
  Bytes copy(payload.size());
  double memcpy_rate = rate([&] {
    std::memcpy(copy.data(), payload.data(), payload.size());
    sink(copy[bench::g_sink % copy.size()]);
  });
  double enc_rate = rate([&] {
    Bytes out;
    out.reserve(payload.size());
    eth::rlp::encode(out, tree);
    sink(out.size());
  });
  double dec_rate = rate([&] { sink(eth::rlp::decode(payload)->children.size()); });
  report.add({"rlp encode", enc_rate * mb, "MB/s", "memcpy", memcpy_rate * mb, ""});
  report.add({"rlp decode", dec_rate * mb, "MB/s", "memcpy", memcpy_rate * mb, ""});

  // --- ABI ticket
  auto types = ticket_types();
  auto values = ticket_values();
  Bytes enc = *eth::abi::encode(types, values);
  double hash_rate = rate([&] { sink(crypto::keccak256(enc)[0]); });
  double abi_enc = rate([&] { sink(eth::abi::encode(types, values)->size()); });
  double abi_dec = rate([&] { sink(eth::abi::decode(types, enc)->size()); });
  report.add({"abi ticket encode", abi_enc, "op/s", "keccak256 of encoding", hash_rate, ""});
  report.add({"abi ticket decode", abi_dec, "op/s", "keccak256 of encoding", hash_rate, ""});

  report.print();
  if (!report.json())
    std::printf("(RLP payload %zu bytes; ABI ticket encoding %zu bytes)\n", payload.size(), enc.size());
  return 0;
}
