// dgrid's EIP-712, EIP-191, EIP-55 and keystores against ethers v6 (tests/interop/crypto.mjs).
#include <gtest/gtest.h>

#include <random>

#include "core/u256.hpp"
#include "crypto/eip712.hpp"
#include "crypto/keystore.hpp"
#include "crypto/merkle.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::crypto {

using nlohmann::json;

namespace {

constexpr char kDevKey[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

json ethers(const json& request) {
  auto r = test::run_node_script("crypto.mjs", {}, request.dump());
  if (r.exit_code != 0) return json{{"exit_code", r.exit_code}};
  return json::parse(r.out);
}

// Random eth_signTypedData_v4 documents: nested structs, dynamic and fixed arrays (of
// atomics, structs and arrays), every atomic type and every accepted integer spelling.
class TypedDataGenerator {
 public:
  explicit TypedDataGenerator(uint64_t seed) : rng_(seed) {}

  json document() {
    struct_count_ = 1 + pick(4);
    fields_.assign(struct_count_, {});
    // Every struct but the primary (S0) is referenced by an earlier one, so ethers' primary
    // type deduction finds S0.
    for (size_t j = 1; j < struct_count_; ++j) fields_[pick(j)].push_back({struct_name(j), random_dims()});
    for (size_t i = 0; i < struct_count_; ++i) {
      for (size_t k = 0, extra = pick(4); k < extra || fields_[i].empty(); ++k)
        fields_[i].push_back({atomic_type(), random_dims()});
      std::shuffle(fields_[i].begin(), fields_[i].end(), rng_);
    }
    json types = json::object();
    for (size_t i = 0; i < struct_count_; ++i) {
      json fs = json::array();
      for (size_t k = 0; k < fields_[i].size(); ++k)
        fs.push_back({{"name", "f" + std::to_string(k)}, {"type", type_string(fields_[i][k])}});
      types[struct_name(i)] = fs;
    }
    json domain = json::object(), domain_type = json::array();
    if (coin()) domain["name"] = "dgrid " + std::to_string(pick(100)), domain_type.push_back(field("name", "string"));
    if (coin()) domain["version"] = std::to_string(pick(9)), domain_type.push_back(field("version", "string"));
    if (coin()) domain["chainId"] = 1 + pick(100000), domain_type.push_back(field("chainId", "uint256"));
    if (coin()) domain["verifyingContract"] = address_value(), domain_type.push_back(field("verifyingContract", "address"));
    if (coin()) domain["salt"] = hex_value(32), domain_type.push_back(field("salt", "bytes32"));
    types["EIP712Domain"] = domain_type;
    return {{"types", types}, {"primaryType", "S0"}, {"domain", domain}, {"message", struct_value(0)}};
  }

 private:
  struct FieldSpec {
    std::string base;
    std::vector<int> dims;  // outermost first; -1 = dynamic
  };

  static json field(const char* name, const char* type) { return {{"name", name}, {"type", type}}; }
  static std::string struct_name(size_t i) { return "S" + std::to_string(i); }
  uint64_t pick(uint64_t n) { return rng_() % n; }
  bool coin() { return rng_() & 1; }

  std::vector<int> random_dims() {
    std::vector<int> dims;
    while (dims.size() < 2 && pick(3) == 0) dims.push_back(coin() ? -1 : static_cast<int>(1 + pick(3)));
    return dims;
  }

  static std::string type_string(const FieldSpec& f) {
    std::string s = f.base;
    for (auto it = f.dims.rbegin(); it != f.dims.rend(); ++it) s += *it < 0 ? "[]" : "[" + std::to_string(*it) + "]";
    return s;
  }

  std::string atomic_type() {
    switch (pick(7)) {
      case 0: return "uint" + std::to_string(8 * (1 + pick(32)));
      case 1: return "int" + std::to_string(8 * (1 + pick(32)));
      case 2: return "address";
      case 3: return "bool";
      case 4: return "bytes" + std::to_string(1 + pick(32));
      case 5: return "bytes";
      default: return "string";
    }
  }

  std::string hex_value(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return to_hex(b);
  }

  std::string address_value() {
    Address a;
    for (auto& x : a.bytes) x = static_cast<uint8_t>(rng_());
    return coin() ? a.checksummed() : a.hex();
  }

  // A random value below 2^bits, biased toward the boundaries.
  u256 random_below_pow2(unsigned bits) {
    u256 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 64) | u256(rng_());
    unsigned keep = static_cast<unsigned>(pick(bits + 1));
    if (pick(5) == 0) keep = bits;
    v = keep == 0 ? u256(0) : (keep >= 256 ? v : v & ((u256(1) << keep) - 1));
    if (pick(8) == 0) v = bits >= 256 ? ~u256(0) : (u256(1) << bits) - 1;  // the maximum
    return v;
  }

  json integer_value(bool negative, const u256& magnitude) {
    std::string sign = negative && magnitude != 0 ? "-" : "";
    if (magnitude < (u256(1) << 53) && coin()) {
      auto m = static_cast<int64_t>(magnitude);
      return sign.empty() ? json(m) : json(-m);
    }
    return coin() ? sign + to_dec(magnitude) : sign + to_quantity(magnitude);
  }

  json atomic_value(const std::string& type) {
    if (type.starts_with("uint")) return integer_value(false, random_below_pow2(std::stoi(type.substr(4))));
    if (type.starts_with("int")) {
      unsigned bits = static_cast<unsigned>(std::stoi(type.substr(3)));
      if (coin()) return integer_value(false, random_below_pow2(bits - 1));
      u256 m = random_below_pow2(bits - 1);
      if (pick(6) == 0) m = u256(1) << (bits - 1);  // the minimum, -2^(bits-1)
      return integer_value(true, m);
    }
    if (type == "address") return address_value();
    if (type == "bool") return coin();
    if (type == "bytes") return hex_value(pick(70));
    if (type.starts_with("bytes")) return hex_value(std::stoul(type.substr(5)));
    static const char* kStrings[] = {"", "hello", "h\xc3\xa9llo \xe2\x9c\x93", "with \"quotes\"", "0x1234"};
    return kStrings[pick(5)];
  }

  json value(const FieldSpec& f, size_t level) {
    if (level < f.dims.size()) {
      size_t len = f.dims[level] < 0 ? pick(4) : static_cast<size_t>(f.dims[level]);
      json arr = json::array();
      for (size_t i = 0; i < len; ++i) arr.push_back(value(f, level + 1));
      return arr;
    }
    if (f.base.starts_with("S")) return struct_value(std::stoul(f.base.substr(1)));
    return atomic_value(f.base);
  }

  json struct_value(size_t i) {
    json obj = json::object();
    for (size_t k = 0; k < fields_[i].size(); ++k) obj["f" + std::to_string(k)] = value(fields_[i][k], 0);
    return obj;
  }

  std::mt19937_64 rng_;
  size_t struct_count_ = 0;
  std::vector<std::vector<FieldSpec>> fields_;
};

}  // namespace

