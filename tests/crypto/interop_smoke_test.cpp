#include <gtest/gtest.h>

#include "crypto/keccak.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace dgrid::crypto {

TEST(Interop, EthersKeccakAgrees) {
  DGRID_INTEROP_OR_SKIP();
  for (const std::string& text : std::vector<std::string>{"", "abc", std::string(1000, 'x')}) {
    auto r = test::run_node_script("smoke.mjs", {}, text);
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, to_hex(keccak256(text))) << text.size();
  }
}

}  // namespace dgrid::crypto
