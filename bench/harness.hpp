// Shared pieces of the benchmark programs: a rate meter and a report that prints every
// result beside the baseline measured in the same run, as a table or as JSON (--json).
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.hpp"

extern char** environ;

namespace dgrid::bench {

// Ends the benchmark with "<program>: what" on stderr and exit status 1.
[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

// The value of a Result, or die() naming what failed.
template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().to_string());
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// Wall seconds of a command (found on PATH) with stdout and stderr to /dev/null, or a
// negative value when it cannot be run or fails (a baseline such as `openssl dgst`).
inline double time_command(std::vector<std::string> args) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto t = std::chrono::steady_clock::now();
  pid_t pid;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? s : -1;
}

// The smallest of n runs of fn() (seconds): the least disturbed run on a noisy machine.
template <class Fn>
double best_of(int n, Fn&& fn) {
  double best = 1e300;
  for (int i = 0; i < n; ++i) best = std::min(best, fn());
  return best;
}

// A fresh directory under `base` (named <prefix>XXXXXX), removed with everything in it at the end.
class ScratchDir {
 public:
  ScratchDir(const std::filesystem::path& base, const std::string& prefix) {
    std::string tmpl = (base / (prefix + "XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) die("cannot create a directory in " + base.string() + ": " + std::strerror(errno));
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path path;
};

// Keeps results observable so the optimizer cannot drop the measured work.
inline volatile uint64_t g_sink = 0;
inline void sink(uint64_t v) { g_sink = g_sink + v; }

// Calls fn in doubling batches until at least min_seconds have passed (after one warm-up
// call); returns calls per second.
template <class Fn>
double rate(Fn&& fn, double min_seconds = 0.5) {
  using Clock = std::chrono::steady_clock;
  fn();
  size_t calls = 0, batch = 1;
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < min_seconds) {
    for (size_t i = 0; i < batch; ++i) fn();
    calls += batch;
    batch *= 2;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(calls) / elapsed;
}

struct Row {
  std::string name;
  double value = 0;
  std::string unit;
  std::string baseline;       // what the ratio compares against ("" when none)
  double baseline_value = 0;  // in the same unit
  std::string note;
};

class Report {
 public:
  explicit Report(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) json_ = json_ || std::strcmp(argv[i], "--json") == 0;
  }
  bool json() const { return json_; }
  void add(Row r) { rows_.push_back(std::move(r)); }

  void print() const {
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const Row& r : rows_) {
        nlohmann::json j = {{"name", r.name}, {"value", r.value}, {"unit", r.unit}};
        if (!r.baseline.empty())
          j.update({{"baseline", r.baseline}, {"baseline_value", r.baseline_value}, {"ratio", r.value / r.baseline_value}});
        if (!r.note.empty()) j["note"] = r.note;
        out.push_back(j);
      }
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::printf("%-30s %14s %-6s  %-26s %14s  %7s  %s\n", "benchmark", "value", "unit", "baseline (same run)", "baseline",
                "ratio", "note");
    for (const Row& r : rows_) {
      if (r.baseline.empty())
        std::printf("%-30s %14.2f %-6s  %-26s %14s  %7s  %s\n", r.name.c_str(), r.value, r.unit.c_str(), "-", "", "",
                    r.note.c_str());
      else
        std::printf("%-30s %14.2f %-6s  %-26s %14.2f  %6.3fx  %s\n", r.name.c_str(), r.value, r.unit.c_str(),
                    r.baseline.c_str(), r.baseline_value, r.value / r.baseline_value, r.note.c_str());
    }
  }

 private:
  bool json_ = false;
  std::vector<Row> rows_;
};

}  // namespace dgrid::bench
