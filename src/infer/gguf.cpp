#include "infer/gguf.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace dgrid::infer {

namespace {

// Smallest encodings, used to bound counts by the bytes left before anything is allocated.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;           // empty key, type tag, one-byte value
constexpr uint64_t kMinTensorBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset

std::string num(uint64_t v) { return std::to_string(v); }

// Reads little-endian values from the front of the file image, checking the bytes left
// before every read.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return data_.size() - pos_; }

  Result<uint64_t> uint(size_t n, std::string_view what) {
    if (left() < n)
      return fail(Errc::malformed, "GGUF truncated: " + std::string(what) + " at offset " + num(pos_) + " needs " +
                                       num(n) + " bytes, " + num(left()) + " left");
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  Result<uint32_t> u32(std::string_view what) {
    auto v = uint(4, what);
    if (!v) return std::unexpected(v.error());
    return static_cast<uint32_t>(*v);
  }
  Result<uint64_t> u64(std::string_view what) { return uint(8, what); }

  Result<ByteView> take(uint64_t n, std::string_view what) {
    if (n > left())
      return fail(Errc::malformed, "GGUF truncated: " + std::string(what) + " at offset " + num(pos_) + " claims " +
                                       num(n) + " bytes, only " + num(left()) + " left in the file");
    ByteView out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  Result<std::string> str(std::string_view what) {
    auto len = u64(what);
    if (!len) return std::unexpected(len.error());
    auto bytes = take(*len, what);
    if (!bytes) return std::unexpected(bytes.error());
    return std::string(as_chars(*bytes));
  }

 private:
  ByteView data_;
  uint64_t pos_ = 0;
};

uint64_t min_encoded_size(GgufType t) {
  if (t == GgufType::STRING) return 8;
  if (t == GgufType::ARRAY) return 12;
  return gguf_scalar_size(t);
}

Result<GgufValue> read_value(Reader& r, uint32_t type, uint32_t depth, const std::string& key) {
  if (type >= kGgufTypeCount)
    return fail(Errc::malformed, "metadata key " + key + " has unknown value type " + num(type));
  const auto t = static_cast<GgufType>(type);
  if (t == GgufType::STRING) {
    auto s = r.str("string value of " + key);
    if (!s) return std::unexpected(s.error());
    return GgufValue::string(std::move(*s));
  }
  if (t != GgufType::ARRAY) {
    auto bits = r.uint(gguf_scalar_size(t), "value of " + key);
    if (!bits) return std::unexpected(bits.error());
    switch (t) {
      case GgufType::U8: return GgufValue::u8(static_cast<uint8_t>(*bits));
      case GgufType::I8: return GgufValue::i8(static_cast<int8_t>(*bits));
      case GgufType::U16: return GgufValue::u16(static_cast<uint16_t>(*bits));
      case GgufType::I16: return GgufValue::i16(static_cast<int16_t>(*bits));
      case GgufType::U32: return GgufValue::u32(static_cast<uint32_t>(*bits));
      case GgufType::I32: return GgufValue::i32(static_cast<int32_t>(*bits));
      case GgufType::U64: return GgufValue::u64(*bits);
      case GgufType::I64: return GgufValue::i64(static_cast<int64_t>(*bits));
      case GgufType::F32: return GgufValue::f32(std::bit_cast<float>(static_cast<uint32_t>(*bits)));
      case GgufType::F64: return GgufValue::f64(std::bit_cast<double>(*bits));
      case GgufType::BOOL:
        if (*bits > 1) return fail(Errc::malformed, "metadata key " + key + ": bool value " + num(*bits) + " is not 0 or 1");
        return GgufValue::boolean(*bits == 1);
      default: break;
    }
    return fail(Errc::internal, "unreachable value type");
  }
  if (depth >= kGgufMaxArrayDepth)
    return fail(Errc::malformed, "metadata key " + key + ": arrays nested deeper than " + num(kGgufMaxArrayDepth));
  auto elem_type = r.u32("array element type of " + key);
  if (!elem_type) return std::unexpected(elem_type.error());
  if (*elem_type >= kGgufTypeCount)
    return fail(Errc::malformed, "metadata key " + key + " is an array of unknown value type " + num(*elem_type));
  const auto elem = static_cast<GgufType>(*elem_type);
  auto count = r.u64("array length of " + key);
  if (!count) return std::unexpected(count.error());
  // A hostile count must fail here, before any allocation sized by it.
  if (*count > r.left() / min_encoded_size(elem))
    return fail(Errc::malformed, "metadata key " + key + ": array of " + num(*count) + " " +
                                     std::string(gguf_type_name(elem)) + " values cannot fit in the " + num(r.left()) +
                                     " bytes left");
  if (elem == GgufType::STRING) {
    std::vector<std::string> items;
    items.reserve(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      auto s = r.str("string " + num(i) + " of " + key);
      if (!s) return std::unexpected(s.error());
      items.push_back(std::move(*s));
    }
    return GgufValue::string_array(std::move(items));
  }
  if (elem == GgufType::ARRAY) {
    std::vector<GgufValue> items;
    items.reserve(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      auto v = read_value(r, static_cast<uint32_t>(GgufType::ARRAY), depth + 1, key);
      if (!v) return std::unexpected(v.error());
      items.push_back(std::move(*v));
    }
    return GgufValue::array_array(std::move(items));
  }
  auto raw = r.take(*count * gguf_scalar_size(elem), "array data of " + key);
  if (!raw) return std::unexpected(raw.error());
  if (elem == GgufType::BOOL) {
    for (uint8_t b : *raw)
      if (b > 1) return fail(Errc::malformed, "metadata key " + key + ": bool array element " + num(b) + " is not 0 or 1");
  }
  return GgufValue::scalar_array(elem, Bytes(raw->begin(), raw->end()));
}

bool align_up(uint64_t v, uint64_t alignment, uint64_t& out) {
  const uint64_t mask = alignment - 1;
  if (v > UINT64_MAX - mask) return false;
  out = (v + mask) & ~mask;
  return true;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + num(shape[i]);
  return out + "]";
}

}  // namespace

std::string_view ggml_type_name(uint32_t type) noexcept {
  static constexpr std::string_view kNames[] = {
      "F32", "F16", "Q4_0", "Q4_1", "", "", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
      "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16",
      "I32", "I64", "F64", "IQ1_M", "BF16", "", "", "", "TQ1_0", "TQ2_0", "", "", "", "MXFP4", "NVFP4", "Q1_0",
      "Q2_0"};
  // 4, 5, 31-33 and 36-38 were ggml types once and are no longer valid in files.
  return type < std::size(kNames) ? kNames[type] : std::string_view();
}

uint64_t ggml_block_elements(GgmlType t) noexcept {
  return (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) ? 32 : 1;
}

uint64_t ggml_block_bytes(GgmlType t) noexcept {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: return 2;
    case GgmlType::Q8_0: return sizeof(BlockQ8_0);
    case GgmlType::Q4_0: return sizeof(BlockQ4_0);
  }
  return 0;
}

