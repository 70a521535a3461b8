#include "crypto/keystore.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "crypto/keccak.hpp"
#include "crypto/scrypt.hpp"

namespace dgrid::crypto {

using nlohmann::json;

namespace {

constexpr size_t kDerivedKeyLen = 32;  // 16 bytes AES key + 16 bytes MAC key
constexpr size_t kMaxSaltLen = 1024;
constexpr size_t kMaxKeystoreFile = 1 << 20;

// Zeroes a buffer of secret bytes when it goes out of scope.
struct SecretBytes {
  Bytes data;
  explicit SecretBytes(size_t n) : data(n) {}
  ~SecretBytes() { OPENSSL_cleanse(data.data(), data.size()); }
};

Result<const json*> member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return fail(Errc::malformed, std::string("keystore has no '") + key + "'");
  return &*it;
}

Result<std::string> string_member(const json& obj, const char* key) {
  auto m = member(obj, key);
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_string()) return fail(Errc::malformed, std::string("keystore '") + key + "' must be a string");
  return (*m)->get<std::string>();
}

Result<uint64_t> uint_member(const json& obj, const char* key) {
  auto m = member(obj, key);
  if (!m) return std::unexpected(m.error());
  if (!(*m)->is_number_unsigned() && !((*m)->is_number_integer() && (*m)->get<int64_t>() >= 0))
    return fail(Errc::malformed, std::string("keystore '") + key + "' must be a non-negative integer");
  return (*m)->get<uint64_t>();
}

Result<Bytes> hex_member(const json& obj, const char* key) {
  auto s = string_member(obj, key);
  if (!s) return std::unexpected(s.error());
  auto b = from_hex(*s);
  if (!b) return std::unexpected(b.error().context(std::string("keystore '") + key + "'"));
  return b;
}

Result<void> derive_scrypt(std::string_view password, ByteView salt, const ScryptParams& sp, Bytes& out) {
  return scrypt(password, salt, sp.n, sp.r, sp.p, out);
}

Result<void> check_scrypt(const ScryptParams& sp) {
  if (sp.n < 2 || (sp.n & (sp.n - 1)) != 0)
    return fail(Errc::malformed, "scrypt n must be a power of two above 1, got " + std::to_string(sp.n));
  if (sp.r == 0 || sp.p == 0) return fail(Errc::malformed, "scrypt r and p must be positive");
  if (uint64_t{sp.r} * sp.p >= (uint64_t{1} << 30)) return fail(Errc::malformed, "scrypt r * p must be below 2^30");
  return {};
}

Result<void> derive_key(const json& crypto, std::string_view password, const KeystoreLimits& limits, Bytes& dk) {
  auto kdf = string_member(crypto, "kdf");
  if (!kdf) return std::unexpected(kdf.error());
  auto params_m = member(crypto, "kdfparams");
  if (!params_m) return std::unexpected(params_m.error());
  const json& params = **params_m;
  if (!params.is_object()) return fail(Errc::malformed, "keystore 'kdfparams' must be an object");
  auto dklen = uint_member(params, "dklen");
  if (!dklen) return std::unexpected(dklen.error());
  if (*dklen != kDerivedKeyLen) return fail(Errc::unsupported, "keystore dklen must be 32, got " + std::to_string(*dklen));
  auto salt = hex_member(params, "salt");
  if (!salt) return std::unexpected(salt.error());
  if (salt->size() > kMaxSaltLen) return fail(Errc::malformed, "keystore salt is longer than 1024 bytes");

  if (*kdf == "scrypt") {
    auto n = uint_member(params, "n");
    auto r = uint_member(params, "r");
    auto p = uint_member(params, "p");
    if (!n || !r || !p) return std::unexpected((!n ? n : !r ? r : p).error());
    if (*r > UINT32_MAX || *p > UINT32_MAX) return fail(Errc::malformed, "scrypt r or p out of range");
    ScryptParams sp{*n, static_cast<uint32_t>(*r), static_cast<uint32_t>(*p)};
    if (auto ok = check_scrypt(sp); !ok) return ok;
    // Overflow-safe bounds: n and r*p are each checked before their product is formed.
    if (sp.n > limits.max_scrypt_memory / 128 / sp.r)
      return fail(Errc::unsupported, "scrypt parameters n=" + std::to_string(sp.n) + " r=" + std::to_string(sp.r) +
                                         " need more memory than the limit of " +
                                         std::to_string(limits.max_scrypt_memory >> 20) + " MiB");
    if (sp.n > limits.max_scrypt_work / (uint64_t{sp.r} * sp.p))
      return fail(Errc::unsupported, "scrypt parameters n*r*p=" + std::to_string(sp.n) + "*" + std::to_string(sp.r) +
                                         "*" + std::to_string(sp.p) + " exceed the work limit of " +
                                         std::to_string(limits.max_scrypt_work));
    return derive_scrypt(password, *salt, sp, dk);
  }
  if (*kdf == "pbkdf2") {
    auto prf = string_member(params, "prf");
    if (!prf) return std::unexpected(prf.error());
    if (*prf != "hmac-sha256") return fail(Errc::unsupported, "keystore pbkdf2 prf '" + *prf + "' (only hmac-sha256)");
    auto c = uint_member(params, "c");
    if (!c) return std::unexpected(c.error());
    if (*c == 0) return fail(Errc::malformed, "pbkdf2 iteration count is zero");
    if (*c > limits.max_pbkdf2_iterations || *c > INT32_MAX)
      return fail(Errc::unsupported, "pbkdf2 iteration count " + std::to_string(*c) + " exceeds the limit of " +
                                         std::to_string(limits.max_pbkdf2_iterations));
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt->data(),
                          static_cast<int>(salt->size()), static_cast<int>(*c), EVP_sha256(),
                          static_cast<int>(dk.size()), dk.data()) != 1)
      return fail(Errc::crypto, "pbkdf2 key derivation failed");
    return {};
  }
  return fail(Errc::unsupported, "keystore kdf '" + *kdf + "' (supported: scrypt, pbkdf2)");
}

