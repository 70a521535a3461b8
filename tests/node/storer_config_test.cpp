// The [storer] config section: the documented example, byte sizes, overrides, validation.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>

#include "node/config.hpp"

namespace dgrid::node {
namespace {

constexpr const char* kBase =
    "[chain]\ndeployment = \"d.json\"\n[key]\nprivate_key = "
    "\"0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\"\n";

Result<NodeConfig> parse(const std::string& text) { return NodeConfig::parse(text, "/etc/dgrid", "node.toml"); }

// The TOML example of docs/formats/node-config.md, as written there.
std::string documented_example() {
  std::ifstream in(std::string(DGRID_SOURCE_DIR) + "/docs/formats/node-config.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto start = doc.find("```toml\n");
  auto end = doc.find("```\n", start + 8);
  if (start == std::string::npos || end == std::string::npos) return "";
  return doc.substr(start + 8, end - start - 8);
}

TEST(StorerConfigTest, TheDocumentedExampleParses) {
  std::string text = documented_example();
  ASSERT_NE(text.find("[storer]"), std::string::npos) << "docs/formats/node-config.md lost its [storer] example";
  auto c = parse(text);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_FALSE(c->storer.enabled) << "the example says enabled = false";
  EXPECT_EQ(c->storer.listen.host, "127.0.0.1");
  EXPECT_EQ(c->storer.capacity_bytes, 10ull << 30);
  EXPECT_EQ(c->storer.min_endowment_per_gib, u256(0));
  EXPECT_EQ(c->storer.max_object_bytes, 64ull << 30);
  EXPECT_EQ(c->storer.max_upload_batch, 65ull << 20);
  EXPECT_TRUE(c->storer.claim);
  EXPECT_TRUE(c->storer.watch);
  EXPECT_TRUE(c->storer.repair);
}

TEST(StorerConfigTest, DefaultsAndTheTableEnablesTheStorer) {
  auto absent = parse(kBase);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->storer.enabled);
  auto c = parse(std::string(kBase) + "[storer]\n");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->storer.enabled);
  EXPECT_EQ(c->storer.capacity_bytes, 0u);
  EXPECT_EQ(c->storer.max_object_bytes, 64ull << 30);
  EXPECT_EQ(c->storer.max_upload_batch, (64ull << 20) + (1ull << 20));
  EXPECT_TRUE(c->validate()) << "a storer alone is something to run";
}

TEST(StorerConfigTest, SizesAndAmounts) {
  auto c = parse(std::string(kBase) +
                 "[storer]\ncapacity_bytes = \"512MiB\"\nmax_object_bytes = 1048576\nmax_upload_batch = \"8 MB\"\n"
                 "min_endowment_per_gib = \"0.25\"\nclaim = false\npublic_url = \"http://store.example:9000\"\n");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->storer.capacity_bytes, 512ull << 20);
  EXPECT_EQ(c->storer.max_object_bytes, 1u << 20);
  EXPECT_EQ(c->storer.max_upload_batch, 8'000'000u);
  EXPECT_EQ(c->storer.min_endowment_per_gib, u256(250'000));
  EXPECT_FALSE(c->storer.claim);
  EXPECT_EQ(c->storer.public_url, "http://store.example:9000");

  const std::map<std::string, uint64_t> good = {{"0", 0},          {"17", 17},           {"17B", 17},
                                                {"2KiB", 2048},    {"3 GiB", 3ull << 30}, {"1TiB", 1ull << 40},
                                                {"5kB", 5000},     {"2GB", 2'000'000'000}, {"1TB", 1'000'000'000'000}};
  for (const auto& [text, want] : good) {
    auto v = parse_byte_size(text);
    ASSERT_TRUE(v) << text << ": " << v.error().to_string();
    EXPECT_EQ(*v, want) << text;
  }
  const std::map<std::string, std::string> bad = {{"", "no number"},
                                                  {"GiB", "no number"},
                                                  {"1.5GiB", "fractions"},
                                                  {"10 gigs", "unknown unit"},
                                                  {"-1", "no number"},
                                                  {"99999999999999999999", "out of range"},
                                                  {"20000000TiB", "too large"}};
  for (const auto& [text, needle] : bad) {
    auto v = parse_byte_size(text);
    ASSERT_FALSE(v) << "accepted '" << text << "'";
    EXPECT_NE(v.error().message.find(needle), std::string::npos) << v.error().message;
  }
}

TEST(StorerConfigTest, BadValuesNameFileLineAndKey) {
  auto expect_error = [](const std::string& extra, std::string_view needle) {
    auto c = parse(std::string(kBase) + "[storer]\n" + extra);
    ASSERT_FALSE(c) << "accepted " << extra;
    EXPECT_NE(c.error().message.find(needle), std::string::npos) << c.error().message;
  };
  expect_error("capacity_bytes = \"ten\"\n", "node.toml:6: storer.capacity_bytes: bad size 'ten'");
  expect_error("capacity_bytes = 1.5\n", "expected a size");
  expect_error("capacity_bytes = -3\n", "must not be negative");
  expect_error("max_upload_batch = \"1MiB\"\n", "must be between 3145728");
  expect_error("max_object_bytes = 0\n", "must be between 1");
  expect_error("capacty_bytes = 1\n", "did you mean capacity_bytes?");
  expect_error("min_endowment_per_gib = 0.5\n", "floats are inexact");
  expect_error("claim = \"yes\"\n", "expected true or false");
}

TEST(StorerConfigTest, OverridesAndEnvironment) {
  auto c = parse(kBase);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->apply_assignment("storer.enabled=true"));
  ASSERT_TRUE(c->apply_assignment("storer.capacity_bytes=2GiB"));
  std::map<std::string, std::string> env = {{"DGRID_STORER_LISTEN", "127.0.0.1:9100"}, {"DGRID_STORER_WATCH", "false"}};
  ASSERT_TRUE(c->apply_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  }));
  EXPECT_TRUE(c->storer.enabled);
  EXPECT_EQ(c->storer.capacity_bytes, 2ull << 30);
  EXPECT_EQ(c->storer.listen.port, 9100);
  EXPECT_FALSE(c->storer.watch);
  auto bad = c->apply_assignment("storer.capacity_bytes=lots");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("storer.capacity_bytes"), std::string::npos) << bad.error().message;
  auto keys = NodeConfig::keys();
  for (std::string_view k : {"storer.enabled", "storer.listen", "storer.public_url", "storer.capacity_bytes",
                             "storer.min_endowment_per_gib", "storer.max_object_bytes", "storer.max_upload_batch",
                             "storer.claim", "storer.watch", "storer.repair"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

TEST(StorerConfigTest, ValidationChecksListenersAndCapacity) {
  auto check = [](const std::string& extra, std::string_view needle) {
    auto c = parse(std::string(kBase) + extra);
    ASSERT_TRUE(c) << c.error().to_string();
    auto v = c->validate();
    if (needle.empty()) {
      EXPECT_TRUE(v) << v.error().to_string();
      return;
    }
    ASSERT_FALSE(v) << "accepted " << extra;
    EXPECT_NE(v.error().message.find(needle), std::string::npos) << v.error().message;
  };
  check("[storer]\nenabled = false\n", "nothing to run: enable [provider], [gateway] or [storer]");
  check("[storer]\nlisten = \"127.0.0.1:7000\"\n[gateway]\nlisten = \"127.0.0.1:7000\"\n",
        "gateway.listen and storer.listen are the same address 127.0.0.1:7000");
  check("[storer]\nlisten = \"127.0.0.1:7000\"\n[gateway]\nlisten = \"127.0.0.1:7001\"\n", "");
  check("[storer]\ncapacity_bytes = 4096\n", "below 1 MiB");
  check("[storer]\ncapacity_bytes = \"1MiB\"\n", "");
}

}  // namespace
}  // namespace dgrid::node