Result<uint64_t> ggml_tensor_bytes(GgmlType t, uint64_t elements) {
  const uint64_t block = ggml_block_elements(t);
  if (elements % block != 0)
    return fail(Errc::malformed, num(elements) + " elements are not a whole number of " +
                                     std::string(ggml_type_name(t)) + " blocks of " + num(block));
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements / block, ggml_block_bytes(t), &bytes))
    return fail(Errc::malformed, "tensor size overflows 64 bits");
  return bytes;
}

uint64_t TensorInfo::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // validated at open() not to overflow
  return n;
}

uint64_t TensorInfo::rows() const { return shape.empty() || shape[0] == 0 ? 0 : elements() / shape[0]; }

GgufFile::~GgufFile() {
  if (map_) munmap(map_, static_cast<size_t>(size_));
}

void GgufFile::release(const uint8_t* p, size_t n) const noexcept {
  if (map_ == nullptr || p < base_ || p + n > base_ + size_) return;
  // Only whole pages inside the range: the neighbours may still be in use.
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io, "cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::io, path.string() + " is not a readable regular file");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* m = mmap(nullptr, static_cast<size_t>(f->size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return fail(Errc::io, "cannot map " + path.string() + ": " + std::strerror(err));
    }
    f->map_ = m;
    f->base_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);  // the mapping keeps the file contents reachable
  auto r = parse(std::move(f));
  if (!r) return std::unexpected(r.error().context(path.string()));
  return r;
}

Result<std::unique_ptr<GgufFile>> GgufFile::open_memory(ByteView bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->owned_.assign(bytes.begin(), bytes.end());
  f->base_ = f->owned_.data();
  f->size_ = f->owned_.size();
  return parse(std::move(f));
}

