#include "core/error.hpp"

namespace dgrid {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::malformed: return "malformed";
    case Errc::crypto: return "crypto";
    case Errc::not_found: return "not found";
    case Errc::io: return "i/o";
    case Errc::timeout: return "timeout";
    case Errc::unavailable: return "unavailable";
    case Errc::rpc: return "rpc";
    case Errc::reverted: return "reverted";
    case Errc::unsupported: return "unsupported";
    case Errc::already_exists: return "already_exists";
    case Errc::permission_denied: return "permission_denied";
    case Errc::failed_precondition: return "failed_precondition";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const { return std::string(errc_name(code)) + ": " + message; }

Error Error::context(std::string_view what) const {
  return Error{code, std::string(what) + ": " + message, payload};
}

}  // namespace dgrid
