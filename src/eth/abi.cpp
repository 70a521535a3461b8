#include "eth/abi.hpp"

#include <algorithm>

#include "crypto/keccak.hpp"

namespace dgrid::eth::abi {

Selector selector(std::string_view signature) noexcept {
  Hash32 h = crypto::keccak256(signature);
  return {h[0], h[1], h[2], h[3]};
}

Hash32 event_topic(std::string_view signature) noexcept { return crypto::keccak256(signature); }

namespace {

// A sequence of types: a tuple's components, or one element type repeated n times.
struct Seq {
  const Type* types;
  size_t n;
  bool repeat;
  const Type& at(size_t i) const { return repeat ? types[0] : types[i]; }
  static Seq tuple(const std::vector<Type>& ts) { return {ts.data(), ts.size(), false}; }
  static Seq repeated(const Type& t, size_t n) { return {&t, n, true}; }
};

// ---------------------------------------------------------------------------------------
// Value checks

i256 int_limit(uint32_t bits) { return i256(1) << (bits - 1); }

// Integers are accepted from either integer kind when in range, so callers need not care
// whether a literal was built as uint or int.
Result<u256> uint_of(const Value& v, uint32_t bits) {
  u256 x;
  if (const auto* u = std::get_if<u256>(&v.storage())) {
    x = *u;
  } else if (const auto* s = std::get_if<i256>(&v.storage()); s && *s >= 0) {
    x = static_cast<u256>(*s);
  } else {
    return fail(Errc::invalid_argument, "expected uint" + std::to_string(bits) + ", got " +
                                            (std::get_if<i256>(&v.storage()) ? std::string("negative int")
                                                                             : std::string(v.kind_name())));
  }
  if (bits < 256 && (x >> bits) != 0)
    return fail(Errc::invalid_argument, to_dec(x) + " does not fit uint" + std::to_string(bits));
  return x;
}

Result<i256> int_of(const Value& v, uint32_t bits) {
  i256 x;
  if (const auto* s = std::get_if<i256>(&v.storage())) x = *s;
  else if (const auto* u = std::get_if<u256>(&v.storage())) x = static_cast<i256>(*u);
  else return fail(Errc::invalid_argument, "expected int" + std::to_string(bits) + ", got " + std::string(v.kind_name()));
  if (x < -int_limit(bits) || x >= int_limit(bits))
    return fail(Errc::invalid_argument, x.str() + " does not fit int" + std::to_string(bits));
  return x;
}

Result<void> check(const Type& t, const Value& v, std::string& path);

Result<void> check_seq(Seq s, const Value& v, std::string& path) {
  const auto* items = v.items();
  if (!items) return fail(Errc::invalid_argument, "expected a list, got " + std::string(v.kind_name()));
  if (!s.repeat || s.n != SIZE_MAX) {
    if (items->size() != s.n)
      return fail(Errc::invalid_argument,
                  "expected " + std::to_string(s.n) + " items, got " + std::to_string(items->size()));
  }
  for (size_t i = 0; i < items->size(); ++i) {
    size_t len = path.size();
    path += "[" + std::to_string(i) + "]";
    if (auto r = check(s.at(i), (*items)[i], path); !r) return r;
    path.resize(len);
  }
  return {};
}

Result<void> check(const Type& t, const Value& v, std::string& path) {
  auto wrong = [&](std::string_view want) {
    return fail(Errc::invalid_argument, "expected " + std::string(want) + ", got " + std::string(v.kind_name()));
  };
  const auto& s = v.storage();
  switch (t.kind) {
    case Kind::uint: {
      auto r = uint_of(v, t.size);
      return r ? Result<void>{} : std::unexpected(r.error());
    }
    case Kind::int_: {
      auto r = int_of(v, t.size);
      return r ? Result<void>{} : std::unexpected(r.error());
    }
    case Kind::address: return std::holds_alternative<crypto::Address>(s) ? Result<void>{} : wrong("address");
    case Kind::boolean: return std::holds_alternative<bool>(s) ? Result<void>{} : wrong("bool");
    case Kind::fixed_bytes: {
      const auto* b = std::get_if<Bytes>(&s);
      if (!b) return wrong(t.canonical());
      if (b->size() != t.size)
        return fail(Errc::invalid_argument,
                    "expected " + t.canonical() + ", got " + std::to_string(b->size()) + " bytes");
      return {};
    }
    case Kind::bytes: return std::holds_alternative<Bytes>(s) ? Result<void>{} : wrong("bytes");
    case Kind::string: return std::holds_alternative<std::string>(s) ? Result<void>{} : wrong("string");
    case Kind::array: return check_seq(Seq::repeated(t.elems[0], SIZE_MAX), v, path);
    case Kind::fixed_array: return check_seq(Seq::repeated(t.elems[0], t.size), v, path);
    case Kind::tuple: return check_seq(Seq::tuple(t.elems), v, path);
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// Encoding (values already checked)

void put_word(Bytes& out, const Hash32& w) { out.insert(out.end(), w.begin(), w.end()); }
void put_u(Bytes& out, const u256& v) { put_word(out, to_be32(v)); }

u256 twos_complement(const i256& v) {
  if (v >= 0) return static_cast<u256>(v);
  u256 mag = static_cast<u256>(-v);
  return ~mag + 1;  // u256 arithmetic wraps modulo 2^256
}

void put_padded(Bytes& out, ByteView data) {
  out.insert(out.end(), data.begin(), data.end());
  out.resize(out.size() + (32 - data.size() % 32) % 32, 0);
}

void enc(const Type& t, const Value& v, Bytes& out);

void enc_seq(Seq s, std::span<const Value> items, Bytes& out) {
  const size_t start = out.size();
  std::vector<size_t> slots;  // where each dynamic item's offset word goes
  for (size_t i = 0; i < items.size(); ++i) {
    const Type& t = s.at(i);
    if (t.is_dynamic()) {
      slots.push_back(out.size());
      out.resize(out.size() + 32, 0);
    } else {
      enc(t, items[i], out);
    }
  }
  size_t slot = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Type& t = s.at(i);
    if (!t.is_dynamic()) continue;
    Hash32 off = to_be32(u256(out.size() - start));
    std::copy(off.begin(), off.end(), out.begin() + static_cast<std::ptrdiff_t>(slots[slot++]));
    enc(t, items[i], out);
  }
}

void enc(const Type& t, const Value& v, Bytes& out) {
  const auto& s = v.storage();
  switch (t.kind) {
    case Kind::uint: put_u(out, *uint_of(v, t.size)); return;
    case Kind::int_: put_u(out, twos_complement(*int_of(v, t.size))); return;
    case Kind::address: {
      out.resize(out.size() + 12, 0);
      const auto& a = std::get<crypto::Address>(s).bytes;
      out.insert(out.end(), a.begin(), a.end());
      return;
    }
    case Kind::boolean: put_u(out, std::get<bool>(s) ? 1 : 0); return;
    case Kind::fixed_bytes: put_padded(out, std::get<Bytes>(s)); return;
    case Kind::bytes:
    case Kind::string: {
      ByteView data = t.kind == Kind::bytes ? ByteView(std::get<Bytes>(s)) : as_bytes(std::get<std::string>(s));
      put_u(out, data.size());
      put_padded(out, data);
      return;
    }
    case Kind::array:
      put_u(out, v.items()->size());
      enc_seq(Seq::repeated(t.elems[0], v.items()->size()), *v.items(), out);
      return;
    case Kind::fixed_array: enc_seq(Seq::repeated(t.elems[0], t.size), *v.items(), out); return;
    case Kind::tuple: enc_seq(Seq::tuple(t.elems), *v.items(), out); return;
  }
}

// ---------------------------------------------------------------------------------------
// Decoding

std::unexpected<Error> malformed(std::string msg) { return fail(Errc::malformed, "ABI: " + std::move(msg)); }
std::string at(size_t offset) { return " at offset " + std::to_string(offset); }

class Decoder {
 public:
  Decoder(ByteView data, Mode mode) : d_(data), strict_(mode == Mode::strict), budget_(2 * data.size() + 64) {}

  // Decodes a value whose encoding starts at `pos`; `end` receives one past its last byte.
  // Leaves and array headers are charged against the budget; tuples cost nothing extra.
  Result<Value> dec(const Type& t, size_t pos, size_t& end) {
    if (t.kind != Kind::tuple && t.kind != Kind::fixed_array) {
      if (auto r = charge(32); !r) return std::unexpected(r.error());
    }
    switch (t.kind) {
      case Kind::bytes:
      case Kind::string: {
        auto len = read_size(pos, "length");
        if (!len) return std::unexpected(len.error());
        const size_t body = pos + 32, avail = d_.size() - body;
        if (*len > avail)
          return malformed(t.canonical() + " length " + std::to_string(*len) + " exceeds remaining " +
                           std::to_string(avail) + " bytes" + at(pos));
        const size_t padded = (*len + 31) / 32 * 32;
        if (padded > avail) return malformed(t.canonical() + " padding truncated" + at(pos));
        if (strict_ && std::any_of(d_.begin() + static_cast<std::ptrdiff_t>(body + *len),
                                   d_.begin() + static_cast<std::ptrdiff_t>(body + padded),
                                   [](uint8_t b) { return b != 0; }))
          return malformed(t.canonical() + " has non-zero padding" + at(pos));
        if (auto r = charge(*len); !r) return std::unexpected(r.error());
        end = body + padded;
        ByteView data = d_.subspan(body, *len);
        if (t.kind == Kind::bytes) return Value::bytes(data);
        return Value::string(std::string(as_chars(data)));
      }
      case Kind::array: {
        auto n = read_size(pos, "array length");
        if (!n) return std::unexpected(n.error());
        const size_t avail = d_.size() - pos - 32, elem = t.elems[0].head_size();
        if (*n > avail / elem)
          return malformed("array length " + std::to_string(*n) + " needs more than the remaining " +
                           std::to_string(avail) + " bytes" + at(pos));
        auto items = dec_seq(Seq::repeated(t.elems[0], *n), pos + 32, end);
        if (!items) return std::unexpected(items.error());
        return Value::list(std::move(*items));
      }
      case Kind::fixed_array:
      case Kind::tuple: {
        Seq s = t.kind == Kind::tuple ? Seq::tuple(t.elems) : Seq::repeated(t.elems[0], t.size);
        auto items = dec_seq(s, pos, end);
        if (!items) return std::unexpected(items.error());
        return Value::list(std::move(*items));
      }
      default: {
        if (pos > d_.size() || d_.size() - pos < 32)
          return malformed(t.canonical() + " word truncated" + at(pos));
        end = pos + 32;
        auto v = decode_word(t, d_.subspan(pos, 32));
        if (!v) return fail(v.error().code, v.error().message + at(pos));
        return v;
      }
    }
  }

  // Decodes the head/tail block of `s` starting at `base`.
  Result<Values> dec_seq(Seq s, size_t base, size_t& end) {
    size_t head_total = 0;
    for (size_t i = 0; i < s.n && !s.repeat; ++i) head_total += s.at(i).head_size();
    if (s.repeat) head_total = s.n * s.types[0].head_size();  // callers bound n first
    if (base > d_.size() || head_total > d_.size() - base)
      return malformed("needs " + std::to_string(head_total) + " bytes but only " +
                       std::to_string(base > d_.size() ? 0 : d_.size() - base) + " remain" + at(base));
    Values out;
    out.reserve(s.n);
    size_t head = base, tail = base + head_total, max_end = tail;
    for (size_t i = 0; i < s.n; ++i) {
      const Type& t = s.at(i);
      size_t e = 0;
      Result<Value> v;
      if (t.is_dynamic()) {
        auto off = read_size(head, "offset");
        if (!off) return std::unexpected(off.error());
        const size_t p = base + *off;
        if (p > d_.size()) return malformed("offset " + std::to_string(*off) + " points outside the data" + at(head));
        if (strict_ && p != tail)
          return malformed("non-canonical offset " + std::to_string(*off) + " (expected " +
                           std::to_string(tail - base) + ")" + at(head));
        v = dec(t, p, e);
        tail = e;
      } else {
        v = dec(t, head, e);
      }
      if (!v) return std::unexpected(v.error());
      out.push_back(std::move(*v));
      max_end = std::max(max_end, e);
      head += t.head_size();
    }
    end = strict_ ? tail : max_end;
    return out;
  }

 private:
  // A 32-byte word read as a size; anything not below the data size is out of range.
  Result<size_t> read_size(size_t pos, std::string_view what) {
    if (pos > d_.size() || d_.size() - pos < 32) return malformed(std::string(what) + " word truncated" + at(pos));
    ByteView w = d_.subspan(pos, 32);
    if (std::any_of(w.begin(), w.begin() + 24, [](uint8_t b) { return b != 0; }))
      return malformed(std::string(what) + " too large" + at(pos));
    uint64_t v = 0;
    for (size_t i = 24; i < 32; ++i) v = (v << 8) | w[i];
    if (v > d_.size()) return malformed(std::string(what) + " " + std::to_string(v) + " exceeds the data size" + at(pos));
    return static_cast<size_t>(v);
  }

  // Bounds total decoded output: with aliased offsets (lenient mode) the same bytes could
  // otherwise be decoded many times over.
  Result<void> charge(size_t n) {
    if (n > budget_) return malformed("decoded output would exceed twice the input size");
    budget_ -= n;
    return {};
  }

  ByteView d_;
  bool strict_;
  size_t budget_;
};

}  // namespace

Result<Value> decode_word(const Type& t, ByteView w) {
  if (w.size() != 32) return malformed("expected a 32-byte word");
  auto zero = [&](size_t from, size_t to) { return std::all_of(w.begin() + from, w.begin() + to, [](uint8_t b) { return b == 0; }); };
  u256 x = *from_be(w);
  switch (t.kind) {
    case Kind::uint:
      if (t.size < 256 && (x >> t.size) != 0) return malformed(t.canonical() + " has dirty high bits");
      return Value::uint(x);
    case Kind::int_: {
      if (t.size < 256) {
        u256 high = x >> (t.size - 1);
        if (high != 0 && high != (u256(1) << (257 - t.size)) - 1)
          return malformed(t.canonical() + " is not sign-extended");
      }
      if (!(x >> 255)) return Value::int_(static_cast<i256>(x));
      return Value::int_(-static_cast<i256>(~x + 1));
    }
    case Kind::address: {
      if (!zero(0, 12)) return malformed("address has dirty high bytes");
      crypto::Address a;
      std::copy(w.begin() + 12, w.end(), a.bytes.begin());
      return Value::address(a);
    }
    case Kind::boolean:
      if (x > 1) return malformed("bool word is neither 0 nor 1");
      return Value::boolean(x == 1);
    case Kind::fixed_bytes:
      if (!zero(t.size, 32)) return malformed(t.canonical() + " has non-zero trailing bytes");
      return Value::bytes(w.first(t.size));
    default: return malformed(t.canonical() + " is not a single-word type");
  }
}

Result<void> check_value(const Type& t, const Value& v) {
  std::string path;
  auto r = check(t, v, path);
  if (!r) return fail(Errc::invalid_argument, "ABI value" + (path.empty() ? "" : " " + path) + ": " + r.error().message);
  return {};
}

Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values) {
  if (types.size() != values.size())
    return fail(Errc::invalid_argument, "ABI: " + std::to_string(types.size()) + " types but " +
                                            std::to_string(values.size()) + " values");
  for (size_t i = 0; i < types.size(); ++i) {
    std::string path = "arg " + std::to_string(i);
    if (auto r = check(types[i], values[i], path); !r)
      return fail(Errc::invalid_argument, "ABI value " + path + ": " + r.error().message);
  }
  Bytes out;
  enc_seq(Seq{types.data(), types.size(), false}, values, out);
  return out;
}

Result<Bytes> encode(const Type& type, const Value& value) {
  return encode(std::span<const Type>(&type, 1), std::span<const Value>(&value, 1));
}

Result<Values> decode(std::span<const Type> types, ByteView data, Mode mode) {
  Decoder d(data, mode);
  size_t end = 0;
  auto out = d.dec_seq(Seq{types.data(), types.size(), false}, 0, end);
  if (!out) return out;
  if (mode == Mode::strict && end != data.size())
    return malformed(std::to_string(data.size() - end) + " trailing bytes" + at(end));
  return out;
}

Result<Value> decode(const Type& type, ByteView data, Mode mode) {
  auto r = decode(std::span<const Type>(&type, 1), data, mode);
  if (!r) return std::unexpected(r.error());
  return std::move((*r)[0]);
}

}  // namespace dgrid::eth::abi
