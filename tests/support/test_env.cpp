#include "support/test_env.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace dgrid::test {

std::filesystem::path shared_file(std::string_view relative) {
  std::filesystem::path base = DGRID_SHARED_DIR;
  if (const char* env = std::getenv("DGRID_SHARED_DIR")) base = env;
  auto p = base / std::string(relative);
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p : std::filesystem::path{};
}

bool shared_required() {
  const char* env = std::getenv("DGRID_REQUIRE_SHARED");
  return env && std::string_view(env) == "1";
}

std::filesystem::path anvil_binary() {
  std::filesystem::path pinned = std::filesystem::path(DGRID_TOOLS_DIR) / ".bin" / "anvil";
  std::error_code ec;
  if (std::filesystem::exists(pinned, ec)) return pinned;
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      auto dir = rest.substr(0, colon);
      auto cand = std::filesystem::path(std::string(dir)) / "anvil";
      if (std::filesystem::exists(cand, ec)) return cand;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  return {};
}

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "_XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
  auto p = path_ / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

bool wait_for(const std::function<bool()>& done, std::chrono::seconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace dgrid::test