TEST(Interop, RandomTypedDataMatchesEthers) {
  DGRID_INTEROP_OR_SKIP();
  auto key = *PrivateKey::from_hex(kDevKey);
  TypedDataGenerator gen(20240611);
  json docs = json::array();
  for (int i = 0; i < 60; ++i) docs.push_back(gen.document());
  json theirs = ethers({{"op", "typed_data"}, {"key", kDevKey}, {"docs", docs}});
  ASSERT_TRUE(theirs.is_array()) << theirs.dump();
  ASSERT_EQ(theirs.size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    SCOPED_TRACE(docs[i].dump());
    ASSERT_FALSE(theirs[i].contains("error")) << theirs[i]["error"];
    auto digest = typed_data_digest(docs[i]);
    ASSERT_TRUE(digest) << digest.error().to_string();
    EXPECT_EQ(to_hex(*digest), theirs[i]["digest"]);
    auto sig = sign_typed_data(key, docs[i]);
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->hex(), theirs[i]["signature"]);
    EXPECT_EQ(*recover_typed_data_signer(docs[i], *sig), key.address());
  }
}

TEST(Interop, PersonalSignaturesAndChecksumsMatchEthers) {
  DGRID_INTEROP_OR_SKIP();
  auto key = *PrivateKey::from_hex(kDevKey);
  std::mt19937_64 rng(7);
  json messages = json::array(), ours = json::array(), addresses = json::array();
  std::vector<Address> addrs;
  for (size_t len : {0, 1, 32, 33, 100, 1000}) {
    Bytes m(len);
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    messages.push_back(to_hex(m));
    ours.push_back(key.sign(personal_message_digest(m)).hex());
  }
  for (int i = 0; i < 20; ++i) {
    Address a;
    for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
    addrs.push_back(a);
    addresses.push_back(a.hex());
  }
  json personal = ethers({{"op", "personal"}, {"key", kDevKey}, {"messages", messages}, {"signatures", ours}});
  ASSERT_TRUE(personal.contains("signatures")) << personal.dump();
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(personal["signatures"][i], ours[i]) << i;
    EXPECT_EQ(personal["recovered"][i], key.address().checksummed()) << i;
  }
  json checksums = ethers({{"op", "addresses"}, {"addresses", addresses}});
  ASSERT_TRUE(checksums.is_array()) << checksums.dump();
  for (size_t i = 0; i < addrs.size(); ++i) {
    EXPECT_EQ(checksums[i], addrs[i].checksummed());
    EXPECT_TRUE(parse_address(checksums[i].get<std::string>()));
  }
}

