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

namespace {

using namespace dgrid;
using Clock = std::chrono::steady_clock;

// Keeps results observable so the optimizer cannot drop the measured work.
volatile uint64_t g_sink = 0;
void sink(uint64_t v) { g_sink = g_sink + v; }

// Runs fn in batches until ~min_seconds elapse; returns calls per second.
template <class Fn>
double rate(Fn&& fn, double min_seconds = 0.4) {
  size_t calls = 0, batch = 1;
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < min_seconds) {
    for (size_t i = 0; i < batch; ++i) fn();
    calls += batch;
    batch *= 2;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(calls) / elapsed;
}

struct Row {
  std::string name;
  double value;
  std::string unit;
  std::string baseline;
  double baseline_value;
};

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
  const bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  std::vector<Row> rows;
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
  rows.push_back({"eip1559 sign+encode", signed_rate, "tx/s", "secp256k1 sign", bare});

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
    sink(copy[g_sink % copy.size()]);
  });
  double enc_rate = rate([&] {
    Bytes out;
    out.reserve(payload.size());
    eth::rlp::encode(out, tree);
    sink(out.size());
  });
  double dec_rate = rate([&] { sink(eth::rlp::decode(payload)->children.size()); });
  rows.push_back({"rlp encode", enc_rate * mb, "MB/s", "memcpy", memcpy_rate * mb});
  rows.push_back({"rlp decode", dec_rate * mb, "MB/s", "memcpy", memcpy_rate * mb});

  // --- ABI ticket
  auto types = ticket_types();
  auto values = ticket_values();
  Bytes enc = *eth::abi::encode(types, values);
  double hash_rate = rate([&] { sink(crypto::keccak256(enc)[0]); });
  double abi_enc = rate([&] { sink(eth::abi::encode(types, values)->size()); });
  double abi_dec = rate([&] { sink(eth::abi::decode(types, enc)->size()); });
  rows.push_back({"abi ticket encode", abi_enc, "op/s", "keccak256 of encoding", hash_rate});
  rows.push_back({"abi ticket decode", abi_dec, "op/s", "keccak256 of encoding", hash_rate});

  if (json) {
    std::printf("[");
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::printf("%s{\"name\":\"%s\",\"value\":%.1f,\"unit\":\"%s\",\"baseline\":\"%s\",\"baseline_value\":%.1f,"
                  "\"ratio\":%.3f}",
                  i ? "," : "", r.name.c_str(), r.value, r.unit.c_str(), r.baseline.c_str(), r.baseline_value,
                  r.value / r.baseline_value);
    }
    std::printf("]\n");
    return 0;
  }
  std::printf("%-22s %14s %-5s  %-22s %14s  %s\n", "benchmark", "value", "unit", "baseline", "baseline", "ratio");
  for (const auto& r : rows)
    std::printf("%-22s %14.1f %-5s  %-22s %14.1f  %.3f\n", r.name.c_str(), r.value, r.unit.c_str(),
                r.baseline.c_str(), r.baseline_value, r.value / r.baseline_value);
  std::printf("(RLP payload %zu bytes; ABI ticket encoding %zu bytes)\n", payload.size(), enc.size());
  return 0;
}
