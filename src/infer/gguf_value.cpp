#include "infer/gguf_value.hpp"

#include <bit>
#include <charconv>
#include <cstring>

namespace dgrid::infer {

namespace {

void put_le(Bytes& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string quoted(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

template <class F>
std::string number_text(F v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string_view gguf_type_name(GgufType t) noexcept {
  static constexpr std::string_view kNames[kGgufTypeCount] = {
      "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < kGgufTypeCount ? kNames[i] : "invalid";
}

size_t gguf_scalar_size(GgufType t) noexcept {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return 0;
}

GgufValue GgufValue::f32(float v) { return scalar(GgufType::F32, std::bit_cast<uint32_t>(v)); }
GgufValue GgufValue::f64(double v) { return scalar(GgufType::F64, std::bit_cast<uint64_t>(v)); }

GgufValue GgufValue::string(std::string v) {
  GgufValue out;
  out.type_ = GgufType::STRING;
  out.str_ = std::move(v);
  return out;
}

GgufValue GgufValue::scalar_array(GgufType elem, Bytes raw) {
  auto a = std::make_shared<ArrayData>();
  a->elem = elem;
  const size_t size = gguf_scalar_size(elem);
  a->count = size ? raw.size() / size : 0;
  a->raw = std::move(raw);
  a->raw.resize(a->count * size);
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.arr_ = std::move(a);
  return out;
}

GgufValue GgufValue::string_array(std::vector<std::string> items) {
  auto a = std::make_shared<ArrayData>();
  a->elem = GgufType::STRING;
  a->count = items.size();
  a->strings = std::move(items);
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.arr_ = std::move(a);
  return out;
}

GgufValue GgufValue::f32_array(const std::vector<float>& items) {
  Bytes raw;
  raw.reserve(items.size() * 4);
  for (float f : items) put_le(raw, std::bit_cast<uint32_t>(f), 4);
  return scalar_array(GgufType::F32, std::move(raw));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& items) {
  Bytes raw;
  raw.reserve(items.size() * 4);
  for (int32_t v : items) put_le(raw, static_cast<uint32_t>(v), 4);
  return scalar_array(GgufType::I32, std::move(raw));
}

GgufValue GgufValue::array_array(std::vector<GgufValue> items) {
  auto a = std::make_shared<ArrayData>();
  a->elem = GgufType::ARRAY;
  a->count = items.size();
  a->arrays = std::move(items);
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.arr_ = std::move(a);
  return out;
}

bool GgufValue::is_integer() const noexcept {
  switch (type_) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

std::optional<int64_t> GgufValue::as_int() const noexcept {
  switch (type_) {
    case GgufType::U8: case GgufType::U16: case GgufType::U32: return static_cast<int64_t>(bits_);
    case GgufType::I8: return static_cast<int8_t>(bits_);
    case GgufType::I16: return static_cast<int16_t>(bits_);
    case GgufType::I32: return static_cast<int32_t>(bits_);
    case GgufType::I64: return static_cast<int64_t>(bits_);
    case GgufType::U64:
      if (bits_ > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<int64_t>(bits_);
    default: return std::nullopt;
  }
}

std::optional<uint64_t> GgufValue::as_uint() const noexcept {
  if (type_ == GgufType::U64) return bits_;
  auto v = as_int();
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::optional<double> GgufValue::as_float() const noexcept {
  if (type_ == GgufType::F32) return std::bit_cast<float>(static_cast<uint32_t>(bits_));
  if (type_ == GgufType::F64) return std::bit_cast<double>(bits_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const noexcept {
  if (type_ != GgufType::BOOL) return std::nullopt;
  return bits_ != 0;
}

const std::string* GgufValue::as_string() const noexcept {
  return type_ == GgufType::STRING ? &str_ : nullptr;
}

GgufType GgufValue::array_type() const noexcept { return arr_ ? arr_->elem : GgufType::U8; }
uint64_t GgufValue::array_size() const noexcept { return arr_ ? arr_->count : 0; }

const std::vector<std::string>& GgufValue::array_strings() const noexcept {
  static const std::vector<std::string> kEmpty;
  return arr_ ? arr_->strings : kEmpty;
}

ByteView GgufValue::array_raw() const noexcept { return arr_ ? ByteView(arr_->raw) : ByteView(); }

uint64_t GgufValue::scalar_bits_at(uint64_t i) const noexcept {
  const size_t size = gguf_scalar_size(arr_->elem);
  uint64_t bits = 0;
  for (size_t b = 0; b < size; ++b) bits |= static_cast<uint64_t>(arr_->raw[i * size + b]) << (8 * b);
  return bits;
}

GgufValue GgufValue::array_at(uint64_t i) const {
  if (!arr_ || i >= arr_->count) return {};
  if (arr_->elem == GgufType::STRING) return string(arr_->strings[i]);
  if (arr_->elem == GgufType::ARRAY) return arr_->arrays[i];
  return scalar(arr_->elem, scalar_bits_at(i));
}

void GgufValue::encode(Bytes& out) const {
  switch (type_) {
    case GgufType::STRING:
      put_le(out, str_.size(), 8);
      out.insert(out.end(), str_.begin(), str_.end());
      return;
    case GgufType::ARRAY: {
      const GgufType elem = array_type();
      put_le(out, static_cast<uint32_t>(elem), 4);
      put_le(out, array_size(), 8);
      if (!arr_) return;
      if (elem == GgufType::STRING) {
        for (const auto& s : arr_->strings) {
          put_le(out, s.size(), 8);
          out.insert(out.end(), s.begin(), s.end());
        }
      } else if (elem == GgufType::ARRAY) {
        for (const auto& a : arr_->arrays) a.encode(out);
      } else {
        out.insert(out.end(), arr_->raw.begin(), arr_->raw.end());
      }
      return;
    }
    default:
      put_le(out, bits_, gguf_scalar_size(type_));
  }
}

std::string GgufValue::summary(size_t max_chars) const {
  switch (type_) {
    case GgufType::STRING: return quoted(str_, max_chars);
    case GgufType::BOOL: return bits_ ? "true" : "false";
    case GgufType::F32: return number_text(static_cast<float>(*as_float()));  // shortest float form
    case GgufType::F64: return number_text(*as_float());
    case GgufType::ARRAY: {
      std::string out = "[" + std::to_string(array_size()) + " x " + std::string(gguf_type_name(array_type()));
      for (uint64_t i = 0; i < array_size(); ++i) {
        if (out.size() >= max_chars) {
          out += ", ...";
          break;
        }
        out += i == 0 ? ": " : ", ";
        out += array_at(i).summary(max_chars / 2);
      }
      return out + "]";
    }
    default: {
      if (auto u = as_uint()) return std::to_string(*u);
      return std::to_string(*as_int());
    }
  }
}

bool operator==(const GgufValue& a, const GgufValue& b) noexcept {
  if (a.type_ != b.type_) return false;
  if (a.type_ == GgufType::STRING) return a.str_ == b.str_;
  if (a.type_ != GgufType::ARRAY) return a.bits_ == b.bits_;
  if (a.array_type() != b.array_type() || a.array_size() != b.array_size()) return false;
  if (!a.arr_ || !b.arr_) return a.array_size() == 0;
  return a.arr_->raw == b.arr_->raw && a.arr_->strings == b.arr_->strings && a.arr_->arrays == b.arr_->arrays;
}

}  // namespace dgrid::infer
