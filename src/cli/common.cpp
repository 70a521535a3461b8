#include "cli/common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <iostream>
#include <sstream>

#include "crypto/keystore.hpp"
#include "eth/devnet.hpp"

namespace dgrid::cli {

std::string read_text_file(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Exception(Error(Errc::io, "cannot read " + path.string() + ": " + ec.message()));
  if (size > max_bytes)
    throw Exception(Error(Errc::invalid_argument, path.string() + " is larger than " + std::to_string(max_bytes) + " bytes"));
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw Exception(Error(Errc::io, "cannot read " + path.string()));
  return ss.str();
}

std::string read_password_file(const std::filesystem::path& path) {
  std::string pw = read_text_file(path, 4096);
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

void KeyOptions::add_to(CLI::App& cmd) {
  auto* ks = cmd.add_option("--keystore", keystore, "Web3 Secret Storage v3 keystore file");
  auto* pw = cmd.add_option("--password-file", password_file, "file holding the keystore password");
  auto* pk = cmd.add_option("--private-key", private_key, "raw hex private key (devnets and scripts only)");
  ks->excludes(pk);
  pk->excludes(ks);
  pw->needs(ks);
  // "One of --keystore or --private-key" is enforced by load(), which every command calls:
  // a callback here would be replaced by the command's own.
}

crypto::PrivateKey KeyOptions::load() const {
  if (!private_key.empty()) return unwrap(crypto::PrivateKey::from_hex(private_key));
  if (keystore.empty()) throw Exception(Error(Errc::invalid_argument, "no key given: pass --keystore FILE --password-file FILE, or --private-key HEX"));
  if (password_file.empty())
    throw Exception(Error(Errc::invalid_argument, "--keystore needs --password-file FILE (the keystore password)"));
  auto key = crypto::load_keystore(keystore, read_password_file(password_file));
  if (!key) {
    if (key.error().code == Errc::crypto && key.error().message.find("password") != std::string::npos)
      throw Exception(Error(Errc::crypto, "wrong password for keystore " + keystore + " (check --password-file)"));
    throw Exception(key.error().context("keystore " + keystore));
  }
  return *key;
}

ChainTarget resolve_chain_target(const std::string& rpc, const std::filesystem::path& devnet_dir,
                                 const std::string& token) {
  ChainTarget t;
  if (!token.empty()) t.token = unwrap(crypto::parse_address(token));
  if (!rpc.empty()) {
    t.rpc_url = rpc;
    return t;
  }
  auto info = eth::DevnetInfo::load(devnet_dir);
  if (!info)
    throw Exception(Error(info.error().code, "no --rpc given and " + info.error().message));
  t.rpc_url = info->rpc_url;
  if (!t.token) t.token = info->contracts.token;
  return t;
}

namespace {
std::map<std::string, RegisterFn>& registry() {
  static std::map<std::string, RegisterFn> commands;
  return commands;
}
}  // namespace

CommandRegistrar::CommandRegistrar(const char* name, RegisterFn fn) { registry()[name] = fn; }

void register_all_commands(CLI::App& app) {
  for (const auto& [name, fn] : registry()) fn(app);
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

void progress(const std::string& line) {
  std::cerr << line << std::endl;
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string human_bytes(uint64_t v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double x = static_cast<double>(v);
  int u = 0;
  while (x >= 1024 && u < 4) x /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", x, units[u]);
  return buf;
}

ProgressLine::ProgressLine(std::string label, uint64_t quiet_below)
    : label_(std::move(label)), quiet_below_(quiet_below), start_(std::chrono::steady_clock::now()),
      tty_(::isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (tty_ && drawn_) std::cerr << std::endl;
}

void ProgressLine::update(uint64_t done, uint64_t total) {
  if (total < quiet_below_) return;
  const auto now = std::chrono::steady_clock::now();
  const int pct = total ? static_cast<int>(std::min<uint64_t>(done, total) * 100 / total) : 100;
  if (tty_) {
    if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else {
    if (pct < next_pct_ && done != total) return;
    next_pct_ = pct + 5;
  }
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  char rate[96];
  std::snprintf(rate, sizeof rate, "%3d%% %s of %s, %.0f MiB/s", pct, human_bytes(done).c_str(), human_bytes(total).c_str(),
                secs > 0 ? static_cast<double>(done) / secs / (1 << 20) : 0.0);
  if (tty_) {
    constexpr int kWidth = 30;
    const int fill = pct * kWidth / 100;
    std::cerr << "\r" << label_ << " [" << std::string(static_cast<size_t>(fill), '#')
              << std::string(static_cast<size_t>(kWidth - fill), ' ') << "] " << rate << std::flush;
    drawn_ = true;
  } else {
    progress(label_ + ": " + rate);
  }
}

}  // namespace dgrid::cli