// AES-128-CTR is its own inverse: the same call encrypts and decrypts.
Result<void> aes128_ctr(ByteView key16, ByteView iv16, ByteView in, uint8_t* out) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr, key16.data(), iv16.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + len, &tail) != 1)
    return fail(Errc::crypto, "aes-128-ctr failed");
  return {};
}

Hash32 keystore_mac(ByteView dk, ByteView ciphertext) {
  Keccak256 h;
  h.update(dk.subspan(16, 16));
  h.update(ciphertext);
  return h.finalize();
}

Result<PrivateKey> decrypt_impl(const json& ks, std::string_view password, const KeystoreLimits& limits) {
  if (!ks.is_object()) return fail(Errc::malformed, "keystore must be a JSON object");
  auto version = uint_member(ks, "version");
  if (!version) return std::unexpected(version.error());
  if (*version != 3) return fail(Errc::unsupported, "keystore version " + std::to_string(*version) + " (only 3)");
  // geth's early files spell it "Crypto".
  auto cit = ks.find("crypto");
  if (cit == ks.end()) cit = ks.find("Crypto");
  if (cit == ks.end() || !cit->is_object()) return fail(Errc::malformed, "keystore has no 'crypto' object");
  const json& crypto = *cit;

  auto cipher = string_member(crypto, "cipher");
  if (!cipher) return std::unexpected(cipher.error());
  if (*cipher != "aes-128-ctr") return fail(Errc::unsupported, "keystore cipher '" + *cipher + "' (only aes-128-ctr)");
  auto cp = member(crypto, "cipherparams");
  if (!cp) return std::unexpected(cp.error());
  if (!(*cp)->is_object()) return fail(Errc::malformed, "keystore 'cipherparams' must be an object");
  auto iv = hex_member(**cp, "iv");
  if (!iv) return std::unexpected(iv.error());
  if (iv->size() != 16) return fail(Errc::malformed, "keystore iv must be 16 bytes, got " + std::to_string(iv->size()));
  auto ciphertext = hex_member(crypto, "ciphertext");
  if (!ciphertext) return std::unexpected(ciphertext.error());
  if (ciphertext->size() != 32)
    return fail(Errc::malformed, "keystore ciphertext must be 32 bytes, got " + std::to_string(ciphertext->size()));
  auto mac = hex_member(crypto, "mac");
  if (!mac) return std::unexpected(mac.error());
  if (mac->size() != 32) return fail(Errc::malformed, "keystore mac must be 32 bytes, got " + std::to_string(mac->size()));
  std::optional<Address> declared;
  if (ks.contains("address")) {
    auto a = keystore_address(ks);
    if (!a) return std::unexpected(a.error());
    declared = *a;
  }

  SecretBytes dk(kDerivedKeyLen);
  if (auto ok = derive_key(crypto, password, limits, dk.data); !ok) return std::unexpected(ok.error());
  Hash32 expected = keystore_mac(dk.data, *ciphertext);
  if (CRYPTO_memcmp(expected.data(), mac->data(), 32) != 0)
    return fail(Errc::crypto, "wrong password (keystore MAC mismatch)");
  SecretBytes secret(32);
  if (auto ok = aes128_ctr(ByteView(dk.data).first(16), *iv, *ciphertext, secret.data.data()); !ok)
    return std::unexpected(ok.error());
  auto key = PrivateKey::from_bytes(secret.data);
  if (!key) return std::unexpected(key.error().context("keystore"));
  if (declared && *declared != key->address())
    return fail(Errc::crypto, "keystore address " + declared->checksummed() + " does not match the decrypted key (" +
                                  key->address().checksummed() + ")");
  return key;
}

}  // namespace

