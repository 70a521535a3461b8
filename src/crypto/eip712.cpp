#include "crypto/eip712.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/u256.hpp"
#include "crypto/keccak.hpp"

namespace dgrid::crypto {

using nlohmann::json;
using eip712_detail::Field;
using eip712_detail::FieldType;
using eip712_detail::Kind;
using eip712_detail::StructDef;

namespace {

constexpr std::string_view kDomainType = "EIP712Domain";

bool is_identifier(std::string_view s) noexcept {
  if (s.empty()) return false;
  auto word_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
  };
  if (s[0] >= '0' && s[0] <= '9') return false;
  return std::all_of(s.begin(), s.end(), word_char);
}

// Decimal digits without sign or leading zeros, at most `max`; else nullopt.
std::optional<unsigned> parse_small(std::string_view digits, unsigned max) noexcept {
  if (digits.empty() || digits.size() > 9 || (digits[0] == '0' && digits.size() > 1)) return std::nullopt;
  unsigned v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// An atomic type name, or nullopt when `base` is not atomic (then it may name a struct).
Result<std::optional<FieldType>> parse_atomic(std::string_view base) {
  FieldType t;
  if (base == "address") t.kind = Kind::address;
  else if (base == "bool") t.kind = Kind::bool_;
  else if (base == "string") t.kind = Kind::string;
  else if (base == "bytes") t.kind = Kind::bytes;
  else if (base.starts_with("bytes")) {
    auto w = parse_small(base.substr(5), 32);
    if (!w || *w == 0) return fail(Errc::malformed, "invalid type '" + std::string(base) + "': bytesN needs 1 <= N <= 32");
    t.kind = Kind::fixed_bytes;
    t.width = *w;
  } else if (base.starts_with("uint") || base.starts_with("int")) {
    bool is_signed = base[0] == 'i';
    std::string_view digits = base.substr(is_signed ? 3 : 4);
    if (!digits.empty() && digits.find_first_not_of("0123456789") != std::string_view::npos)
      return std::optional<FieldType>{};  // e.g. "uintX": not atomic, maybe a struct name
    auto w = digits.empty() ? std::optional<unsigned>(256) : parse_small(digits, 256);
    if (!w || *w == 0 || *w % 8 != 0)
      return fail(Errc::malformed, "invalid type '" + std::string(base) + "': width must be a multiple of 8 in 8..256");
    t.kind = is_signed ? Kind::int_ : Kind::uint_;
    t.width = *w;
  } else {
    return std::optional<FieldType>{};
  }
  return std::optional<FieldType>(t);
}

bool is_atomic_name(std::string_view name) {
  auto a = parse_atomic(name);
  return !a || a->has_value();
}

// Splits "Base[2][]" into the base and its dimensions (outermost first); normalizes the
// base "uint"/"int" to "uint256"/"int256" as ethers does.
Result<Field> parse_field(const Eip712Field& f, const std::map<std::string, std::vector<Eip712Field>>& defs) {
  if (!is_identifier(f.name)) return fail(Errc::malformed, "invalid field name '" + f.name + "'");
  std::string_view type = f.type;
  FieldType parsed;
  while (!type.empty() && type.back() == ']') {
    size_t open = type.rfind('[');
    if (open == std::string_view::npos) return fail(Errc::malformed, "invalid type '" + f.type + "': unbalanced ']'");
    std::string_view len = type.substr(open + 1, type.size() - open - 2);
    if (len.empty()) {
      parsed.dims.push_back(-1);
    } else {
      auto n = parse_small(len, 1u << 30);
      if (!n || *n == 0) return fail(Errc::malformed, "invalid type '" + f.type + "': bad fixed array length");
      parsed.dims.push_back(*n);
    }
    if (parsed.dims.size() > static_cast<size_t>(Eip712Types::kMaxDepth))
      return fail(Errc::malformed, "invalid type '" + f.type + "': too many array dimensions");
    type = type.substr(0, open);
  }
  // Suffixes were read right to left, which is outermost first: "T[2][]" is a dynamic array
  // of T[2].
  std::string base(type);
  std::string suffix = f.type.substr(type.size());
  auto atomic = parse_atomic(base);
  if (!atomic) return std::unexpected(atomic.error());
  if (atomic->has_value()) {
    FieldType a = **atomic;
    parsed.kind = a.kind;
    parsed.width = a.width;
    if (base == "uint" || base == "int") base += "256";
  } else {
    if (!defs.contains(base)) return fail(Errc::malformed, "unknown type '" + base + "'");
    parsed.kind = Kind::struct_;
    parsed.struct_name = base;
  }
  return Field{f.name, base + suffix, std::move(parsed)};
}

void put_word(Bytes& out, const uint8_t* word32) { out.insert(out.end(), word32, word32 + 32); }

// ---- atomic value encoders --------------------------------------------------------------

struct Integer {
  bool negative = false;
  u256 magnitude = 0;
};

Result<Integer> json_integer(const json& v) {
  if (v.is_number_unsigned()) return Integer{false, u256(v.get<uint64_t>())};
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    // Two's complement negation in unsigned arithmetic also covers INT64_MIN.
    return x < 0 ? Integer{true, u256(~static_cast<uint64_t>(x) + 1)} : Integer{false, u256(static_cast<uint64_t>(x))};
  }
  if (v.is_number_float())
    return fail(Errc::malformed, "number is not an exact integer (pass large integers as decimal strings)");
  if (!v.is_string()) return fail(Errc::malformed, "expected an integer (JSON number or decimal/0x-hex string)");
  std::string_view s = v.get_ref<const std::string&>();
  Integer out;
  if (!s.empty() && s[0] == '-') {
    out.negative = true;
    s.remove_prefix(1);
  }
  auto mag = parse_u256(s);
  if (!mag) return fail(Errc::malformed, "invalid integer \"" + v.get<std::string>() + "\": " + mag.error().message);
  out.magnitude = *mag;
  if (out.magnitude == 0) out.negative = false;
  return out;
}

Result<Hash32> encode_integer(const FieldType& t, const json& v) {
  auto n = json_integer(v);
  if (!n) return std::unexpected(n.error());
  const char* name = t.kind == Kind::int_ ? "int" : "uint";
  auto out_of_range = [&] {
    return fail(Errc::malformed, "value " + std::string(n->negative ? "-" : "") + to_dec(n->magnitude) +
                                     " out of range for " + name + std::to_string(t.width));
  };
  if (t.kind == Kind::uint_) {
    if (n->negative) return out_of_range();
    if (t.width < 256 && (n->magnitude >> t.width) != 0) return out_of_range();
    return to_be32(n->magnitude);
  }
  const u256 limit = u256(1) << (t.width - 1);  // |min| for intN; max is limit - 1
  if (n->negative ? n->magnitude > limit : n->magnitude >= limit) return out_of_range();
  return to_be32(n->negative ? u256(~n->magnitude + 1) : n->magnitude);
}

Result<Bytes> json_hex(const json& v) {
  if (!v.is_string()) return fail(Errc::malformed, "expected a 0x-hex string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return fail(Errc::malformed, "expected a 0x-hex string");
  return from_hex(s);
}

Result<Hash32> encode_atomic(const FieldType& t, const json& v) {
  Hash32 w{};
  switch (t.kind) {
    case Kind::uint_:
    case Kind::int_:
      return encode_integer(t, v);
    case Kind::bool_:
      if (!v.is_boolean()) return fail(Errc::malformed, "expected true or false");
      w[31] = v.get<bool>() ? 1 : 0;
      return w;
    case Kind::address: {
      if (!v.is_string()) return fail(Errc::malformed, "expected an address string");
      auto a = parse_address(v.get_ref<const std::string&>());
      if (!a) return std::unexpected(a.error());
      std::memcpy(w.data() + 12, a->bytes.data(), 20);
      return w;
    }
    case Kind::fixed_bytes: {
      auto b = json_hex(v);
      if (!b) return std::unexpected(b.error());
      if (b->size() != t.width)
        return fail(Errc::malformed, "bytes" + std::to_string(t.width) + " needs " + std::to_string(t.width) +
                                         " bytes of hex, got " + std::to_string(b->size()));
      std::memcpy(w.data(), b->data(), b->size());
      return w;
    }
    case Kind::bytes: {
      auto b = json_hex(v);
      if (!b) return std::unexpected(b.error());
      return keccak256(*b);
    }
    case Kind::string:
      if (!v.is_string()) return fail(Errc::malformed, "expected a string");
      return keccak256(std::string_view(v.get_ref<const std::string&>()));
    case Kind::struct_:
      break;
  }
  return fail(Errc::internal, "encode_atomic called for a struct");
}

std::string encode_one(std::string_view name, const StructDef& s) {
  std::string out(name);
  out += '(';
  for (size_t i = 0; i < s.fields.size(); ++i) {
    if (i) out += ',';
    out += s.fields[i].type + " " + s.fields[i].name;
  }
  out += ')';
  return out;
}

}  // namespace

// ---- type set ---------------------------------------------------------------------------

const StructDef* Eip712Types::find(std::string_view name) const noexcept {
  auto it = structs_.find(name);
  return it == structs_.end() ? nullptr : &it->second;
}

bool Eip712Types::contains(std::string_view name) const noexcept { return find(name) != nullptr; }

Result<Eip712Types> Eip712Types::from_definitions(const std::map<std::string, std::vector<Eip712Field>>& defs) try {
  Eip712Types out;
  for (const auto& [name, fields] : defs) {
    if (!is_identifier(name)) return fail(Errc::malformed, "invalid type name '" + name + "'");
    if (is_atomic_name(name)) return fail(Errc::malformed, "type name '" + name + "' shadows an atomic type");
    StructDef def;
    std::set<std::string, std::less<>> seen;
    for (const auto& f : fields) {
      auto parsed = parse_field(f, defs);
      if (!parsed) return std::unexpected(parsed.error().context("type " + name));
      if (!seen.insert(f.name).second)
        return fail(Errc::malformed, "type " + name + ": duplicate field name '" + f.name + "'");
      def.fields.push_back(std::move(*parsed));
    }
    out.structs_.emplace(name, std::move(def));
  }
  // Nesting depth per struct (iterative DFS, so hostile inputs cannot exhaust the stack);
  // a grey node reached again is a cycle.
  std::map<std::string_view, int> depth;  // -1 while on the DFS path
  for (const auto& [root, unused] : out.structs_) {
    if (depth.contains(root)) continue;
    std::vector<std::pair<std::string_view, size_t>> stack{{root, 0}};
    depth[root] = -1;
    while (!stack.empty()) {
      auto& [name, next] = stack.back();
      const StructDef& def = out.structs_.find(name)->second;
      if (next < def.fields.size()) {
        const FieldType& t = def.fields[next++].parsed;
        if (t.kind != Kind::struct_) continue;
        auto it = depth.find(t.struct_name);
        if (it == depth.end()) {
          depth[t.struct_name] = -1;
          stack.emplace_back(t.struct_name, 0);
        } else if (it->second < 0) {
          return fail(Errc::malformed, "cyclic type reference: " + std::string(name) + " -> " + t.struct_name);
        }
        continue;
      }
      int d = 1;
      for (const Field& f : def.fields) {
        int child = f.parsed.kind == Kind::struct_ ? depth[f.parsed.struct_name] : 0;
        d = std::max(d, 1 + static_cast<int>(f.parsed.dims.size()) + child);
      }
      if (d > kMaxDepth)
        return fail(Errc::malformed, "type " + std::string(name) + " nests deeper than " + std::to_string(kMaxDepth));
      depth[name] = d;
      stack.pop_back();
    }
  }
  // encodeType: the struct itself, then every struct it references (transitively) by name.
  for (auto& [name, def] : out.structs_) {
    std::set<std::string_view> refs;
    std::vector<const StructDef*> todo{&def};
    while (!todo.empty()) {
      const StructDef* cur = todo.back();
      todo.pop_back();
      for (const Field& f : cur->fields)
        if (f.parsed.kind == Kind::struct_ && f.parsed.struct_name != name && refs.insert(f.parsed.struct_name).second)
          todo.push_back(&out.structs_.find(f.parsed.struct_name)->second);
    }
    def.encoded_type = encode_one(name, def);
    for (std::string_view r : refs) def.encoded_type += encode_one(r, out.structs_.find(r)->second);
    def.type_hash = keccak256(std::string_view(def.encoded_type));
  }
  return out;
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("eip712 types: ") + e.what());
}

