// Inference speed: prompt processing (pp) and generation (tg) tokens/s at 1 and 2 threads on
// the real model (F32) and synthetic ~100M and ~1B Q8_0/Q4_0 models, each figure beside its
// same-run baselines: llama.cpp's llama-bench on the same GGUF and threads (when given), the
// memory-bandwidth bound measured in this run, and weights + KV cache for peak memory.
// Usage: bench_infer [--quick] [--json] [--llama-bench PATH] [--models-dir DIR]
//   --llama-bench (or env DGRID_LLAMA_BENCH): llama.cpp's llama-bench, built beside the
//   project as bench/README.md describes. --models-dir: where synthetic models are generated
//   on first use (default: bench-models/ beside the build directory, e.g. build/bench-models). The real model comes
//   from ../shared (env DGRID_SHARED_DIR overrides); synthetic models reuse its tokenizer.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "infer/engine.hpp"
#include "infer/gguf.hpp"
#include "infer/synth.hpp"

namespace {

namespace fs = std::filesystem;
using dgrid::bench::Report;
using dgrid::bench::Row;
using namespace dgrid::infer;
using Clock = std::chrono::steady_clock;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr uint32_t kThreadCounts[] = {1, 2};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// ---- memory bandwidth: the bound that generation of a large model cannot beat ----

// Sums `streams` equal parts of [p, p + n) side by side (more reads in flight, as a matmul
// over several weight rows has).
template <int kStreams>
uint64_t sum_streams(const uint64_t* p, size_t n) {
  const size_t per = n / kStreams;
  uint64_t acc[kStreams][4] = {};  // independent chains: loads, not adds, limit
  for (size_t i = 0; i + 4 <= per; i += 4)
    for (int s = 0; s < kStreams; ++s) {
      const uint64_t* q = p + s * per + i;
      acc[s][0] += q[0], acc[s][1] += q[1], acc[s][2] += q[2], acc[s][3] += q[3];
    }
  uint64_t t = 0;
  for (const auto& a : acc) t += a[0] + a[1] + a[2] + a[3];
  return t;
}

// Best of `passes` reads of `buf` (much larger than the last-level cache) split over
// `threads` contiguous slices, each read as 1 and as 4 streams; bytes/s.
double measure_bandwidth(const std::vector<uint64_t>& buf, unsigned threads, int passes) {
  double best = 0;
  for (int p = 0; p < 2 * passes; ++p) {
    std::atomic<uint64_t> total{0};
    std::vector<std::thread> pool;
    const size_t per = buf.size() / threads;
    const auto t0 = Clock::now();
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const uint64_t* slice = buf.data() + t * per;
        total += p % 2 ? sum_streams<4>(slice, per) : sum_streams<1>(slice, per);
      });
    for (auto& th : pool) th.join();
    const double s = seconds_since(t0);
    dgrid::bench::sink(total.load());
    best = std::max(best, static_cast<double>(per * threads * sizeof(uint64_t)) / s);
  }
  return best;
}

uint64_t last_level_cache_bytes() {
  std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index3/size");
  uint64_t kib = 0;
  if (f >> kib) return kib * 1024;
  return 32ull << 20;
}

// ---- peak memory ----

// Resets VmHWM to the current RSS (Linux clear_refs "5"); false where that is not allowed.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  return static_cast<bool>(f << "5" << std::flush);
}

uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string key;
  uint64_t kib = 0;
  while (f >> key) {
    if (key == "VmHWM:" && f >> kib) return kib * 1024;
    f.ignore(1 << 20, '\n');
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

uint64_t mem_available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (f >> key) {
    if (key == "MemAvailable:" && f >> kib) return kib * 1024;
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

// ---- llama.cpp's llama-bench, run as a child process ----

struct LlamaBenchResult {
  std::map<std::pair<uint32_t, bool>, double> tok_s;  // (threads, is_generation) -> avg tokens/s
  uint64_t peak_rss = 0;                              // of the llama-bench process
  std::string build;                                  // build_commit from its JSON
  std::string error;
};

// Gives up after `limit_s` seconds (on an oversubscribed machine llama.cpp's spinning threads
// can slow down by orders of magnitude).
LlamaBenchResult run_llama_bench(const std::string& exe, const fs::path& model, uint32_t pp, uint32_t tg, int reps,
                                 double limit_s) {
  LlamaBenchResult out;
  std::vector<std::string> args = {exe, "-m", model.string(), "-t", "1,2", "-p", std::to_string(pp),
                                   "-n", std::to_string(tg), "-r", std::to_string(reps), "-o", "json"};
  int fds[2];
  if (pipe(fds) != 0) return out.error = "pipe failed", out;
  const pid_t pid = fork();
  if (pid < 0) return out.error = "fork failed", out;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    if (FILE* devnull = std::fopen("/dev/null", "w")) dup2(fileno(devnull), STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char chunk[4096];
  const auto t0 = Clock::now();
  bool timed_out = false;
  for (;;) {
    const double left = limit_s - seconds_since(t0);
    pollfd pfd{fds[0], POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, static_cast<int>(left * 1000) + 1) == 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  out.peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  if (timed_out) return out.error = "llama-bench gave up after " + fmt("%.0f", limit_s) + " s", out;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return out.error = "llama-bench failed (exit " + std::to_string(WEXITSTATUS(status)) + ")", out;
  try {
    for (const auto& e : nlohmann::json::parse(text)) {
      const bool gen = e.at("n_gen").get<int>() > 0;
      out.tok_s[{e.at("n_threads").get<uint32_t>(), gen}] = e.at("avg_ts").get<double>();
      out.build = e.value("build_commit", "") + " (build " + std::to_string(e.value("build_number", 0)) + ")";
    }
  } catch (const std::exception& ex) {
    out.error = std::string("cannot parse llama-bench JSON: ") + ex.what();
  }
  return out;
}

// ---- dgrid ----

struct DgridResult {
  double pp_tok_s = 0, tg_tok_s = 0;
  std::vector<uint32_t> generated;  // the greedy tokens of the last generation run
  uint64_t weight_bytes = 0, kv_bytes = 0, peak_rss = 0;
  uint64_t rss_before = 0;  // the process before loading (code, libraries, heap)
  double tg_bytes_per_token = 0;  // weights + mean KV read per generated token
};

uint32_t argmax(std::span<const float> v) {
  return static_cast<uint32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Mirrors llama-bench: pp = one batch of `pp` tokens into an empty cache; tg = `tg` tokens
// one at a time after BOS (greedy). Means over `reps` runs after a warm-up.
std::optional<DgridResult> run_dgrid(const fs::path& path, uint32_t threads, uint32_t pp, uint32_t tg, int reps,
                                     std::string& error) {
  DgridResult out;
  const bool hwm_ok = reset_peak_rss();
  out.rss_before = hwm_ok ? peak_rss_bytes() : 0;
  LoadOptions opt;
  opt.threads = threads;
  opt.batch = pp;
  opt.context = pp + tg + 1;
  auto loaded = Model::load(path, opt);
  if (!loaded) return error = loaded.error().message, std::nullopt;
  const auto& model = *loaded;
  const LlamaConfig& c = model->config();
  auto session = model->new_session();
  std::vector<uint32_t> prompt(pp);
  for (uint32_t i = 0; i < pp; ++i) prompt[i] = 3 + (i * 2654435761u) % (c.vocab - 3);  // any valid ids
  auto check = [&](const dgrid::Result<void>& r) {
    if (!r) error = r.error().message;
    return static_cast<bool>(r);
  };
  if (!check(session->eval(std::span(prompt).first(std::min<uint32_t>(pp, 4))))) return std::nullopt;  // warm-up
  for (int r = 0; r < reps; ++r) {
    session->reset();
    const auto t0 = Clock::now();
    if (!check(session->eval(prompt))) return std::nullopt;
    out.pp_tok_s += pp / seconds_since(t0) / reps;
  }
  for (int r = 0; r < reps; ++r) {
    session->reset();
    const uint32_t bos = model->tokenizer().bos();
    if (!check(session->eval(std::span(&bos, 1)))) return std::nullopt;
    out.generated.clear();
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < tg; ++i) {
      const uint32_t id = argmax(session->logits());
      out.generated.push_back(id);
      if (!check(session->eval(std::span(&id, 1)))) return std::nullopt;
    }
    out.tg_tok_s += tg / seconds_since(t0) / reps;
  }
  out.weight_bytes = model->weights().weight_bytes();
  const uint64_t kv_row = 2ull * c.n_layers * c.kv_dim() * sizeof(float);  // K and V, one position
  out.kv_bytes = kv_row * opt.context;
  // Generating at position p reads every weight once and the K/V of positions 0..p; tg covers
  // positions 1..tg, so the mean KV read is kv_row * (tg + 3) / 2.
  out.tg_bytes_per_token = static_cast<double>(out.weight_bytes) + kv_row * (tg + 3) / 2.0;
  out.peak_rss = hwm_ok ? peak_rss_bytes() : 0;
  return out;
}

// ---- models ----

struct BenchModel {
  std::string label;  // "real f32", "100m q8_0", ...
  fs::path path;
  uint32_t pp, tg;
  int reps;
};

fs::path find_shared_model(const char* argv0) {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("DGRID_SHARED_DIR")) roots.emplace_back(env);
  roots.emplace_back("../shared");  // from the repository root (make bench)
  std::error_code ec;
  const fs::path exe = fs::weakly_canonical(fs::path(argv0), ec);
  // The build directory usually sits inside the repository, next to ../shared.
  if (!ec)
    for (fs::path d = exe.parent_path(); d.has_relative_path(); d = d.parent_path()) roots.push_back(d / "shared");
  for (const auto& r : roots)
    if (fs::exists(r / "models/stories260K.gguf")) return r / "models/stories260K.gguf";
  return {};
}

// Generates (once) a synthetic model from a preset; returns its path or an error message.
std::string ensure_synthetic(const fs::path& dir, const std::string& preset, GgmlType type, const char* type_name,
                             const fs::path& tokenizer_model, fs::path& out) {
  out = dir / ("synth-" + preset + "-" + type_name + (tokenizer_model.empty() ? "-bytevocab" : "") + ".gguf");
  if (fs::exists(out)) return {};
  auto spec = synth_preset(preset);
  if (!spec) return spec.error().message;
  spec->weight_type = type;
  std::unique_ptr<GgufFile> tok;
  if (!tokenizer_model.empty()) {
    auto f = GgufFile::open(tokenizer_model);
    if (!f) return f.error().message;
    tok = std::move(*f);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::fprintf(stderr, "generating %s (once) ...\n", out.c_str());
  const auto t0 = Clock::now();
  if (auto r = write_synthetic_model(*spec, tok.get(), out); !r) return r.error().message;
  std::fprintf(stderr, "  done in %.1f s\n", seconds_since(t0));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  Report report(argc, argv);
  bool quick = false;
  std::string llama_bench = std::getenv("DGRID_LLAMA_BENCH") ? std::getenv("DGRID_LLAMA_BENCH") : "";
  std::error_code ec;
  // <build>/bench/bench_infer -> next to the build directory (build/bench-models), shared by builds.
  fs::path models_dir = fs::weakly_canonical(fs::path(argv[0]), ec).parent_path().parent_path().parent_path() /
                        "bench-models";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--llama-bench" && i + 1 < argc) llama_bench = argv[++i];
    else if (a == "--models-dir" && i + 1 < argc) models_dir = argv[++i];
    else if (a != "--json") {
      std::fprintf(stderr, "usage: %s [--quick] [--json] [--llama-bench PATH] [--models-dir DIR]\n", argv[0]);
      return 2;
    }
  }
  const std::string no_baseline = "baseline not available: build llama.cpp beside the project (see bench/README.md)";
  if (!llama_bench.empty() && access(llama_bench.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "--llama-bench %s is not an executable\n", llama_bench.c_str());
    return 2;
  }

  // Bandwidth before and after the models (best of both: a busy machine only lowers it), on
  // a buffer 16x the last-level cache (at least 256 MiB) that is freed before any model loads.
  const uint64_t llc = last_level_cache_bytes();
  const uint64_t bw_bytes = std::max<uint64_t>(quick ? 256ull << 20 : 16 * llc, 256ull << 20);
  double bw[3] = {};
  auto measure_all_bandwidth = [&] {
    std::vector<uint64_t> buf(bw_bytes / 8);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;
    for (uint32_t t : kThreadCounts) bw[t] = std::max(bw[t], measure_bandwidth(buf, t, quick ? 2 : 4));
  };
  measure_all_bandwidth();

  const fs::path real = find_shared_model(argv[0]);
  std::vector<BenchModel> models;
  std::vector<std::string> notes;
  if (real.empty()) notes.push_back("../shared/models/stories260K.gguf not found: real model skipped, synthetic "
                                    "models use the built-in byte vocabulary");
  else models.push_back({"real f32", real, quick ? 32u : 128u, quick ? 32u : 128u, quick ? 1 : 3});
  struct Synth {
    const char* preset;
    GgmlType type;
    const char* type_name;
    uint32_t pp, tg;
    uint64_t approx_bytes;
  };
  std::vector<Synth> synths = {{"100m", GgmlType::Q8_0, "q8_0", 128, 32, 100ull << 20},
                               {"100m", GgmlType::Q4_0, "q4_0", 128, 32, 55ull << 20},
                               {"1b", GgmlType::Q8_0, "q8_0", 64, 16, 1100ull << 20},
                               {"1b", GgmlType::Q4_0, "q4_0", 64, 16, 600ull << 20}};
  if (quick) synths = {{"100m", GgmlType::Q4_0, "q4_0", 32, 16, 55ull << 20}};
  for (const Synth& s : synths) {
    const std::string label = std::string(s.preset) + " " + s.type_name;
    const auto space = fs::space(fs::exists(models_dir) ? models_dir : models_dir.parent_path(), ec);
    fs::path path;
    const fs::path probe = models_dir / ("synth-" + std::string(s.preset) + "-" + s.type_name + ".gguf");
    if (!fs::exists(probe) && (ec || space.available < 2 * s.approx_bytes)) {
      notes.push_back(label + " skipped: not enough disk in " + models_dir.string());
      continue;
    }
    if (mem_available_bytes() < 2 * s.approx_bytes + (512ull << 20)) {
      notes.push_back(label + " skipped: not enough free memory");
      continue;
    }
    if (std::string err = ensure_synthetic(models_dir, s.preset, s.type, s.type_name, real, path); !err.empty()) {
      notes.push_back(label + " skipped: " + err);
      continue;
    }
    models.push_back({label, path, s.pp, s.tg, quick ? 1 : 2});
  }

  // Measure everything first (the bound needs the final bandwidth), then report.
  struct ModelRun {
    const BenchModel* model;
    LlamaBenchResult llama;
    std::optional<DgridResult> dgrid[3];  // by thread count
  };
  std::vector<ModelRun> runs;
  std::string llama_build;
  for (const BenchModel& m : models) {
    std::fprintf(stderr, "benchmarking %s (pp%u, tg%u) ...\n", m.label.c_str(), m.pp, m.tg);
    ModelRun& run = runs.emplace_back(ModelRun{&m, {}, {}});
    if (!llama_bench.empty()) {
      run.llama = run_llama_bench(llama_bench, m.path, m.pp, m.tg, m.reps, quick ? 30 : 180);
      if (!run.llama.error.empty()) notes.push_back(m.label + ": " + run.llama.error);
      if (!run.llama.build.empty()) llama_build = run.llama.build;
    }
    if (&m == &models.front()) {
      // A short unmeasured run first: the engine's code pages and thread stacks are faulted
      // in here, not counted as the first model's memory.
      std::string ignored;
      run_dgrid(m.path, 2, 4, 2, 1, ignored);
    }
    for (uint32_t t : kThreadCounts) {
      std::string err;
      run.dgrid[t] = run_dgrid(m.path, t, m.pp, m.tg, m.reps, err);
      if (!run.dgrid[t]) notes.push_back(m.label + " t" + std::to_string(t) + ": " + err);
    }
  }
  measure_all_bandwidth();

  for (uint32_t t : kThreadCounts)
    report.add({"memory bandwidth t" + std::to_string(t), bw[t] / 1e9, "GB/s", "", 0,
                "best read of " + fmt("%.0f", bw_bytes / kMiB) + " MiB before/after (LLC " + fmt("%.0f", llc / kMiB) +
                    " MiB)"});
  for (const ModelRun& run : runs) {
    const BenchModel& m = *run.model;
    const LlamaBenchResult& lb = run.llama;
    auto baseline = [&](uint32_t t, bool gen, const std::string& what, double value) {
      Row row{m.label + " t" + std::to_string(t) + " " + what, value, "tok/s", "", 0, ""};
      if (auto it = lb.tok_s.find({t, gen}); it != lb.tok_s.end()) {
        row.baseline = "llama.cpp " + what;
        row.baseline_value = it->second;
      } else {
        row.note = llama_bench.empty() ? no_baseline : "llama-bench gave no figure";
      }
      report.add(row);
    };
    uint64_t peak = 0, weights = 0, kv = 0, before = 0;
    const std::vector<uint32_t>* first_tokens = nullptr;
    bool tokens_same = true;
    for (uint32_t t : kThreadCounts) {
      const auto& r = run.dgrid[t];
      if (!r) continue;
      baseline(t, false, "pp" + std::to_string(m.pp), r->pp_tok_s);
      baseline(t, true, "tg" + std::to_string(m.tg), r->tg_tok_s);
      const double bound = bw[t] / r->tg_bytes_per_token;
      std::string note = fmt("%.1f MiB read/token; aim >= 0.70x", r->tg_bytes_per_token / kMiB);
      if (r->tg_bytes_per_token < static_cast<double>(llc)) note = "fits in cache: DRAM bound does not apply";
      else if (r->tg_bytes_per_token < 2.0 * llc) note += " (partly cache-resident)";
      if (auto it = lb.tok_s.find({t, true}); it != lb.tok_s.end())
        note += "; llama.cpp at " + fmt("%.2fx", it->second / bound);
      report.add({m.label + " t" + std::to_string(t) + " tg vs bandwidth", r->tg_tok_s, "tok/s", "bandwidth bound",
                  bound, note});
      if (!first_tokens) first_tokens = &r->generated;
      else tokens_same = tokens_same && *first_tokens == r->generated;
      peak = std::max(peak, r->peak_rss);
      before = std::max(before, r->rss_before);
      weights = r->weight_bytes;
      kv = r->kv_bytes;
    }
    if (weights == 0) continue;
    std::string mem_note = "aim <= 1.10x";
    if (peak == 0) mem_note = "peak RSS not measurable here (/proc/self/clear_refs)";
    if (peak) mem_note += "; peak " + fmt("%.1f MiB", peak / kMiB) + ", " + fmt("%.1f MiB", before / kMiB) + " before loading";
    if (lb.peak_rss) mem_note += "; llama-bench peak " + fmt("%.1f MiB", lb.peak_rss / kMiB);
    // What loading and running the model added to the process (code and libraries excluded).
    report.add({m.label + " peak RSS - before", (peak >= before ? peak - before : 0) / kMiB, "MiB", "weights + KV cache",
                (weights + kv) / kMiB, mem_note});
    report.add({m.label + " greedy tokens t1 == t2", tokens_same ? 1.0 : 0.0, "bool", "", 0,
                tokens_same ? "identical" : "DIFFERENT: determinism bug"});
  }
  report.add({"determinism cost", 0, "-", "", 0,
              "not measured: the engine has no non-canonical variant (its cpu and reference backends give the same "
              "bits); the llama.cpp ratios above are the cost against an engine without that guarantee"});
  if (!llama_build.empty()) report.add({"llama-bench build", 0, "-", "", 0, llama_build});
  else if (llama_bench.empty()) report.add({"llama.cpp", 0, "-", "", 0, no_baseline});
  for (const auto& n : notes) report.add({"note", 0, "-", "", 0, n});
  report.print();
  return 0;
}
