// Crypto throughput: keccak-256 against OpenSSL's SHA3-256 (the same Keccak-f[1600]
// permutation and rate, so the ratio isolates our implementation), SHA-256, secp256k1
// sign/recover, and EIP-712 digests of a ticket-like struct.
// Usage: bench_crypto [--json]
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "crypto/eip712.hpp"
#include "crypto/keccak.hpp"
#include "crypto/merkle.hpp"
#include "crypto/secp256k1.hpp"
#include "crypto/sha256.hpp"

namespace {

using dgrid::Bytes;
using dgrid::Hash32;
using Clock = std::chrono::steady_clock;

volatile uint8_t g_sink;  // keeps results observable so the work is not optimized away

// Runs `op` repeatedly for at least `min_seconds`; returns operations per second.
double ops_per_second(const std::function<void()>& op, double min_seconds = 0.5) {
  op();  // warm-up
  size_t iters = 0;
  auto start = Clock::now();
  double elapsed = 0;
  for (size_t batch = 1; elapsed < min_seconds; batch *= 2) {
    for (size_t i = 0; i < batch; ++i) op();
    iters += batch;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(iters) / elapsed;
}

struct Row {
  std::string name;
  double value;
  std::string unit;
  std::string note;
};

}  // namespace

int main(int argc, char** argv) {
  bool json_out = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  std::vector<Row> rows;
  constexpr size_t kMiB = 1 << 20;
  Bytes buf(kMiB);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 131 + 7);

  double keccak_mbs = ops_per_second([&] { g_sink = dgrid::crypto::keccak256(buf)[0]; });
  EVP_MD* sha3 = EVP_MD_fetch(nullptr, "SHA3-256", nullptr);
  double sha3_mbs = ops_per_second([&] {
    uint8_t out[32];
    unsigned len = 0;
    EVP_Digest(buf.data(), buf.size(), out, &len, sha3, nullptr);
    g_sink = out[0];
  });
  EVP_MD_free(sha3);
  double sha256_mbs = ops_per_second([&] { g_sink = dgrid::crypto::sha256(buf)[0]; });
  rows.push_back({"keccak256 (dgrid)", keccak_mbs, "MB/s", "1 MiB buffers"});
  rows.push_back({"sha3-256 (OpenSSL)", sha3_mbs, "MB/s", "same permutation"});
  rows.push_back({"keccak256 / sha3-256", keccak_mbs / sha3_mbs, "x", "target >= 0.8"});
  rows.push_back({"sha256 (OpenSSL)", sha256_mbs, "MB/s", "1 MiB buffers"});

  double merkle_mbs = ops_per_second([&] {
    dgrid::crypto::MerkleBuilder b;
    b.update(buf);
    g_sink = b.finish()[0];
  });
  rows.push_back({"segment merkle root", merkle_mbs, "MB/s", "1 KiB segments"});

  auto key = *dgrid::crypto::PrivateKey::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  Hash32 digest = dgrid::crypto::keccak256(std::string_view("bench"));
  double sign_s = ops_per_second([&] {
    auto sig = key.sign(digest);
    g_sink = sig.r[0];
    digest[0] ^= sig.s[1];  // vary the input
  });
  auto sig = key.sign(digest);
  double recover_s = ops_per_second([&] { g_sink = dgrid::crypto::recover_address(digest, sig)->bytes[0]; });
  rows.push_back({"secp256k1 sign", sign_s, "ops/s", "RFC 6979, recoverable"});
  rows.push_back({"secp256k1 recover", recover_s, "ops/s", "to address"});

  nlohmann::json doc = nlohmann::json::parse(R"({
    "types": {
      "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                       {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
      "Ticket": [{"name": "recipient", "type": "address"}, {"name": "sender", "type": "address"},
                 {"name": "faceValue", "type": "uint256"}, {"name": "winProb", "type": "uint256"},
                 {"name": "senderNonce", "type": "uint256"}, {"name": "recipientRandHash", "type": "bytes32"},
                 {"name": "expirationBlock", "type": "uint256"}]
    },
    "primaryType": "Ticket",
    "domain": {"name": "dgrid", "version": "1", "chainId": 31337,
               "verifyingContract": "0x5FbDB2315678afecb367f032d93F642f64180aa3"},
    "message": {"recipient": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                "sender": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                "faceValue": "1000000000000000000", "winProb": "0xffffffffffffffffffffffffffffffff",
                "senderNonce": 7, "expirationBlock": 123456,
                "recipientRandHash": "0xabababababababababababababababababababababababababababababababab"}
  })");
  double full_s = ops_per_second([&] { g_sink = (*dgrid::crypto::typed_data_digest(doc))[0]; });
  auto td = *dgrid::crypto::TypedData::from_json(doc);
  Hash32 domain_sep = *td.domain_separator();
  double cached_s = ops_per_second([&] {
    g_sink = dgrid::crypto::eip712_digest(domain_sep, *td.types.hash_struct("Ticket", td.message))[0];
  });
  rows.push_back({"eip712 digest (parse doc)", full_s, "ops/s", "ticket, types parsed each time"});
  rows.push_back({"eip712 digest (cached)", cached_s, "ops/s", "ticket, types + domain reused"});

  if (json_out) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& r : rows) out.push_back({{"name", r.name}, {"value", r.value}, {"unit", r.unit}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-28s %14s  %-6s %s\n", "benchmark", "value", "unit", "note");
  for (const Row& r : rows) std::printf("%-28s %14.2f  %-6s %s\n", r.name.c_str(), r.value, r.unit.c_str(), r.note.c_str());
  return 0;
}