Result<Eip712Types> Eip712Types::from_json(const json& types) try {
  if (!types.is_object()) return fail(Errc::malformed, "types must be an object");
  std::map<std::string, std::vector<Eip712Field>> defs;
  for (const auto& [name, fields] : types.items()) {
    if (!fields.is_array()) return fail(Errc::malformed, "types." + name + " must be an array of {name, type}");
    auto& out = defs[name];
    for (const auto& f : fields) {
      auto n = f.is_object() ? f.find("name") : f.end();
      auto t = f.is_object() ? f.find("type") : f.end();
      if (!f.is_object() || n == f.end() || t == f.end() || !n->is_string() || !t->is_string())
        return fail(Errc::malformed, "types." + name + ": each field must be {\"name\": string, \"type\": string}");
      out.push_back({n->get<std::string>(), t->get<std::string>()});
    }
  }
  return from_definitions(defs);
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("eip712 types: ") + e.what());
}

Result<std::string> Eip712Types::encode_type(std::string_view name) const {
  const StructDef* s = find(name);
  if (!s) return fail(Errc::malformed, "unknown struct type '" + std::string(name) + "'");
  return s->encoded_type;
}

Result<Hash32> Eip712Types::type_hash(std::string_view name) const {
  const StructDef* s = find(name);
  if (!s) return fail(Errc::malformed, "unknown struct type '" + std::string(name) + "'");
  return s->type_hash;
}

