// Builds GGUF v3 files: metadata in insertion order, then tensor infos, then the tensor
// data, each tensor padded to the alignment. Tensor bytes are produced on demand while
// writing, so a file larger than memory can be streamed. Not thread-safe; the writer
// owns its metadata and the fill callbacks (and whatever they capture).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "infer/gguf.hpp"

namespace dgrid::infer {

// Receives one tensor's bytes, in order, in as many pieces as the producer likes.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual Result<void> write(ByteView bytes) = 0;
};

class GgufWriter {
 public:
  // Called once per tensor during write(); must write exactly the tensor's size in bytes.
  using Fill = std::function<Result<void>(TensorSink&)>;
  // Bytes written so far and the file's total size.
  using Progress = std::function<void(uint64_t written, uint64_t total)>;

  static constexpr uint64_t kMaxAlignment = 1 << 20;
  // alignment: a power of two up to kMaxAlignment; anything else falls back to 32.
  explicit GgufWriter(uint64_t alignment = kGgufDefaultAlignment);

  // Adds or replaces a metadata value (first insertion fixes the position).
  // general.alignment is managed by the writer and rejected here (invalid_argument).
  Result<void> set(std::string key, GgufValue value);
  // Validates the name (unique, non-empty), shape (1..4 dims, each > 0, rows of whole
  // blocks) and returns invalid_argument otherwise.
  Result<void> add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type, Fill fill);
  Result<void> add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type, Bytes data);

  // Writes atomically: a temporary file beside `path`, flushed and fsync'ed, then renamed.
  Result<void> write(const std::filesystem::path& path, const Progress& progress = {}) const;
  Result<Bytes> to_bytes() const;
  uint64_t file_size() const;  // what write() will produce

  // A writer holding f's metadata and tensors (their bytes read from f while writing;
  // f must outlive the writer's use). Fails (unsupported) above kMaxAlignment.
  static Result<GgufWriter> copy_of(const GgufFile& f);

 private:
  struct Pending {
    std::string name;
    std::vector<uint64_t> shape;
    GgmlType type;
    uint64_t size_bytes;
    uint64_t offset;
    Fill fill;
  };
  Bytes header() const;
  Result<void> emit(const std::function<Result<void>(ByteView)>& out, const Progress& progress) const;

  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Pending> tensors_;
  uint64_t data_size_ = 0;  // padded
};

}  // namespace dgrid::infer
