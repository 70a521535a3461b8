#include "support/process.hpp"

#include "support/test_env.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace dgrid::test {

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in_pipe[0]);
  close(out_pipe[1]);
  ProcessResult res;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return res;
  }
  // Inputs are small (test vectors), so writing before reading cannot deadlock on the pipe.
  size_t off = 0;
  while (off < input.size()) {
    ssize_t n = write(in_pipe[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(in_pipe[1]);
  char buf[65536];
  for (;;) {
    ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    res.out.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

bool interop_tools_available() {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(DGRID_TOOLS_DIR) / "ethers", ec)) return false;
  return run_process({"node", "--version"}).exit_code == 0;
}

ProcessResult run_node_script(const std::string& script, const std::vector<std::string>& args,
                              const std::string& input) {
  if (!interop_tools_available()) return {};
  std::vector<std::string> argv = {"env", std::string("NODE_PATH=") + DGRID_TOOLS_DIR, "node",
                                   std::string(DGRID_SOURCE_DIR) + "/tests/interop/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input);
}

}  // namespace dgrid::test
