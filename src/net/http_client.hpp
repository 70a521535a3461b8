// A blocking HTTP/1.1 client with a keep-alive connection pool per host:port (Boost.Beast),
// buffered or streamed responses, and deadlines on every exchange.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace dgrid::net {

struct Url {
  std::string host;
  std::string port;    // "80" when absent
  std::string target;  // path + query, "/" when absent
};

// Accepts http://host[:port][/path][?q] (IPv6 as [::1]). https is refused with a clear
// message: put a TLS-terminating proxy in front instead.
Result<Url> parse_url(std::string_view url);

struct ClientRequest {
  std::string method = "GET";
  std::string url{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  std::string content_type = "application/json";  // sent when there is a body or for POST/PUT
  std::chrono::milliseconds timeout{30'000};       // whole exchange, connect included
  std::chrono::milliseconds connect_timeout{3'000};
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-cased names
  std::string body;                                            // empty when streamed
  // First header with this name (case-insensitive); points into `headers`.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Thread-safe: concurrent requests each use their own connection. Idle connections are kept
// per host:port and reused; one the server has since closed is detected before reuse, and a
// reused connection that fails before any response byte is retried once on a fresh one when
// retrying cannot duplicate work (idempotent methods, or the request was never written).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Buffers the whole body (up to 64 MiB). Transport failures are Errc::unavailable
  // (refused, reset, closed before or mid-response: the message says which) or
  // Errc::timeout; every HTTP status is a response, not an error.
  Result<ClientResponse> request(const ClientRequest& r);

  // Streams the body: on_head once with status and headers, then on_data per received piece
  // (return false to abort the transfer; that is not an error). Returns the head (body
  // empty). The callbacks run on the calling thread.
  Result<ClientResponse> request_stream(const ClientRequest& r, const std::function<void(const ClientResponse&)>& on_head,
                                        const std::function<bool(std::string_view)>& on_data);

  // Idle pooled connections (all hosts); for tests and metrics.
  size_t idle_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgrid::net
