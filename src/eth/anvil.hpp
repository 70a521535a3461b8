// Starts and stops a local anvil chain (the devnet and chain tests use it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::eth {

struct AnvilOptions {
  std::filesystem::path binary;         // empty: find_anvil()
  std::string host = "127.0.0.1";
  uint16_t port = 0;                    // 0: anvil picks a free port
  uint64_t chain_id = 31337;
  std::optional<unsigned> block_time_s; // empty: mine on every transaction
  std::filesystem::path work_dir;       // log and account files; empty: a fresh temp dir
  std::filesystem::path state_file;     // persist chain state across restarts (optional)
  bool detach = false;                  // new session: survives this process
  std::chrono::milliseconds start_timeout{20'000};
};

// A running anvil process. Stopped on destruction unless release()d. Not thread-safe.
class Anvil {
 public:
  static Result<std::unique_ptr<Anvil>> start(AnvilOptions options);
  ~Anvil();
  Anvil(const Anvil&) = delete;
  Anvil& operator=(const Anvil&) = delete;

  const std::string& rpc_url() const noexcept { return rpc_url_; }
  pid_t pid() const noexcept { return pid_; }
  uint64_t chain_id() const noexcept { return chain_id_; }
  // anvil's funded dev accounts (the well-known test mnemonic), in order.
  const std::vector<crypto::PrivateKey>& dev_keys() const noexcept { return dev_keys_; }
  const std::filesystem::path& log_file() const noexcept { return log_file_; }

  // Leaves the process running after this object is destroyed (devnet --detach).
  void release() noexcept { released_ = true; }
  // SIGTERM, then SIGKILL after a grace period; waits for exit.
  void stop() noexcept;

 private:
  Anvil() = default;
  pid_t pid_ = -1;
  bool released_ = false;
  bool owns_work_dir_ = false;
  uint64_t chain_id_ = 0;
  std::string rpc_url_;
  std::filesystem::path work_dir_;
  std::filesystem::path log_file_;
  std::vector<crypto::PrivateKey> dev_keys_;
};

// $DGRID_ANVIL, then the pinned copy from scripts/setup, then `anvil` on PATH.
Result<std::filesystem::path> find_anvil();

// Stops a process started detached (by pid), waiting up to `grace` before SIGKILL.
// Returns false if no such process was running.
bool stop_process(pid_t pid, std::chrono::milliseconds grace = std::chrono::milliseconds(5'000)) noexcept;

}  // namespace dgrid::eth