namespace {

Result<Bytes> encode_struct(const Eip712Types& types, const StructDef& s, std::string_view name, const json& v);

// The 32-byte word for a value of type t whose first `dim` array dimensions are consumed.
Result<Hash32> encode_value(const Eip712Types& types, const FieldType& t, size_t dim, const json& v) {
  if (dim < t.dims.size()) {
    if (!v.is_array()) return fail(Errc::malformed, "expected an array");
    if (t.dims[dim] >= 0 && v.size() != static_cast<size_t>(t.dims[dim]))
      return fail(Errc::malformed, "fixed array needs " + std::to_string(t.dims[dim]) + " elements, got " +
                                       std::to_string(v.size()));
    Bytes words;
    words.reserve(v.size() * 32);
    for (size_t i = 0; i < v.size(); ++i) {
      auto w = encode_value(types, t, dim + 1, v[i]);
      if (!w) return std::unexpected(w.error().context("[" + std::to_string(i) + "]"));
      put_word(words, w->data());
    }
    return keccak256(words);
  }
  if (t.kind != Kind::struct_) return encode_atomic(t, v);
  auto enc = types.encode_data(t.struct_name, v);
  if (!enc) return std::unexpected(enc.error());
  return keccak256(*enc);
}

Result<Bytes> encode_struct(const Eip712Types& types, const StructDef& s, std::string_view name, const json& v) {
  if (!v.is_object()) return fail(Errc::malformed, "expected an object for struct " + std::string(name));
  Bytes out;
  out.reserve(32 * (s.fields.size() + 1));
  put_word(out, s.type_hash.data());
  for (const Field& f : s.fields) {
    auto it = v.find(f.name);
    if (it == v.end()) return fail(Errc::malformed, "missing field '" + f.name + "' of " + std::string(name));
    auto w = encode_value(types, f.parsed, 0, *it);
    if (!w) return std::unexpected(w.error().context(f.name));
    put_word(out, w->data());
  }
  if (v.size() != s.fields.size()) {
    for (const auto& [key, unused] : v.items()) {
      bool known = std::any_of(s.fields.begin(), s.fields.end(), [&](const Field& f) { return f.name == key; });
      if (!known) return fail(Errc::malformed, "field '" + key + "' is not declared in " + std::string(name));
    }
  }
  return out;
}

}  // namespace