Result<std::unique_ptr<GgufFile>> GgufFile::parse(std::unique_ptr<GgufFile> f) {
  Reader r(f->bytes());
  static constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
  if (f->size_ < 4 || std::memcmp(f->base_, kMagic, 4) != 0)
    return fail(Errc::malformed, "not a GGUF file (the first 4 bytes are not \"GGUF\")");
  (void)r.uint(4, "magic");
  auto version = r.u32("version");
  if (!version) return std::unexpected(version.error());
  if (*version != kGgufVersion) {
    const uint32_t v = *version;
    if (v == 1 || v == 2)
      return fail(Errc::unsupported, "GGUF version " + num(v) + " is not supported (dgrid reads version 3; "
                                     "re-convert the model with a current llama.cpp)");
    if ((v & 0xffffu) == 0 && (v >> 16) != 0 && __builtin_bswap32(v) <= 3)
      return fail(Errc::unsupported, "big-endian GGUF files are not supported");
    if (v == 0) return fail(Errc::malformed, "GGUF version 0 is invalid");
    return fail(Errc::unsupported, "GGUF version " + num(v) + " is newer than the version 3 dgrid reads");
  }
  f->version_ = *version;
  auto n_tensors = r.u64("tensor count");
  if (!n_tensors) return std::unexpected(n_tensors.error());
  auto n_kv = r.u64("metadata count");
  if (!n_kv) return std::unexpected(n_kv.error());
  if (*n_kv > r.left() / kMinKvBytes)
    return fail(Errc::malformed, "header claims " + num(*n_kv) + " metadata entries but only " + num(r.left()) +
                                     " bytes follow");
  if (*n_tensors > r.left() / kMinTensorBytes)
    return fail(Errc::malformed, "header claims " + num(*n_tensors) + " tensors but only " + num(r.left()) +
                                     " bytes follow");

  f->metadata_.reserve(*n_kv);
  for (uint64_t i = 0; i < *n_kv; ++i) {
    auto key = r.str("metadata key " + num(i));
    if (!key) return std::unexpected(key.error());
    if (key->empty()) return fail(Errc::malformed, "metadata key " + num(i) + " is empty");
    if (f->key_index_.contains(*key)) return fail(Errc::malformed, "duplicate metadata key " + *key);
    auto type = r.u32("value type of " + *key);
    if (!type) return std::unexpected(type.error());
    auto value = read_value(r, *type, 0, *key);
    if (!value) return std::unexpected(value.error());
    f->key_index_.emplace(*key, f->metadata_.size());
    f->metadata_.emplace_back(std::move(*key), std::move(*value));
  }

  if (const GgufValue* a = f->find("general.alignment")) {
    auto v = a->as_uint();
    if (!a->is_integer() || !v)
      return fail(Errc::malformed, "general.alignment must be an unsigned integer, not " +
                                       std::string(gguf_type_name(a->type())) + " " + a->summary());
    if (*v == 0 || (*v & (*v - 1)) != 0)
      return fail(Errc::malformed, "general.alignment " + num(*v) + " is not a power of two");
    f->alignment_ = *v;
  }

  f->tensors_.reserve(*n_tensors);
  for (uint64_t i = 0; i < *n_tensors; ++i) {
    TensorInfo t;
    auto name = r.str("name of tensor " + num(i));
    if (!name) return std::unexpected(name.error());
    if (name->empty()) return fail(Errc::malformed, "tensor " + num(i) + " has an empty name");
    if (f->tensor_index_.contains(*name)) return fail(Errc::malformed, "duplicate tensor name " + *name);
    t.name = std::move(*name);
    const std::string who = "tensor " + t.name;
    auto n_dims = r.u32("dimension count of " + who);
    if (!n_dims) return std::unexpected(n_dims.error());
    if (*n_dims < 1 || *n_dims > kGgufMaxDims)
      return fail(Errc::malformed, who + " has " + num(*n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = r.u64("shape of " + who);
      if (!dim) return std::unexpected(dim.error());
      if (*dim == 0) return fail(Errc::malformed, who + " has a zero dimension");
      // ggml keeps dimensions as int64: larger values are not representable there.
      if (*dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(elements, *dim, &elements) ||
          elements > static_cast<uint64_t>(INT64_MAX))
        return fail(Errc::malformed, who + ": element count overflows");
      t.shape.push_back(*dim);
    }
    auto type = r.u32("type of " + who);
    if (!type) return std::unexpected(type.error());
    const std::string_view type_name = ggml_type_name(*type);
    if (type_name.empty()) return fail(Errc::malformed, who + " has unknown ggml type " + num(*type));
    if (*type != 0 && *type != 1 && *type != 2 && *type != 8)
      return fail(Errc::unsupported, who + " has type " + std::string(type_name) +
                                         ", which dgrid does not support (supported: F32, F16, Q8_0, Q4_0)");
    t.type = static_cast<GgmlType>(*type);
    if (t.shape[0] % ggml_block_elements(t.type) != 0)
      return fail(Errc::malformed, who + " has rows of " + num(t.shape[0]) + " elements, not a multiple of the " +
                                       std::string(type_name) + " block size " + num(ggml_block_elements(t.type)));
    auto bytes = ggml_tensor_bytes(t.type, elements);
    if (!bytes) return std::unexpected(bytes.error().context(who));
    t.size_bytes = *bytes;
    auto offset = r.u64("data offset of " + who);
    if (!offset) return std::unexpected(offset.error());
    if (*offset % f->alignment_ != 0)
      return fail(Errc::malformed, who + " has offset " + num(*offset) + ", not a multiple of the alignment " +
                                       num(f->alignment_));
    t.offset = *offset;
    f->tensor_index_.emplace(t.name, f->tensors_.size());
    f->tensors_.push_back(std::move(t));
  }

  if (!align_up(r.pos(), f->alignment_, f->data_offset_))
    return fail(Errc::malformed, "the data section offset overflows");
  if (f->tensors_.empty()) return f;
  if (f->data_offset_ > f->size_)
    return fail(Errc::malformed, "the tensor data section would start at " + num(f->data_offset_) +
                                     ", past the end of the file (" + num(f->size_) + " bytes)");
  const uint64_t data_bytes = f->size_ - f->data_offset_;
  for (auto& t : f->tensors_) {
    if (t.offset > data_bytes || t.size_bytes > data_bytes - t.offset)
      return fail(Errc::malformed, "tensor " + t.name + " (" + std::string(ggml_type_name(t.type)) + " " +
                                       shape_text(t.shape) + ", " + num(t.size_bytes) + " bytes at data offset " +
                                       num(t.offset) + ") extends past the end of the file");
    t.data = f->base_ + f->data_offset_ + t.offset;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(f->tensors_.size());
  for (const auto& t : f->tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    if (prev.offset + prev.size_bytes > by_offset[i]->offset)
      return fail(Errc::malformed, "tensors " + prev.name + " and " + by_offset[i]->name + " overlap");
  }
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Result<const GgufValue*> lookup(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) return fail(Errc::not_found, "metadata key " + std::string(key) + " is missing");
  return v;
}

std::unexpected<Error> wrong_type(std::string_view key, const GgufValue& v, std::string_view expected) {
  std::string got(gguf_type_name(v.type()));
  if (v.type() == GgufType::ARRAY) got = "array of " + std::string(gguf_type_name(v.array_type()));
  return fail(Errc::malformed, "metadata key " + std::string(key) + " is " + got + ", expected " + std::string(expected));
}

}  // namespace

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  if (!(*v)->is_integer()) return wrong_type(key, **v, "an integer");
  auto u = (*v)->as_uint();
  if (!u) return fail(Errc::malformed, "metadata key " + std::string(key) + " is negative: " + (*v)->summary());
  return *u;
}

