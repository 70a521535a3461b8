// A test fixture that drives the real dgrid binary as an operator would: a temporary
// directory, `dgrid devnet up --detach`, background `dgrid node` processes (stopped and
// reaped at the end) and one-shot commands. For cli_tests (DGRID_BINARY).
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eth/devnet.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace dgrid::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DgridCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dgrid-cli-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (pid_t pid : children_) stop_child(pid, SIGTERM);
    children_.clear();
    if (devnet_up_) run_process({DGRID_BINARY, "devnet", "down", "--dir", devnet_dir().string()});
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static void write(const std::filesystem::path& p, const std::string& s) { std::ofstream(p) << s; }
  test::ProcessResult dgrid(std::vector<std::string> args) {
    args.insert(args.begin(), DGRID_BINARY);
    return run_process(args);
  }
  // stdout and stderr together (for error messages).
  test::ProcessResult dgrid_all(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"sh", "-c", "exec \"$0\" \"$@\" 2>&1", DGRID_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }

  // Starts `dgrid ARGS` in the background, stdout and stderr appended to `log`.
  pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> all = {DGRID_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, DGRID_BINARY, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "posix_spawn failed";
    if (rc != 0) return -1;
    children_.push_back(pid);
    return pid;
  }

  // Sends `sig` and reaps the child (SIGKILL after 15 s of SIGTERM).
  void stop_child(pid_t pid, int sig) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    int status = 0;
    for (int i = 0; i < 150; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) return forget(pid);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    forget(pid);
  }
  void forget(pid_t pid) { std::erase(children_, pid); }
  bool alive(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == 0;
  }

  std::filesystem::path devnet_dir() const { return dir_ / "devnet"; }

  // A devnet for this test; skips without anvil.
  bool start_devnet() {
    if (anvil_binary().empty()) {
      if (shared_required()) ADD_FAILURE() << "anvil missing: run scripts/setup";
      return false;
    }
    auto up = dgrid({"devnet", "up", "--dir", devnet_dir().string(), "--detach", "--json"});
    EXPECT_EQ(up.exit_code, 0) << up.out;
    if (up.exit_code != 0) return false;
    devnet_up_ = true;
    auto info = eth::DevnetInfo::load(devnet_dir());
    EXPECT_TRUE(info) << info.error().to_string();
    if (!info) return false;
    devnet_ = *info;
    return true;
  }
  crypto::PrivateKey key(size_t i) { return *crypto::PrivateKey::from_hex(devnet_.accounts.at(i).private_key); }

  // Starts `dgrid node --config FILE [--set ...]` and waits until it serves: its
  // endpoints.json names this process. Returns the endpoints (empty on failure).
  nlohmann::json start_node(const std::filesystem::path& config, const std::vector<std::string>& sets, pid_t& pid) {
    std::vector<std::string> args = {"node", "--config", config.string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    std::filesystem::path log = config.parent_path() / "node.log";
    pid = spawn(args, log);
    std::filesystem::path ep = config.parent_path() / "data" / "endpoints.json";
    nlohmann::json out;
    bool ok = wait_for([&] {
      if (!alive(pid)) return true;
      std::error_code ec;
      if (!std::filesystem::exists(ep, ec)) return false;
      auto j = nlohmann::json::parse(read_file(ep), nullptr, false);
      if (!j.is_object() || j.value("pid", -1) != pid) return false;
      out = j;
      return true;
    });
    EXPECT_TRUE(ok && !out.is_null()) << "dgrid node did not come up; log:\n" << read_file(log);
    if (!alive(pid)) {
      ADD_FAILURE() << "dgrid node exited; log:\n" << read_file(log);
      forget(pid);
      return {};
    }
    return out;
  }

  std::filesystem::path dir_;
  bool devnet_up_ = false;
  eth::DevnetInfo devnet_;
  std::vector<pid_t> children_;
};

}  // namespace dgrid::test
