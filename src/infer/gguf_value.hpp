// A typed GGUF metadata value: one of the 13 GGUF value types, arrays (possibly nested)
// included. Values are immutable once built; copies share array storage. Thread-safe for
// const use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace dgrid::infer {

// The on-disk type tags of GGUF metadata values.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

// "u8", "string", "array" ...; "invalid" for numbers past the table.
std::string_view gguf_type_name(GgufType t) noexcept;
// Bytes one scalar of type t occupies (0 for STRING and ARRAY).
size_t gguf_scalar_size(GgufType t) noexcept;

class GgufValue {
 public:
  GgufValue() = default;  // u8 0

  static GgufValue u8(uint8_t v) { return scalar(GgufType::U8, v); }
  static GgufValue i8(int8_t v) { return scalar(GgufType::I8, static_cast<uint8_t>(v)); }
  static GgufValue u16(uint16_t v) { return scalar(GgufType::U16, v); }
  static GgufValue i16(int16_t v) { return scalar(GgufType::I16, static_cast<uint16_t>(v)); }
  static GgufValue u32(uint32_t v) { return scalar(GgufType::U32, v); }
  static GgufValue i32(int32_t v) { return scalar(GgufType::I32, static_cast<uint32_t>(v)); }
  static GgufValue u64(uint64_t v) { return scalar(GgufType::U64, v); }
  static GgufValue i64(int64_t v) { return scalar(GgufType::I64, static_cast<uint64_t>(v)); }
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v) { return scalar(GgufType::BOOL, v ? 1 : 0); }
  static GgufValue string(std::string v);

  // Arrays of scalars from their little-endian packed bytes (raw.size() must be
  // count * gguf_scalar_size(elem)); typed helpers below.
  static GgufValue scalar_array(GgufType elem, Bytes raw);
  static GgufValue string_array(std::vector<std::string> items);
  static GgufValue f32_array(const std::vector<float>& items);
  static GgufValue i32_array(const std::vector<int32_t>& items);
  // Array of arrays (each item must itself be an ARRAY value).
  static GgufValue array_array(std::vector<GgufValue> items);

  GgufType type() const noexcept { return type_; }
  bool is_integer() const noexcept;
  // Integer types holding a value that fits; bool and floats give nullopt.
  std::optional<uint64_t> as_uint() const noexcept;
  std::optional<int64_t> as_int() const noexcept;
  std::optional<double> as_float() const noexcept;  // F32 or F64
  std::optional<bool> as_bool() const noexcept;
  const std::string* as_string() const noexcept;  // nullptr unless STRING

  // Arrays (array_type() is meaningful only when type() == ARRAY).
  GgufType array_type() const noexcept;
  uint64_t array_size() const noexcept;
  // Element i as a value of its own (copies strings); i must be < array_size().
  GgufValue array_at(uint64_t i) const;
  // Direct access for the common big arrays (empty unless the element type matches).
  const std::vector<std::string>& array_strings() const noexcept;
  ByteView array_raw() const noexcept;  // packed scalars

  // Appends the GGUF encoding of the value (without the leading type tag).
  void encode(Bytes& out) const;
  // Human-readable, at most about max_chars: 42, "text", [512 x string: "<unk>", ...].
  std::string summary(size_t max_chars = 80) const;

  friend bool operator==(const GgufValue& a, const GgufValue& b) noexcept;

 private:
  struct ArrayData {
    GgufType elem = GgufType::U8;
    uint64_t count = 0;
    Bytes raw;                         // scalar elements, little-endian, packed
    std::vector<std::string> strings;  // STRING elements
    std::vector<GgufValue> arrays;     // ARRAY elements
  };
  static GgufValue scalar(GgufType t, uint64_t bits) {
    GgufValue v;
    v.type_ = t;
    v.bits_ = bits;
    return v;
  }
  uint64_t scalar_bits_at(uint64_t i) const noexcept;

  GgufType type_ = GgufType::U8;
  uint64_t bits_ = 0;  // scalars: the value's bits, zero-extended
  std::string str_;
  std::shared_ptr<const ArrayData> arr_;
};

}  // namespace dgrid::infer
