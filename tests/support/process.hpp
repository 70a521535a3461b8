// Runs helper programs from tests (node scripts using ethers, anvil, the dgrid binary).
#pragma once

#include <string>
#include <vector>

namespace dgrid::test {

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // stdout (stderr is passed through to the test log)
};

// Runs argv[0] with arguments (no shell), feeding `input` on stdin; blocks until it exits.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "");

// Runs `node tests/interop/<script>` with the pinned npm packages resolvable
// (tools/node_modules). Returns exit code -1 when node or the packages are missing.
ProcessResult run_node_script(const std::string& script, const std::vector<std::string>& args,
                              const std::string& input = "");

// True when node and tools/node_modules/ethers exist.
bool interop_tools_available();

}  // namespace dgrid::test

// Skips (or fails under .ci/run) a test that needs node + ethers when they are missing.
#define DGRID_INTEROP_OR_SKIP()                                                           \
  if (!::dgrid::test::interop_tools_available()) {                                       \
    if (::dgrid::test::shared_required()) FAIL() << "node/ethers missing: run scripts/setup"; \
    GTEST_SKIP() << "node or tools/node_modules/ethers missing: run scripts/setup";       \
  }
