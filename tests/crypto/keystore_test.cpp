#include "crypto/keystore.hpp"

#include "crypto/scrypt.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace dgrid::crypto {

using nlohmann::json;

namespace {

// The test vectors of the Web3 Secret Storage Definition (ethereum.org), password
// "testpassword".
constexpr char kPbkdf2Vector[] = R"({
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
    "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf": "pbkdf2",
    "kdfparams": {"c": 262144, "dklen": 32, "prf": "hmac-sha256",
                  "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
    "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
})";

constexpr char kScryptVector[] = R"({
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
    "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    "kdf": "scrypt",
    "kdfparams": {"dklen": 32, "n": 262144, "p": 8, "r": 1,
                  "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},
    "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
})";

constexpr char kVectorSecret[] = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

// Smallest legal scrypt parameters: keeps the malformed-input tests fast.
constexpr ScryptParams kTiny{2, 1, 1};

json tiny_keystore(const PrivateKey& key, std::string_view password) { return *encrypt_keystore(key, password, kTiny); }

std::string error_of(const json& ks, std::string_view password = "pw") {
  auto r = decrypt_keystore(ks, password);
  return r ? std::string("no error") : r.error().to_string();
}

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("dgrid-keystore-test-" + uuid_v4());
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST(Keystore, SpecPbkdf2Vector) {
  auto key = decrypt_keystore(std::string_view(kPbkdf2Vector), "testpassword");
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(to_hex(key->secret()), kVectorSecret);
}

TEST(Keystore, SpecScryptVector) {
  auto key = decrypt_keystore(std::string_view(kScryptVector), "testpassword");
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(to_hex(key->secret()), kVectorSecret);
}

TEST(Keystore, WrongPasswordIsReportedAsSuch) {
  auto r = decrypt_keystore(std::string_view(kPbkdf2Vector), "testpassworD");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::crypto);
  EXPECT_NE(r.error().message.find("wrong password"), std::string::npos);
}

