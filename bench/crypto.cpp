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
#include "harness.hpp"

namespace {

using dgrid::Bytes;
using dgrid::Hash32;
using dgrid::bench::rate;
using dgrid::bench::sink;

}  // namespace

int main(int argc, char** argv) {
  dgrid::bench::Report report(argc, argv);
  constexpr size_t kMiB = 1 << 20;
  Bytes buf(kMiB);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 131 + 7);

  double keccak_mbs = rate([&] { sink(dgrid::crypto::keccak256(buf)[0]); });
  EVP_MD* sha3 = EVP_MD_fetch(nullptr, "SHA3-256", nullptr);
  double sha3_mbs = rate([&] {
    uint8_t out[32];
    unsigned len = 0;
    EVP_Digest(buf.data(), buf.size(), out, &len, sha3, nullptr);
    sink(out[0]);
  });
  EVP_MD_free(sha3);
  double sha256_mbs = rate([&] { sink(dgrid::crypto::sha256(buf)[0]); });
  constexpr double kMB = kMiB / 1e6;
  report.add({"keccak256 (dgrid)", keccak_mbs * kMB, "MB/s", "OpenSSL SHA3-256", sha3_mbs * kMB,
              "same permutation; aim >= 0.8x"});
  report.add({"sha256 (OpenSSL)", sha256_mbs * kMB, "MB/s", "", 0, "1 MiB buffers"});

  double merkle_mbs = rate([&] {
    dgrid::crypto::MerkleBuilder b;
    b.update(buf);
    sink(b.finish()[0]);
  });
  report.add({"segment merkle root", merkle_mbs * kMB, "MB/s", "sha256", sha256_mbs * kMB, "1 KiB keccak segments"});

  auto key = *dgrid::crypto::PrivateKey::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  Hash32 digest = dgrid::crypto::keccak256(std::string_view("bench"));
  double sign_s = rate([&] {
    auto sig = key.sign(digest);
    sink(sig.r[0]);
    digest[0] ^= sig.s[1];  // vary the input
  });
  auto sig = key.sign(digest);
  double recover_s = rate([&] { sink(dgrid::crypto::recover_address(digest, sig)->bytes[0]); });
  report.add({"secp256k1 sign", sign_s, "ops/s", "", 0, "RFC 6979, recoverable"});
  report.add({"secp256k1 recover", recover_s, "ops/s", "secp256k1 sign", sign_s, "to address"});

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
  double full_s = rate([&] { sink((*dgrid::crypto::typed_data_digest(doc))[0]); });
  auto td = *dgrid::crypto::TypedData::from_json(doc);
  Hash32 domain_sep = *td.domain_separator();
  double cached_s = rate([&] {
    sink(dgrid::crypto::eip712_digest(domain_sep, *td.types.hash_struct("Ticket", td.message))[0]);
  });
  report.add({"eip712 digest (parse doc)", full_s, "ops/s", "", 0, "ticket, types parsed each time"});
  report.add({"eip712 digest (cached)", cached_s, "ops/s", "eip712 digest (parse doc)", full_s, "types + domain reused"});
  report.print();
  return 0;
}
