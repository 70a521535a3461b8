#include "infer/gguf_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dgrid::infer {

namespace {

void put_le(Bytes& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& out, std::string_view s) {
  put_le(out, s.size(), 8);
  out.insert(out.end(), s.begin(), s.end());
}
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Counts what a Fill writes and forwards it, so a wrong-sized tensor is caught.
class CountingSink final : public TensorSink {
 public:
  CountingSink(const std::function<Result<void>(ByteView)>& out, uint64_t limit, const std::string& name)
      : out_(out), limit_(limit), name_(name) {}
  Result<void> write(ByteView bytes) override {
    if (bytes.size() > limit_ - written_)
      return fail(Errc::internal, "tensor " + name_ + ": producer wrote more than its " + std::to_string(limit_) + " bytes");
    written_ += bytes.size();
    return out_(bytes);
  }
  uint64_t written() const { return written_; }

 private:
  const std::function<Result<void>(ByteView)>& out_;
  uint64_t limit_;
  uint64_t written_ = 0;
  const std::string& name_;
};

// Buffered POSIX file output (large sequential writes, every error checked).
class FileOut {
 public:
  explicit FileOut(int fd) : fd_(fd) { buf_.reserve(kBuf); }
  Result<void> write(ByteView b) {
    if (buf_.size() + b.size() > kBuf) {
      if (auto r = flush(); !r) return r;
      if (b.size() >= kBuf) return write_all(b);
    }
    buf_.insert(buf_.end(), b.begin(), b.end());
    return {};
  }
  Result<void> flush() {
    auto r = write_all(buf_);
    buf_.clear();
    return r;
  }

 private:
  static constexpr size_t kBuf = 4 << 20;
  Result<void> write_all(ByteView b) {
    while (!b.empty()) {
      const ssize_t n = ::write(fd_, b.data(), b.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(Errc::io, std::string("write failed: ") + std::strerror(errno));
      b = b.subspan(static_cast<size_t>(n));
    }
    return {};
  }
  int fd_;
  Bytes buf_;
};

}  // namespace

GgufWriter::GgufWriter(uint64_t alignment)
    : alignment_(alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= kMaxAlignment
                     ? alignment
                     : kGgufDefaultAlignment) {}

Result<void> GgufWriter::set(std::string key, GgufValue value) {
  if (key.empty()) return fail(Errc::invalid_argument, "empty metadata key");
  if (key == "general.alignment")
    return fail(Errc::invalid_argument, "general.alignment is set from the writer's alignment");
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return {};
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
  return {};
}

Result<void> GgufWriter::add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type, Fill fill) {
  if (name.empty()) return fail(Errc::invalid_argument, "empty tensor name");
  for (const auto& t : tensors_)
    if (t.name == name) return fail(Errc::invalid_argument, "duplicate tensor name " + name);
  if (shape.empty() || shape.size() > kGgufMaxDims)
    return fail(Errc::invalid_argument, "tensor " + name + " needs 1 to 4 dimensions");
  uint64_t elements = 1;
  for (uint64_t d : shape)
    if (d == 0 || __builtin_mul_overflow(elements, d, &elements) || elements > static_cast<uint64_t>(INT64_MAX))
      return fail(Errc::invalid_argument, "tensor " + name + " has a zero or overflowing shape");
  if (shape[0] % ggml_block_elements(type) != 0)
    return fail(Errc::invalid_argument, "tensor " + name + ": rows of " + std::to_string(shape[0]) +
                                            " elements are not whole " + std::string(ggml_type_name(type)) + " blocks");
  auto size = ggml_tensor_bytes(type, elements);
  if (!size) return std::unexpected(size.error());
  tensors_.push_back({std::move(name), std::move(shape), type, *size, data_size_, std::move(fill)});
  data_size_ += align_up(*size, alignment_);
  return {};
}

Result<void> GgufWriter::add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type, Bytes data) {
  auto shared = std::make_shared<const Bytes>(std::move(data));
  return add_tensor(std::move(name), std::move(shape), type,
                    [shared](TensorSink& sink) { return sink.write(*shared); });
}