Result<PrivateKey> decrypt_keystore(const json& keystore, std::string_view password, const KeystoreLimits& limits) {
  try {
    return decrypt_impl(keystore, password, limits);
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("keystore: ") + e.what());
  }
}

Result<PrivateKey> decrypt_keystore(std::string_view json_text, std::string_view password,
                                    const KeystoreLimits& limits) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const std::exception& e) {
    return fail(Errc::malformed, std::string("keystore is not valid JSON: ") + e.what());
  }
  return decrypt_keystore(doc, password, limits);
}

Result<Address> keystore_address(const json& keystore) {
  if (!keystore.is_object()) return fail(Errc::malformed, "keystore must be a JSON object");
  auto s = string_member(keystore, "address");
  if (!s) return std::unexpected(s.error());
  auto a = parse_address(*s);
  if (!a) return std::unexpected(a.error().context("keystore address"));
  return a;
}

std::string uuid_v4() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // no entropy: cannot continue safely
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string h = to_hex(ByteView(b, 16), false);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

Result<json> encrypt_keystore(const PrivateKey& key, std::string_view password, const ScryptParams& params) {
  if (auto ok = check_scrypt(params); !ok) return std::unexpected(ok.error().context("encrypt_keystore"));
  uint8_t salt[32], iv[16];
  if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1) std::abort();
  SecretBytes dk(kDerivedKeyLen);
  if (auto ok = derive_scrypt(password, ByteView(salt, 32), params, dk.data); !ok) return std::unexpected(ok.error());
  Bytes ciphertext(32);
  if (auto ok = aes128_ctr(ByteView(dk.data).first(16), ByteView(iv, 16), key.secret(), ciphertext.data()); !ok)
    return std::unexpected(ok.error());
  Hash32 mac = keystore_mac(dk.data, ciphertext);
  try {
    return json{{"address", to_hex(key.address().bytes, false)},
                {"crypto",
                 {{"cipher", "aes-128-ctr"},
                  {"ciphertext", to_hex(ciphertext, false)},
                  {"cipherparams", {{"iv", to_hex(ByteView(iv, 16), false)}}},
                  {"kdf", "scrypt"},
                  {"kdfparams",
                   {{"dklen", kDerivedKeyLen},
                    {"n", params.n},
                    {"p", params.p},
                    {"r", params.r},
                    {"salt", to_hex(ByteView(salt, 32), false)}}},
                  {"mac", to_hex(mac, false)}}},
                {"id", uuid_v4()},
                {"version", 3}};
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("keystore: ") + e.what());
  }
}

Result<PrivateKey> load_keystore(const std::filesystem::path& path, std::string_view password,
                                 const KeystoreLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot open keystore " + path.string() + ": " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxKeystoreFile) return fail(Errc::malformed, "keystore " + path.string() + " is larger than 1 MiB");
  }
  if (in.bad()) return fail(Errc::io, "cannot read keystore " + path.string());
  auto key = decrypt_keystore(std::string_view(text), password, limits);
  if (!key) return std::unexpected(key.error().context(path.string()));
  return key;
}

Result<void> save_keystore(const std::filesystem::path& path, const PrivateKey& key, std::string_view password,
                           const ScryptParams& params) {
  auto ks = encrypt_keystore(key, password, params);
  if (!ks) return std::unexpected(ks.error());
  return write_file_atomic(path, ks->dump(), 0600);
}

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode) {
  auto io_error = [&](const std::string& what) {
    return fail(Errc::io, what + " " + path.string() + ": " + std::strerror(errno));
  };
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return io_error("cannot create a temporary file for");
  auto abandon = [&](const std::string& what) {
    auto err = io_error(what);
    close(fd);
    unlink(tmpl.c_str());
    return err;
  };
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0) return abandon("cannot set permissions of");
  for (size_t off = 0; off < content.size();) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return abandon("cannot write");
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return abandon("cannot fsync");
  if (close(fd) != 0) {
    unlink(tmpl.c_str());
    return io_error("cannot close");
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    auto err = io_error("cannot rename into");
    unlink(tmpl.c_str());
    return err;
  }
  // The rename itself is durable only once the directory entry is flushed.
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return {};
}

}  // namespace dgrid::crypto
