// dgrid model info|synth: inspect GGUF files and write synthetic llama models.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "cli/common.hpp"
#include "crypto/sha256.hpp"
#include "infer/gguf.hpp"
#include "infer/synth.hpp"
#include "infer/utf8.hpp"

namespace dgrid::cli {

namespace {

using infer::GgmlType;
using infer::GgufFile;
using infer::GgufType;
using infer::GgufValue;

constexpr uint64_t kJsonArrayItems = 32;           // array values listed in JSON (length always given)

std::string file_sha256(const GgufFile& f) {
  crypto::Sha256 h;
  const ByteView all = f.bytes();
  ProgressLine line("hashing");
  constexpr size_t kStep = 64 << 20;
  for (size_t pos = 0; pos < all.size(); pos += kStep) {
    h.update(all.subspan(pos, std::min(kStep, all.size() - pos)));
    line.update(std::min(pos + kStep, all.size()), all.size());
  }
  return to_hex(h.finalize(), /*prefix=*/false);
}

nlohmann::json value_json(const GgufValue& v) {
  switch (v.type()) {
    case GgufType::STRING: return infer::utf8::sanitize(*v.as_string());
    case GgufType::BOOL: return *v.as_bool();
    case GgufType::F32: case GgufType::F64: return *v.as_float();
    case GgufType::ARRAY: {
      nlohmann::json items = nlohmann::json::array();
      for (uint64_t i = 0; i < v.array_size() && i < kJsonArrayItems; ++i) items.push_back(value_json(v.array_at(i)));
      return {{"element_type", infer::gguf_type_name(v.array_type())},
              {"length", v.array_size()},
              {"values", items},
              {"truncated", v.array_size() > kJsonArrayItems}};
    }
    default:
      if (auto u = v.as_uint()) return *u;
      return *v.as_int();
  }
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

void run_info(const std::string& path, bool json) {
  auto f = unwrap(GgufFile::open(path));
  uint64_t params = 0;
  struct TypeTotal {
    uint64_t tensors = 0, bytes = 0, elements = 0;
  };
  std::map<std::string, TypeTotal> by_type;
  for (const auto& t : f->tensors()) {
    params += t.elements();
    auto& total = by_type[std::string(infer::ggml_type_name(t.type))];
    ++total.tensors;
    total.bytes += t.size_bytes;
    total.elements += t.elements();
  }
  const std::string sha = file_sha256(*f);
  auto arch = f->get_string("general.architecture");
  auto name = f->get_string("general.name");

  if (json) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [key, value] : f->metadata())
      meta[infer::utf8::sanitize(key)] = {{"type", infer::gguf_type_name(value.type())}, {"value", value_json(value)}};
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : f->tensors())
      tensors.push_back({{"name", infer::utf8::sanitize(t.name)},
                         {"type", infer::ggml_type_name(t.type)},
                         {"shape", t.shape},
                         {"offset", t.offset},
                         {"size_bytes", t.size_bytes}});
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, total] : by_type)
      types[type] = {{"tensors", total.tensors}, {"bytes", total.bytes}, {"elements", total.elements}};
    print_json({{"path", path},
                {"file_size", f->file_size()},
                {"sha256", sha},
                {"version", f->version()},
                {"alignment", f->alignment()},
                {"data_offset", f->data_offset()},
                {"architecture", arch ? nlohmann::json(infer::utf8::sanitize(*arch)) : nlohmann::json()},
                {"parameters", params},
                {"bytes_by_type", types},
                {"metadata", meta},
                {"tensors", tensors}});
    return;
  }

  auto& out = std::cout;
  out << "file:          " << path << "\n";
  out << "size:          " << with_commas(f->file_size()) << " bytes (" << human_bytes(f->file_size()) << ")\n";
  out << "sha256:        " << sha << "\n";
  out << "format:        GGUF v" << f->version() << ", alignment " << f->alignment() << ", tensor data at "
      << f->data_offset() << "\n";
  out << "architecture:  " << (arch ? infer::utf8::sanitize(*arch) : "(none)") << "\n";
  if (name) out << "name:          " << infer::utf8::sanitize(*name) << "\n";
  out << "parameters:    " << with_commas(params) << "\n";
  out << "tensors:       " << f->tensors().size() << "\n";
  for (const auto& [type, total] : by_type)
    out << "  " << type << ": " << total.tensors << " tensors, " << with_commas(total.elements) << " elements, "
        << human_bytes(total.bytes) << "\n";
  out << "\nmetadata (" << f->metadata().size() << " keys):\n";
  size_t key_width = 0;
  for (const auto& [key, value] : f->metadata()) key_width = std::max(key_width, key.size());
  for (const auto& [key, value] : f->metadata()) {
    std::string type(infer::gguf_type_name(value.type()));
    out << "  " << infer::utf8::sanitize(key) << std::string(key_width - key.size() + 2, ' ') << type
        << std::string(type.size() < 8 ? 8 - type.size() : 1, ' ') << infer::utf8::sanitize(value.summary(100)) << "\n";
  }
  out << "\ntensors:\n";
  size_t name_width = 4;
  for (const auto& t : f->tensors()) name_width = std::max(name_width, t.name.size());
  char line[256];
  std::snprintf(line, sizeof line, "  %-*s  %-5s  %-22s  %14s  %14s\n", static_cast<int>(name_width), "name", "type",
                "shape", "offset", "bytes");
  out << line;
  for (const auto& t : f->tensors()) {
    std::snprintf(line, sizeof line, "  %-*s  %-5s  %-22s  %14s  %14s\n", static_cast<int>(name_width),
                  infer::utf8::sanitize(t.name).c_str(), std::string(infer::ggml_type_name(t.type)).c_str(),
                  shape_text(t.shape).c_str(), with_commas(t.offset).c_str(), with_commas(t.size_bytes).c_str());
    out << line;
  }
  out.flush();
}

