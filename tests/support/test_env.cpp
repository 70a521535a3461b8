#include "support/test_env.hpp"

#include <cstdlib>

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

}  // namespace dgrid::test
