// Router: exact paths and "{name}" segments, JSON 404/405 otherwise.
#include <algorithm>

#include "net/http_server.hpp"

namespace dgrid::net {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Fills params when the raw path matches; params may be partly filled on a mismatch.
bool match(const std::vector<std::string>& pattern, const std::vector<std::string_view>& raw,
           std::map<std::string, std::string>& params) {
  if (pattern.size() != raw.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    auto decoded = percent_decode(raw[i]);
    if (!decoded) return false;
    if (is_param(pattern[i])) {
      if (decoded->empty()) return false;
      params[pattern[i].substr(1, pattern[i].size() - 2)] = std::move(*decoded);
    } else if (*decoded != pattern[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler h) {
  Route r{std::move(method), {}, std::move(h)};
  for (std::string_view s : split_path(pattern)) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
}

void Router::handle(Request& req, ResponseWriter& w) const {
  std::string_view raw_path = req.target;
  raw_path = raw_path.substr(0, raw_path.find('?'));
  auto raw = split_path(raw_path);
  std::vector<std::string> allowed;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match(r.segments, raw, params)) continue;
    if (r.method != req.method) {
      if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
      continue;
    }
    req.params = std::move(params);
    r.handler(req, w);
    return;
  }
  if (allowed.empty()) {
    w.send(error_response(404, "no such endpoint: " + req.method + " " + req.path, "invalid_request_error", "not_found"));
    return;
  }
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  Response res = error_response(405, "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")",
                                "invalid_request_error", "method_not_allowed");
  res.headers.emplace_back("Allow", allow);
  w.send(std::move(res));
}

Handler Router::handler() const {
  return [this](Request& req, ResponseWriter& w) { handle(req, w); };
}

}  // namespace dgrid::net
