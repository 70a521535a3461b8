// Errors as values: every fallible pure function returns Result<T>.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dgrid {

enum class Errc {
  invalid_argument,  // the caller passed something unusable (bad flag, bad parameter)
  malformed,         // input bytes/text do not parse (RLP, ABI, JSON, hex, keystore ...)
  crypto,            // signature/key/MAC failure
  not_found,
  io,                // file or socket failure
  timeout,
  unavailable,       // a remote endpoint is down or refused
  rpc,               // a JSON-RPC endpoint answered with an error object
  reverted,          // a transaction or call reverted on chain
  unsupported,
  already_exists,       // a unique thing seen before (a replayed ticket, a duplicate id)
  permission_denied,    // authenticated but not allowed (wrong signer, bad API key)
  failed_precondition,  // valid request the current state cannot serve (insufficient credit)
  internal,          // a bug: a state that should not be reachable
};

std::string_view errc_name(Errc code) noexcept;

struct Error {
  Error() = default;
  Error(Errc c, std::string m, std::vector<uint8_t> p = {})
      : code(c), message(std::move(m)), payload(std::move(p)) {}

  Errc code = Errc::internal;
  std::string message;
  // Machine-readable detail where the caller may need it (e.g. a revert's return data).
  std::vector<uint8_t> payload;

  // "malformed: RLP list length exceeds input"
  std::string to_string() const;
  // Adds outer context: err.context("keystore") -> "keystore: <message>".
  Error context(std::string_view what) const;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Thrown at service/CLI boundaries only, where an error ends the operation.
class Exception : public std::exception {
 public:
  explicit Exception(Error err) : err_(std::move(err)), what_(err_.to_string()) {}
  const char* what() const noexcept override { return what_.c_str(); }
  const Error& error() const noexcept { return err_; }

 private:
  Error err_;
  std::string what_;
};

// Unwraps a Result or throws Exception: for code that cannot continue without the value.
template <class T>
T unwrap(Result<T> r) {
  if (!r) throw Exception(std::move(r.error()));
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

}  // namespace dgrid