Result<Bytes> Eip712Types::encode_data(std::string_view name, const json& value) const try {
  const StructDef* s = find(name);
  if (!s) return fail(Errc::malformed, "unknown struct type '" + std::string(name) + "'");
  return encode_struct(*this, *s, name, value);
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("eip712 encode: ") + e.what());
}

Result<Hash32> Eip712Types::hash_struct(std::string_view name, const json& value) const {
  auto enc = encode_data(name, value);
  if (!enc) return std::unexpected(enc.error());
  return keccak256(*enc);
}

// ---- documents --------------------------------------------------------------------------

Result<std::vector<Eip712Field>> eip712_domain_fields(const json& domain) {
  static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
      {"name", "string"}, {"version", "string"}, {"chainId", "uint256"},
      {"verifyingContract", "address"}, {"salt", "bytes32"}};
  if (!domain.is_object()) return fail(Errc::malformed, "domain must be an object");
  std::vector<Eip712Field> out;
  for (auto [key, type] : kKnown) {
    auto it = domain.find(key);
    if (it != domain.end() && !it->is_null()) out.push_back({std::string(key), std::string(type)});
  }
  for (const auto& [key, v] : domain.items()) {
    bool known = std::any_of(std::begin(kKnown), std::end(kKnown), [&](const auto& k) { return k.first == key; });
    if (!known && !v.is_null()) return fail(Errc::malformed, "unknown EIP712Domain key '" + key + "'");
  }
  return out;
}