TEST(Keystore, LightRoundTripAndFormat) {
  auto key = PrivateKey::generate();
  auto ks = encrypt_keystore(key, "correct horse", kScryptLight);
  ASSERT_TRUE(ks) << ks.error().to_string();
  EXPECT_EQ((*ks)["version"], 3);
  EXPECT_EQ((*ks)["address"], to_hex(key.address().bytes, false));
  EXPECT_EQ((*ks)["crypto"]["kdfparams"]["n"], 4096);
  EXPECT_EQ((*ks)["crypto"]["kdfparams"]["p"], 6);
  EXPECT_TRUE(std::regex_match((*ks)["id"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  auto back = decrypt_keystore(*ks, "correct horse");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->secret(), key.secret());
  EXPECT_EQ(*keystore_address(*ks), key.address());
  // Fresh salt and IV each time.
  auto again = encrypt_keystore(key, "correct horse", kScryptLight);
  EXPECT_NE((*again)["crypto"]["ciphertext"], (*ks)["crypto"]["ciphertext"]);
  EXPECT_NE(uuid_v4(), uuid_v4());
}

TEST(Keystore, MalformedInputsGiveMalformedErrors) {
  auto key = PrivateKey::generate();
  const json good = tiny_keystore(key, "pw");
  ASSERT_EQ(error_of(good), "no error");
  auto mutate = [&](auto f) {
    json ks = good;
    f(ks);
    return error_of(ks);
  };
  auto expect_error = [](const std::string& err, const char* code, const char* needle) {
    EXPECT_EQ(err.rfind(code, 0), 0u) << err;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
  };
  expect_error(error_of(json::array()), "malformed", "JSON object");
  expect_error(mutate([](json& k) { k.erase("version"); }), "malformed", "'version'");
  expect_error(mutate([](json& k) { k["version"] = 4; }), "unsupported", "version 4");
  expect_error(mutate([](json& k) { k["version"] = "3"; }), "malformed", "integer");
  expect_error(mutate([](json& k) { k.erase("crypto"); }), "malformed", "'crypto'");
  expect_error(mutate([](json& k) { k["crypto"]["cipher"] = "aes-256-gcm"; }), "unsupported", "aes-256-gcm");
  expect_error(mutate([](json& k) { k["crypto"]["cipherparams"]["iv"] = "00"; }), "malformed", "iv must be 16");
  expect_error(mutate([](json& k) { k["crypto"]["ciphertext"] = "zz"; }), "malformed", "hex");
  expect_error(mutate([](json& k) { k["crypto"]["ciphertext"] = "0011"; }), "malformed", "ciphertext must be 32");
  expect_error(mutate([](json& k) { k["crypto"]["mac"] = "00"; }), "malformed", "mac must be 32");
  expect_error(mutate([](json& k) { k["crypto"]["kdf"] = "argon2"; }), "unsupported", "argon2");
  expect_error(mutate([](json& k) { k["crypto"].erase("kdfparams"); }), "malformed", "'kdfparams'");
  expect_error(mutate([](json& k) { k["crypto"]["kdfparams"]["n"] = 3; }), "malformed", "power of two");
  expect_error(mutate([](json& k) { k["crypto"]["kdfparams"]["n"] = -2; }), "malformed", "non-negative");
  expect_error(mutate([](json& k) { k["crypto"]["kdfparams"]["r"] = 0; }), "malformed", "positive");
  expect_error(mutate([](json& k) { k["crypto"]["kdfparams"]["dklen"] = 64; }), "unsupported", "dklen");
  expect_error(mutate([](json& k) { k["crypto"]["kdfparams"]["salt"] = 7; }), "malformed", "string");
  expect_error(mutate([](json& k) { k["address"] = "0x1234"; }), "malformed", "address");
  // A valid address that is not this key's: the file was tampered with or mixed up.
  expect_error(mutate([](json& k) { k["address"] = "cd2a3d9f938e13cd947ec05abc7fe734df8dd826"; }), "crypto",
               "does not match");
  expect_error(mutate([](json& k) { k["crypto"]["mac"] = std::string(64, '0'); }), "crypto", "wrong password");
  // geth's early spelling of the crypto member still decrypts.
  json capital = good;
  capital["Crypto"] = capital["crypto"];
  capital.erase("crypto");
  EXPECT_EQ(error_of(capital), "no error");
  EXPECT_FALSE(decrypt_keystore(std::string_view("{\"version\": 3"), "pw"));
}

TEST(Keystore, HostileKdfParametersAreRefusedQuickly) {
  auto key = PrivateKey::generate();
  json ks = tiny_keystore(key, "pw");
  auto with = [&](const char* field, json v) {
    json k = ks;
    k["crypto"]["kdfparams"][field] = v;
    return error_of(k);
  };
  EXPECT_NE(with("n", uint64_t{1} << 40).find("more memory than the limit"), std::string::npos);
  EXPECT_NE(with("r", 1u << 23).find("more memory"), std::string::npos);
  EXPECT_NE(with("p", 1u << 29).find("work limit"), std::string::npos);
  EXPECT_NE(with("p", uint64_t{1} << 40).find("out of range"), std::string::npos);
  json pb = json::parse(kPbkdf2Vector);
  pb["crypto"]["kdfparams"]["c"] = uint64_t{1} << 40;
  EXPECT_NE(error_of(pb).find("iteration count"), std::string::npos);
  pb["crypto"]["kdfparams"]["c"] = 0;
  EXPECT_NE(error_of(pb).find("zero"), std::string::npos);
  // Limits are the caller's: a tight limit rejects even geth's standard parameters.
  KeystoreLimits tight{.max_scrypt_memory = 1 << 20, .max_scrypt_work = 1 << 12, .max_pbkdf2_iterations = 1000};
  auto r = decrypt_keystore(std::string_view(kScryptVector), "testpassword", tight);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_FALSE(decrypt_keystore(std::string_view(kPbkdf2Vector), "testpassword", tight));
  EXPECT_FALSE(encrypt_keystore(key, "pw", ScryptParams{3, 1, 1}));
}

TEST(Keystore, SaveAndLoadFile) {
  auto dir = temp_dir();
  auto path = dir / "key.json";
  auto key = PrivateKey::generate();
  ASSERT_TRUE(save_keystore(path, key, "pw", kTiny));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = load_keystore(path, "pw");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->address(), key.address());
  // Overwrite atomically with another key; no temporary files are left behind.
  auto other = PrivateKey::generate();
  ASSERT_TRUE(save_keystore(path, other, "pw2", kTiny));
  EXPECT_EQ(load_keystore(path, "pw2")->address(), other.address());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  auto wrong = load_keystore(path, "pw");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("wrong password"), std::string::npos);
  auto missing = load_keystore(dir / "nope.json", "pw");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io);
  {
    std::ofstream big(dir / "big.json");
    big << std::string(2 << 20, ' ');
  }
  auto too_big = load_keystore(dir / "big.json", "pw");
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("larger than 1 MiB"), std::string::npos);
  EXPECT_FALSE(write_file_atomic(dir / "no-such-dir" / "x.json", "{}"));
  std::filesystem::remove_all(dir);
}

}  // namespace dgrid::crypto

namespace dgrid::crypto {

// RFC 7914 §12, first vector, through both implementations.
TEST(Scrypt, Rfc7914Vector) {
  const char* expected =
      "0x77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906";
  Bytes out(64);
  ASSERT_TRUE(scrypt("", {}, 16, 1, 1, out));
  EXPECT_EQ(to_hex(out), expected);
  ASSERT_TRUE(scrypt_portable("", {}, 16, 1, 1, out));
  EXPECT_EQ(to_hex(out), expected);
}

TEST(Scrypt, PortableMatchesOpenSsl) {
  Bytes salt = {1, 2, 3, 4, 5, 6, 7, 8};
  for (auto [n, r, p] : {std::tuple{2u, 1u, 1u}, {1024u, 8u, 2u}, {256u, 3u, 5u}, {4096u, 1u, 1u}}) {
    Bytes a(32), b(32);
    ASSERT_TRUE(scrypt("pass", salt, n, r, p, a));
    ASSERT_TRUE(scrypt_portable("pass", salt, n, r, p, b));
    EXPECT_EQ(a, b) << n << " " << r << " " << p;
  }
  Bytes out(32);
  EXPECT_FALSE(scrypt("pass", salt, 3, 1, 1, out));
  EXPECT_FALSE(scrypt_portable("pass", salt, 16, 0, 1, out));
}

}  // namespace dgrid::crypto