Bytes GgufWriter::header() const {
  Bytes h = {'G', 'G', 'U', 'F'};
  put_le(h, kGgufVersion, 4);
  put_le(h, tensors_.size(), 8);
  const bool custom = alignment_ != kGgufDefaultAlignment;
  put_le(h, metadata_.size() + (custom ? 1 : 0), 8);
  if (custom) {
    put_str(h, "general.alignment");
    put_le(h, static_cast<uint32_t>(GgufType::U32), 4);
    put_le(h, alignment_, 4);
  }
  for (const auto& [key, value] : metadata_) {
    put_str(h, key);
    put_le(h, static_cast<uint32_t>(value.type()), 4);
    value.encode(h);
  }
  for (const auto& t : tensors_) {
    put_str(h, t.name);
    put_le(h, t.shape.size(), 4);
    for (uint64_t d : t.shape) put_le(h, d, 8);
    put_le(h, static_cast<uint32_t>(t.type), 4);
    put_le(h, t.offset, 8);
  }
  h.resize(align_up(h.size(), alignment_), 0);
  return h;
}

uint64_t GgufWriter::file_size() const { return header().size() + data_size_; }

Result<void> GgufWriter::emit(const std::function<Result<void>(ByteView)>& out, const Progress& progress) const {
  const Bytes h = header();
  const uint64_t total = h.size() + data_size_;
  if (auto r = out(h); !r) return r;
  uint64_t written = h.size();
  static const Bytes kZeros(4096, 0);
  for (const auto& t : tensors_) {
    CountingSink sink(out, t.size_bytes, t.name);
    if (auto r = t.fill(sink); !r) return std::unexpected(r.error().context("tensor " + t.name));
    if (sink.written() != t.size_bytes)
      return fail(Errc::internal, "tensor " + t.name + ": producer wrote " + std::to_string(sink.written()) +
                                      " of " + std::to_string(t.size_bytes) + " bytes");
    const uint64_t pad = align_up(t.size_bytes, alignment_) - t.size_bytes;
    for (uint64_t left = pad; left > 0;) {
      const uint64_t n = left < kZeros.size() ? left : kZeros.size();
      if (auto r = out(ByteView(kZeros.data(), n)); !r) return r;
      left -= n;
    }
    written += t.size_bytes + pad;
    if (progress) progress(written, total);
  }
  return {};
}

Result<Bytes> GgufWriter::to_bytes() const {
  Bytes out;
  auto r = emit(
      [&out](ByteView b) -> Result<void> {
        out.insert(out.end(), b.begin(), b.end());
        return {};
      },
      {});
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<void> GgufWriter::write(const std::filesystem::path& path, const Progress& progress) const {
  const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Errc::io, "cannot create " + tmp.string() + ": " + std::strerror(errno));
  FileOut file(fd);
  auto r = emit([&file](ByteView b) { return file.write(b); }, progress);
  if (r) r = file.flush();
  if (r && ::fsync(fd) != 0) r = fail(Errc::io, std::string("fsync failed: ") + std::strerror(errno));
  if (::close(fd) != 0 && r) r = fail(Errc::io, std::string("close failed: ") + std::strerror(errno));
  std::error_code ec;
  if (r) {
    std::filesystem::rename(tmp, path, ec);
    if (ec) r = fail(Errc::io, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
  if (!r) {
    std::filesystem::remove(tmp, ec);
    return std::unexpected(r.error().context("writing " + path.string()));
  }
  return {};
}

Result<GgufWriter> GgufWriter::copy_of(const GgufFile& f) {
  if (f.alignment() > kMaxAlignment)
    return fail(Errc::unsupported, "alignment " + std::to_string(f.alignment()) + " is larger than the writer supports");
  GgufWriter w(f.alignment());
  for (const auto& [key, value] : f.metadata()) {
    if (key == "general.alignment") continue;
    if (auto r = w.set(key, value); !r) return std::unexpected(r.error());
  }
  for (const auto& t : f.tensors()) {
    const TensorInfo* info = &t;
    auto r = w.add_tensor(t.name, t.shape, t.type,
                          [info](TensorSink& sink) { return sink.write(ByteView(info->data, info->size_bytes)); });
    if (!r) return std::unexpected(r.error());
  }
  return w;
}

}  // namespace dgrid::infer