Result<TypedData> TypedData::from_json(const json& doc, TypedDataOptions options) try {
  if (!doc.is_object()) return fail(Errc::malformed, "typed data must be a JSON object");
  for (const char* key : {"types", "primaryType", "domain", "message"})
    if (!doc.contains(key)) return fail(Errc::malformed, std::string("typed data has no '") + key + "'");
  const json& types_json = doc["types"];
  if (!doc["primaryType"].is_string()) return fail(Errc::malformed, "primaryType must be a string");
  if (!types_json.is_object()) return fail(Errc::malformed, "types must be an object");
  Result<Eip712Types> types = [&]() -> Result<Eip712Types> {
    if (types_json.contains(kDomainType)) return Eip712Types::from_json(types_json);
    if (!options.infer_domain_type)
      return fail(Errc::malformed, "types has no EIP712Domain definition (eth_signTypedData_v4 requires one)");
    auto fields = eip712_domain_fields(doc["domain"]);
    if (!fields) return std::unexpected(fields.error());
    json with_domain = types_json;
    json& d = with_domain[std::string(kDomainType)] = json::array();
    for (const auto& f : *fields) d.push_back({{"name", f.name}, {"type", f.type}});
    return Eip712Types::from_json(with_domain);
  }();
  if (!types) return std::unexpected(types.error());
  std::string primary = doc["primaryType"].get<std::string>();
  if (!types->contains(primary)) return fail(Errc::malformed, "primaryType '" + primary + "' is not defined in types");
  return TypedData{std::move(*types), std::move(primary), doc["domain"], doc["message"]};
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("typed data: ") + e.what());
}

Result<TypedData> TypedData::parse(std::string_view json_text, TypedDataOptions options) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const std::exception& e) {
    return fail(Errc::malformed, std::string("typed data is not valid JSON: ") + e.what());
  }
  return from_json(doc, options);
}

Result<Hash32> TypedData::domain_separator() const {
  auto h = types.hash_struct(kDomainType, domain);
  if (!h) return std::unexpected(h.error().context("domain"));
  return h;
}

Result<Hash32> TypedData::struct_hash() const {
  auto h = types.hash_struct(primary_type, message);
  if (!h) return std::unexpected(h.error().context("message"));
  return h;
}

Result<Hash32> TypedData::digest() const {
  auto ds = domain_separator();
  if (!ds) return std::unexpected(ds.error());
  auto sh = struct_hash();
  if (!sh) return std::unexpected(sh.error());
  return eip712_digest(*ds, *sh);
}

Hash32 eip712_digest(const Hash32& domain_separator, const Hash32& struct_hash) noexcept {
  uint8_t buf[66] = {0x19, 0x01};
  std::memcpy(buf + 2, domain_separator.data(), 32);
  std::memcpy(buf + 34, struct_hash.data(), 32);
  return keccak256(ByteView(buf, sizeof(buf)));
}

Result<Hash32> typed_data_digest(const json& doc) {
  auto td = TypedData::from_json(doc);
  if (!td) return std::unexpected(td.error());
  return td->digest();
}

Result<Signature> sign_typed_data(const PrivateKey& key, const json& doc) {
  auto d = typed_data_digest(doc);
  if (!d) return std::unexpected(d.error());
  return key.sign(*d);
}

Result<Address> recover_typed_data_signer(const json& doc, const Signature& sig) {
  auto d = typed_data_digest(doc);
  if (!d) return std::unexpected(d.error());
  return recover_address(*d, sig);
}

}  // namespace dgrid::crypto
