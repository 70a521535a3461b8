// A small blocking HTTP/1.1 client with keep-alive and per-request timeouts (Boost.Beast).
// Used for JSON-RPC; the node's richer HTTP layer lives in src/net.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.hpp"

namespace dgrid::eth {

struct HttpUrl {
  std::string host;
  std::string port;
  std::string target;  // path + query, "/" when absent
};

// Accepts http://host[:port][/path]. https is refused with a clear message (not supported yet).
Result<HttpUrl> parse_http_url(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

// One keep-alive connection, reopened on demand. Thread-safe: requests are serialized.
class HttpClient {
 public:
  explicit HttpClient(HttpUrl url);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs body to the URL's target. Transport failures are Errc::unavailable (connect
  // refused, reset) or Errc::timeout; any HTTP status is returned as a response.
  Result<HttpResponse> post(const std::string& body, const std::string& content_type,
                            std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
};

}  // namespace dgrid::eth
