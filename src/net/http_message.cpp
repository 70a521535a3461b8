// Request accessors, percent-decoding and the JSON response helpers of net/http_server.hpp.
#include <nlohmann/json.hpp>

#include "net/http_server.hpp"

namespace dgrid::net {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return fail(Errc::malformed, "invalid percent-encoding at offset " + std::to_string(i));
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!name || *name != key) continue;
    if (eq == std::string_view::npos) return std::string();
    // A malformed value is treated as absent rather than guessed at.
    auto value = percent_decode(pair.substr(eq + 1), /*plus_is_space=*/true);
    if (!value) return std::nullopt;
    return *value;
  }
  return std::nullopt;
}

Response error_response(int status, std::string message, std::string type, std::string code) {
  nlohmann::json body = {{"error", {{"message", std::move(message)}, {"type", std::move(type)}, {"code", std::move(code)}}}};
  return json_response(status, body);
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  // Replace invalid UTF-8 rather than throw: a message may quote bytes a client sent.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace dgrid::net