Result<float> GgufFile::get_float(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  auto d = (*v)->as_float();
  if (!d) return wrong_type(key, **v, "f32 or f64");
  return static_cast<float>(*d);
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  const std::string* s = (*v)->as_string();
  if (!s) return wrong_type(key, **v, "a string");
  return *s;
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  if ((*v)->type() != GgufType::ARRAY || (*v)->array_type() != GgufType::STRING)
    return wrong_type(key, **v, "an array of strings");
  return (*v)->array_strings();
}

Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  const GgufValue& a = **v;
  if (a.type() != GgufType::ARRAY || (a.array_type() != GgufType::F32 && a.array_type() != GgufType::F64))
    return wrong_type(key, a, "an array of f32 or f64");
  std::vector<float> out;
  out.reserve(a.array_size());
  for (uint64_t i = 0; i < a.array_size(); ++i) out.push_back(static_cast<float>(*a.array_at(i).as_float()));
  return out;
}

Result<std::vector<int32_t>> GgufFile::get_int_array(std::string_view key) const {
  auto v = lookup(*this, key);
  if (!v) return std::unexpected(v.error());
  const GgufValue& a = **v;
  const GgufType e = a.array_type();
  if (a.type() != GgufType::ARRAY || e == GgufType::F32 || e == GgufType::F64 || e == GgufType::BOOL ||
      e == GgufType::STRING || e == GgufType::ARRAY)
    return wrong_type(key, a, "an array of integers");
  std::vector<int32_t> out;
  out.reserve(a.array_size());
  for (uint64_t i = 0; i < a.array_size(); ++i) {
    auto x = a.array_at(i).as_int();
    if (!x || *x < INT32_MIN || *x > INT32_MAX)
      return fail(Errc::malformed, "metadata key " + std::string(key) + ": element " + num(i) + " does not fit int32");
    out.push_back(static_cast<int32_t>(*x));
  }
  return out;
}

}  // namespace dgrid::infer
