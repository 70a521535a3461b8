// Test helper: builds GGUF bytes field by field, independently of GgufWriter, so the
// reader is checked against a second encoder and corruptions can be placed exactly.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/bytes.hpp"

namespace dgrid::infer::test {

struct RawBuilder {
  Bytes b;
  RawBuilder& u8(uint8_t v) { b.push_back(v); return *this; }
  RawBuilder& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  RawBuilder& u32(uint32_t v) { return le(v, 4); }
  RawBuilder& u64(uint64_t v) { return le(v, 8); }
  RawBuilder& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  RawBuilder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  RawBuilder& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawBuilder& kv_str(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
  RawBuilder& tensor(const std::string& name, const std::vector<uint64_t>& shape, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(shape.size()));
    for (uint64_t d : shape) u64(d);
    return u32(type).u64(offset);
  }
  RawBuilder& pad_to(uint64_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  RawBuilder& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

// A unique scratch directory, removed with its contents when the object dies.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("dgrid_gguf_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, ByteView bytes) const {
    auto p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace dgrid::infer::test
