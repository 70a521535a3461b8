// dgrid infer: run a GGUF Llama model on a prompt, deterministically. Streams the generated
// text to stdout; --json prints the text, token ids, output_hash, counts and timings.
#include <iostream>

#include "cli/common.hpp"
#include "core/bytes.hpp"
#include "infer/engine.hpp"

namespace dgrid::cli {

namespace {

void register_infer(CLI::App& app) {
  auto* cmd = app.add_subcommand("infer", "Generate text with a GGUF Llama model (bit-reproducible)");
  struct Opts {
    std::string model, prompt, backend = "cpu";
    uint32_t max_tokens = 128, top_k = 0, threads = 1, batch = 64, context = 0;
    float temperature = 0.0f, top_p = 1.0f;
    uint64_t seed = 0;
    std::vector<std::string> stop;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--prompt", o->prompt, "prompt text (empty: start from BOS)");
  cmd->add_option("--max-tokens", o->max_tokens, "most tokens to generate")->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "keep the k most likely tokens (0 = all)")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "nucleus sampling mass in (0, 1]")->capture_default_str();
  cmd->add_option("--seed", o->seed, "sampling seed (the RNG is keyed by seed and position)")->capture_default_str();
  cmd->add_option("--stop", o->stop, "stop sequence (repeatable)");
  cmd->add_option("--threads", o->threads, "worker threads")->capture_default_str();
  cmd->add_option("--batch", o->batch, "prompt tokens per forward pass")->capture_default_str();
  cmd->add_option("--context", o->context, "context size in tokens (0: the model's)")->capture_default_str();
  cmd->add_option("--backend", o->backend, "cpu (SIMD, threads) or reference (scalar); same bits")
      ->check(CLI::IsMember({"cpu", "reference"}))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    infer::LoadOptions lo;
    lo.threads = o->threads;
    lo.batch = o->batch;
    lo.context = o->context;
    lo.backend = o->backend == "reference" ? infer::BackendKind::reference : infer::BackendKind::cpu;
    auto model = unwrap(infer::Model::load(o->model, lo));
    infer::GenerateRequest req;
    if (!o->prompt.empty()) req.prompt = unwrap(model->encode(o->prompt));
    req.max_tokens = o->max_tokens;
    req.temperature = o->temperature;
    req.top_k = o->top_k;
    req.top_p = o->top_p;
    req.seed = o->seed;
    req.stop = o->stop;
    infer::TokenCallback stream;
    if (!o->json) {
      stream = [](uint32_t, std::string_view text) {
        std::cout << text << std::flush;
        return true;
      };
    }
    auto r = unwrap(model->new_session()->generate(req, stream));
    if (!o->json) {
      std::cout << std::endl;
      return;
    }
    print_json({{"text", r.text},
                {"tokens", r.tokens},
                {"output_hash", to_hex(r.output_hash)},
                {"prompt_tokens", r.prompt_tokens},
                {"completion_tokens", r.completion_tokens},
                {"finish_reason", std::string(infer::finish_reason_name(r.finish_reason))},
                {"timings",
                 {{"prompt_ms", r.timings.prompt_ms},
                  {"generation_ms", r.timings.generation_ms},
                  {"prompt_tokens_per_s", r.timings.prompt_tokens_per_s},
                  {"generation_tokens_per_s", r.timings.generation_tokens_per_s}}}});
  });
}

const CommandRegistrar kRegistrar{"infer", register_infer};

}  // namespace

}  // namespace dgrid::cli
