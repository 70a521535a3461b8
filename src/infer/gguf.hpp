// GGUF v3 model files: a validating, zero-copy reader over a read-only private mmap.
// A GgufFile is immutable after open() and thread-safe for const use; TensorInfo::data
// points into the mapping and stays valid while the GgufFile lives. Format notes:
// docs/formats/gguf.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "infer/fp16.hpp"
#include "infer/gguf_value.hpp"

namespace dgrid::infer {

// The ggml tensor types dgrid computes with; any other valid ggml type is rejected as
// Errc::unsupported at open().
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };

// ggml's name for a type number ("Q4_K", "BF16" ...), or "" when ggml defines no such type.
std::string_view ggml_type_name(uint32_t type) noexcept;
inline std::string_view ggml_type_name(GgmlType t) noexcept { return ggml_type_name(static_cast<uint32_t>(t)); }
// Elements per block (1 for F32/F16, 32 for Q8_0/Q4_0) and bytes per block.
uint64_t ggml_block_elements(GgmlType t) noexcept;
uint64_t ggml_block_bytes(GgmlType t) noexcept;
// Bytes of `elements` values of type t; fails when elements is not a whole number of
// blocks or the size overflows.
Result<uint64_t> ggml_tensor_bytes(GgmlType t, uint64_t elements);

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] = elements per row (fastest), shape[1] = rows, ...
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;          // from the start of the tensor data section
  uint64_t size_bytes = 0;
  const uint8_t* data = nullptr;  // into the mmap; valid while the GgufFile lives
  uint64_t elements() const;      // product of shape
  uint64_t rows() const;          // elements() / shape[0]
};

inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;
inline constexpr uint32_t kGgufMaxArrayDepth = 8;  // nested arrays deeper than this are rejected

class GgufFile {
 public:
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // Maps `path` read-only (MAP_PRIVATE) and validates everything (docs/formats/gguf.md).
  // Errors: io (cannot open/map), malformed (corrupt), unsupported (valid GGUF we do not
  // read: version 1/2, big-endian, tensor types other than F32/F16/Q8_0/Q4_0).
  static Result<std::unique_ptr<GgufFile>> open(const std::filesystem::path& path);
  // Same validation over bytes in memory (copied; the result owns its copy).
  static Result<std::unique_ptr<GgufFile>> open_memory(ByteView bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  ByteView bytes() const { return {base_, static_cast<size_t>(size_)}; }  // the whole file

  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  // Errors: not_found (absent), malformed (wrong type or out of range).
  Result<uint64_t> get_uint(std::string_view key) const;  // any integer type, range-checked
  Result<float> get_float(std::string_view key) const;    // f32 or f64
  Result<std::string> get_string(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;   // f32 or f64 elements
  Result<std::vector<int32_t>> get_int_array(std::string_view key) const;   // integer elements fitting int32

  // Tells the kernel that [p, p + n) inside a mapped file will not be read soon: its pages
  // leave this process's memory (they come back from the file if read again). No effect
  // on open_memory's copy.
  void release(const uint8_t* p, size_t n) const noexcept;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;  // nullptr if absent
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }

 private:
  GgufFile() = default;
  static Result<std::unique_ptr<GgufFile>> parse(std::unique_ptr<GgufFile> f);

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* map_ = nullptr;  // munmap'ed by the destructor when open() mapped the file
  std::vector<uint8_t> owned_;  // open_memory's copy

  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Block formats as ggml defines them (32 elements per block, little-endian).
struct BlockQ8_0 {
  uint16_t d;  // IEEE fp16 scale
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;       // IEEE fp16 scale
  uint8_t qs[16];   // q = (nibble) - 8; low nibbles are elements 0..15, high 16..31
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml block layouts");

}  // namespace dgrid::infer