GgmlType parse_type(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return GgmlType::F32;
  if (s == "f16") return GgmlType::F16;
  if (s == "q8_0") return GgmlType::Q8_0;
  if (s == "q4_0") return GgmlType::Q4_0;
  throw Exception(Error(Errc::invalid_argument, "--type " + s + " is not one of f32, f16, q8_0, q4_0"));
}

struct SynthOptions {
  std::string preset, vocab_from, type = "f32", out;
  std::optional<uint32_t> dim, layers, heads, kv_heads, ffn, vocab, context;
  std::optional<float> rope_base;
  uint64_t seed = 1;
  bool force = false, json = false;
};

void run_synth(const SynthOptions& o) {
  infer::SynthSpec spec;
  if (!o.preset.empty()) {
    spec = unwrap(infer::synth_preset(o.preset));
  } else if (!o.dim || !o.layers || !o.heads || !o.ffn) {
    throw Exception(Error(Errc::invalid_argument, "give --preset tiny|100m|1b, or all of --dim --layers --heads --ffn"));
  }
  if (o.dim) spec.dim = *o.dim;
  if (o.layers) spec.n_layers = *o.layers;
  if (o.heads) spec.n_heads = *o.heads;
  spec.n_kv_heads = o.kv_heads ? *o.kv_heads : (o.heads ? *o.heads : spec.n_kv_heads);
  if (o.ffn) spec.ffn_dim = *o.ffn;
  if (o.vocab) spec.vocab = *o.vocab;
  if (o.context) spec.context = *o.context;
  if (o.rope_base) spec.rope_base = *o.rope_base;
  spec.weight_type = parse_type(o.type);
  spec.seed = o.seed;
  unwrap(infer::validate_synth_spec(spec));
  if (std::filesystem::exists(o.out) && !o.force)
    throw Exception(Error(Errc::invalid_argument, o.out + " already exists (pass --force to replace it)"));

  std::unique_ptr<GgufFile> source;
  if (!o.vocab_from.empty()) {
    auto opened = GgufFile::open(o.vocab_from);
    if (!opened) throw Exception(opened.error().context("--vocab-from"));
    source = std::move(*opened);
  }
  ProgressLine line("writing " + o.out);
  unwrap(infer::write_synthetic_model(spec, source.get(), o.out,
                                      [&line](uint64_t done, uint64_t total) { line.update(done, total); }));
  auto f = unwrap(GgufFile::open(o.out));
  uint64_t params = 0;
  for (const auto& t : f->tensors()) params += t.elements();
  const uint64_t vocab = f->tensor("token_embd.weight")->shape[1];
  if (o.json) {
    print_json({{"path", o.out},
                {"parameters", params},
                {"file_size", f->file_size()},
                {"type", infer::ggml_type_name(spec.weight_type)},
                {"dim", spec.dim},
                {"layers", spec.n_layers},
                {"heads", spec.n_heads},
                {"kv_heads", spec.n_kv_heads},
                {"ffn", spec.ffn_dim},
                {"vocab", vocab},
                {"context", spec.context},
                {"seed", spec.seed}});
  } else {
    std::cout << "Wrote " << o.out << ": " << with_commas(params) << " parameters, "
              << infer::ggml_type_name(spec.weight_type) << ", " << human_bytes(f->file_size()) << " (dim "
              << spec.dim << ", " << spec.n_layers << " layers, " << spec.n_heads << "/" << spec.n_kv_heads
              << " heads, ffn " << spec.ffn_dim << ", vocab " << vocab << ")" << std::endl;
  }
}

void register_model(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Inspect GGUF model files; write synthetic models");
  model->require_subcommand(1);
  {
    auto* cmd = model->add_subcommand("info", "Metadata, tensors, parameter count, size and sha256 of a GGUF file");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("path", *path, "the .gguf file")->required();
    cmd->add_flag("--json", *json, "print JSON");
    cmd->callback([path, json] { run_info(*path, *json); });
  }
  {
    auto* cmd = model->add_subcommand("synth", "Write a llama-architecture GGUF with deterministic random weights");
    auto o = std::make_shared<SynthOptions>();
    cmd->add_option("--preset", o->preset, "tiny, 100m or 1b (other flags override its fields)");
    cmd->add_option("--dim", o->dim, "embedding width");
    cmd->add_option("--layers", o->layers, "transformer blocks");
    cmd->add_option("--heads", o->heads, "attention heads");
    cmd->add_option("--kv-heads", o->kv_heads, "key/value heads (default: --heads)");
    cmd->add_option("--ffn", o->ffn, "feed-forward width");
    cmd->add_option("--vocab", o->vocab, "vocabulary size without --vocab-from (padded built-in vocabulary)");
    cmd->add_option("--vocab-from", o->vocab_from, "a real GGUF model whose tokenizer is copied");
    cmd->add_option("--context", o->context, "context length in the metadata (default 2048)");
    cmd->add_option("--rope-base", o->rope_base, "RoPE frequency base (default 10000)");
    cmd->add_option("--type", o->type, "weight type: f32, f16, q8_0 or q4_0")->capture_default_str();
    cmd->add_option("--seed", o->seed, "weight seed")->capture_default_str();
    cmd->add_option("--out", o->out, "output .gguf path")->required();
    cmd->add_flag("--force", o->force, "replace --out if it exists");
    cmd->add_flag("--json", o->json, "print JSON");
    cmd->callback([o] { run_synth(*o); });
  }
}

}  // namespace

static const CommandRegistrar kRegistrar{"model", register_model};

}  // namespace dgrid::cli