TEST(Interop, DgridKeystoreDecryptsInEthers) {
  DGRID_INTEROP_OR_SKIP();
  auto key = PrivateKey::generate();
  auto ks = encrypt_keystore(key, "interop pw", kScryptLight);  // what devnet writes
  ASSERT_TRUE(ks);
  json res = ethers({{"op", "decrypt"}, {"json", ks->dump()}, {"password", "interop pw"}});
  ASSERT_TRUE(res.contains("address")) << res.dump();
  EXPECT_EQ(res["address"], key.address().checksummed());
  EXPECT_EQ(res["private_key"], to_hex(key.secret()));
}

TEST(Interop, EthersKeystoreDecryptsInDgrid) {
  DGRID_INTEROP_OR_SKIP();
  auto key = PrivateKey::generate();
  json res = ethers({{"op", "encrypt"}, {"key", to_hex(key.secret())}, {"password", "ethers pw"},
                     {"n", 1024}, {"r", 8}, {"p", 1}});
  ASSERT_TRUE(res.is_string()) << res.dump();
  auto back = decrypt_keystore(std::string_view(res.get<std::string>()), "ethers pw");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->secret(), key.secret());
  auto wrong = decrypt_keystore(std::string_view(res.get<std::string>()), "ethers pW");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("wrong password"), std::string::npos);
}

TEST(Interop, SegmentMerkleRootMatchesIndependentScript) {
  DGRID_INTEROP_OR_SKIP();
  for (size_t size : {1, 1024, 1025, 3000, 9 * 1024 + 7}) {
    Bytes content(size);
    for (size_t j = 0; j < size; ++j) content[j] = static_cast<uint8_t>(j * 7 + j / 1024);
    MerkleTree tree = MerkleTree::from_content(content);
    uint64_t index = tree.leaf_count() / 2;
    auto r = test::run_node_script(
        "merkle.mjs", {}, json{{"hex", to_hex(content)}, {"segment_size", kSegmentSize}, {"proof_index", index}}.dump());
    ASSERT_EQ(r.exit_code, 0);
    json theirs = json::parse(r.out);
    EXPECT_EQ(theirs["root"], to_hex(tree.root())) << size;
    EXPECT_EQ(theirs["leaf_count"], tree.leaf_count());
    json proof = json::array();
    auto ours = tree.proof(index);
    ASSERT_TRUE(ours);
    for (const Hash32& h : ours->siblings) proof.push_back(to_hex(h));
    EXPECT_EQ(theirs["proof"], proof) << size;
  }
}

}  // namespace dgrid::crypto
