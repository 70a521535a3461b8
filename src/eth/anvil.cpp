#include "eth/anvil.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

extern char** environ;

namespace dgrid::eth {

namespace fs = std::filesystem;

Result<fs::path> find_anvil() {
  std::error_code ec;
  if (const char* env = std::getenv("DGRID_ANVIL"); env && *env) {
    if (fs::exists(env, ec)) return fs::path(env);
    return fail(Errc::not_found, std::string("DGRID_ANVIL points to ") + env + ", which does not exist");
  }
  fs::path pinned = fs::path(DGRID_TOOLS_DIR) / ".bin" / "anvil";
  if (fs::exists(pinned, ec)) return pinned;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      fs::path cand = fs::path(dir) / "anvil";
      if (!dir.empty() && fs::exists(cand, ec)) return cand;
    }
  }
  return fail(Errc::not_found, "anvil not found: run scripts/setup (installs the pinned anvil) or set DGRID_ANVIL");
}

bool stop_process(pid_t pid, std::chrono::milliseconds grace) noexcept {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && kill(pid, 0) != 0)) return true;  // reaped, or not our child and gone
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return true;
}

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::unique_ptr<Anvil>> Anvil::start(AnvilOptions options) {
  fs::path binary = options.binary;
  if (binary.empty()) {
    auto found = find_anvil();
    if (!found) return std::unexpected(found.error());
    binary = *found;
  }
  std::unique_ptr<Anvil> a(new Anvil());
  std::error_code ec;
  if (options.work_dir.empty()) {
    char tmpl[] = "/tmp/dgrid-anvil-XXXXXX";
    if (!mkdtemp(tmpl)) return fail(Errc::io, "cannot create a temporary directory for anvil");
    a->work_dir_ = tmpl;
    a->owns_work_dir_ = true;
  } else {
    fs::create_directories(options.work_dir, ec);
    if (ec) return fail(Errc::io, "cannot create " + options.work_dir.string() + ": " + ec.message());
    a->work_dir_ = options.work_dir;
  }
  a->log_file_ = a->work_dir_ / "anvil.log";
  fs::path accounts_file = a->work_dir_ / "anvil-accounts.json";
  fs::remove(accounts_file, ec);

  std::vector<std::string> argv = {binary.string(), "--host", options.host, "--port", std::to_string(options.port),
                                   "--chain-id", std::to_string(options.chain_id), "--config-out",
                                   accounts_file.string()};
  if (options.block_time_s) argv.insert(argv.end(), {"--block-time", std::to_string(*options.block_time_s)});
  if (!options.state_file.empty()) argv.insert(argv.end(), {"--state", options.state_file.string()});

  int log_fd = open(a->log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return fail(Errc::io, "cannot open " + a->log_file_.string());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
  // A detached chain must not hold our pipes or sockets open after we exit.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (options.detach) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  int rc = posix_spawn(&a->pid_, binary.c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(log_fd);
  if (rc != 0) return fail(Errc::io, "cannot start " + binary.string() + ": " + std::strerror(rc));

  // anvil prints "Listening on HOST:PORT" once it serves RPC, after writing --config-out.
  auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  std::string listen_addr;
  while (listen_addr.empty()) {
    int status;
    if (waitpid(a->pid_, &status, WNOHANG) == a->pid_) {
      a->pid_ = -1;
      std::string log = read_file(a->log_file_);
      return fail(Errc::unavailable, "anvil exited during start-up: " + log.substr(0, 400));
    }
    std::string log = read_file(a->log_file_);
    if (auto pos = log.find("Listening on "); pos != std::string::npos) {
      auto end = log.find('\n', pos);
      if (end != std::string::npos) listen_addr = log.substr(pos + 13, end - pos - 13);
    }
    if (listen_addr.empty()) {
      if (std::chrono::steady_clock::now() > deadline) {
        a->stop();
        return fail(Errc::timeout, "anvil did not start within " + std::to_string(options.start_timeout.count()) +
                                       " ms; see " + a->log_file_.string());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  a->rpc_url_ = "http://" + listen_addr;
  a->chain_id_ = options.chain_id;

  auto cfg = nlohmann::json::parse(read_file(accounts_file), nullptr, /*allow_exceptions=*/false);
  if (cfg.is_discarded() || !cfg.contains("private_keys") || !cfg["private_keys"].is_array())
    return fail(Errc::malformed, "anvil's --config-out file " + accounts_file.string() + " lacks private_keys");
  for (const auto& k : cfg["private_keys"]) {
    if (!k.is_string()) return fail(Errc::malformed, "anvil account key is not a string");
    auto key = crypto::PrivateKey::from_hex(k.get<std::string>());
    if (!key) return std::unexpected(key.error().context("anvil account key"));
    a->dev_keys_.push_back(*key);
  }
  return a;
}

void Anvil::stop() noexcept {
  if (pid_ > 0) stop_process(pid_);
  pid_ = -1;
}

Anvil::~Anvil() {
  if (released_) return;
  stop();
  if (owns_work_dir_) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

}  // namespace dgrid::eth
