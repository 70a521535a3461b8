// Synthetic llama-architecture GGUF models with deterministic random weights, for
// benchmarks and tests at realistic sizes. Pure apart from writing the file; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

#include "core/error.hpp"
#include "infer/gguf.hpp"

namespace dgrid::infer {

struct SynthSpec {
  uint32_t dim = 64;
  uint32_t n_layers = 2;
  uint32_t n_heads = 4;
  uint32_t n_kv_heads = 2;
  uint32_t ffn_dim = 128;
  uint32_t vocab = 0;         // 0: the tokenizer source's size (or the built-in vocabulary's)
  uint32_t context = 2048;
  GgmlType weight_type = GgmlType::F32;  // matrices; norms are always F32
  uint64_t seed = 1;
  float rope_base = 10000.0f;
};

// "tiny" (tests), "100m" (~86M params + embeddings) and "1b" (~1B, TinyLlama's shape);
// invalid_argument for other names.
Result<SynthSpec> synth_preset(std::string_view name);

// Checks the shape rules (heads divide dim, kv heads divide heads, even head dim, rows of
// whole blocks for quantized types); invalid_argument naming the problem.
Result<void> validate_synth_spec(const SynthSpec& spec);

// Parameters of the model for a given vocabulary size.
uint64_t synth_param_count(const SynthSpec& spec, uint64_t vocab);

// Weight values of tensor `name` from element `first` on: a counter-based function of
// (seed, name, index), roughly N(0, 0.02^2). Norm tensors are not drawn from this.
void synth_values(uint64_t seed, std::string_view name, uint64_t first, std::span<float> out) noexcept;

// Writes the model (atomically). tokenizer_source: a real model whose tokenizer.* metadata
// is copied (its vocabulary size wins); nullptr for a small built-in byte-level SentencePiece
// vocabulary. Tensors are generated and written one chunk at a time (memory stays small
// whatever the model size); progress gets (bytes written, total bytes).
Result<void> write_synthetic_model(const SynthSpec& spec, const GgufFile* tokenizer_source,
                                   const std::filesystem::path& path,
                                   const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace dgrid::infer
