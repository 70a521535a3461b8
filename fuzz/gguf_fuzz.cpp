// GGUF reader fuzzer. Properties: open_memory never crashes and reads only inside the
// input; everything it accepts can be dequantized and re-written by GgufWriter, and the
// re-written file parses to the same metadata and tensor bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "infer/gguf.hpp"
#include "infer/gguf_quant.hpp"
#include "infer/gguf_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  using namespace dgrid::infer;
  auto f = GgufFile::open_memory(ByteView(data, size));
  if (!f) {
    if (f.error().message.empty()) std::abort();
    return 0;
  }
  const GgufFile& g = **f;
  for (const auto& [key, value] : g.metadata()) {
    if (g.find(key) != &value) std::abort();
    (void)value.summary();
    (void)g.get_uint(key);
    (void)g.get_float(key);
    (void)g.get_string_array(key);
    (void)g.get_int_array(key);
    (void)g.get_float_array(key);
  }
  std::vector<float> row;
  for (const auto& t : g.tensors()) {
    if (g.tensor(t.name) != &t) std::abort();
    if (t.data < g.bytes().data() || t.data + t.size_bytes > g.bytes().data() + g.bytes().size()) std::abort();
    // Dequantize (at most) the first row: reads the block data through the real paths.
    const uint64_t n = t.shape[0] < 4096 ? t.shape[0] : 4096 / ggml_block_elements(t.type) * ggml_block_elements(t.type);
    row.resize(n);
    if (!dequantize_row(t.type, t.data, row.data(), n)) std::abort();
  }
  if (g.alignment() > 4096) return 0;  // keep re-written files small
  auto w = GgufWriter::copy_of(g);
  if (!w) std::abort();
  auto bytes = w->to_bytes();
  if (!bytes) std::abort();
  auto again = GgufFile::open_memory(*bytes);
  if (!again) std::abort();
  const GgufFile& h = **again;
  if (h.tensors().size() != g.tensors().size() || h.alignment() != g.alignment()) std::abort();
  for (const auto& [key, value] : g.metadata()) {
    if (key == "general.alignment") continue;
    const GgufValue* v = h.find(key);
    if (!v || !(*v == value)) std::abort();
  }
  for (const auto& t : g.tensors()) {
    const TensorInfo* u = h.tensor(t.name);
    if (!u || u->shape != t.shape || u->type != t.type || u->size_bytes != t.size_bytes ||
        std::memcmp(u->data, t.data, t.size_bytes) != 0)
      std::abort();
  }
  return 0;
}
