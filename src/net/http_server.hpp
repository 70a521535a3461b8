// The node's HTTP/1.1 server (Boost.Beast, one thread per connection), its request/response
// types, a small path router and the OpenAI-style JSON error helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace dgrid::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received
  std::string path;    // target without query, percent-decoded
  std::string query;   // raw query string without '?'
  Headers headers;     // names lower-cased, in arrival order
  std::map<std::string, std::string> params;  // from Router {name} segments
  std::string body;
  std::string remote;  // "ip:port"

  // First header with this name (case-insensitive). The view points into `headers`.
  std::optional<std::string_view> header(std::string_view name) const;
  // First `key=value` of the query string, percent-decoded ('+' is a space).
  std::optional<std::string> query_param(std::string_view key) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;
  std::string body;
};

// One per request, valid only while the handler runs; used from the handler's thread only
// (not thread-safe). A handler calls send() once, or begin_stream() then write()* then end().
// Streams use chunked transfer encoding and are flushed per write, so SSE reaches the client
// token by token. Every call returns false once the client is gone or the server is being
// stopped: the handler should then stop its work (that is how cancellation reaches it).
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual bool send(Response r) = 0;
  virtual bool begin_stream(int status, std::string content_type, Headers headers = {}) = 0;
  virtual bool write(std::string_view data) = 0;
  virtual bool end() = 0;
  // Like begin_stream, for a body whose length is known up front (a file, a byte range): sent
  // with Content-Length instead of chunked, so a client sees a truncated body as an error and
  // knows the size before the bytes. write() then sends raw bytes; end() fails (and the
  // connection is closed) unless exactly `content_length` bytes were written. For a HEAD
  // request the server sends only the head: every call still answers as for GET, and write()
  // sends nothing (the same holds for send() and begin_stream()).
  virtual bool begin_sized(int status, std::string content_type, Headers headers, uint64_t content_length) {
    (void)content_length;
    return begin_stream(status, std::move(content_type), std::move(headers));
  }
  // Cheap, non-blocking: true once the peer closed or reset the connection (a peer that only
  // half-closes its side also counts as gone), or stop() gave up waiting for this request.
  virtual bool client_gone() const = 0;
};

// Called on the connection's own thread; may block (inference) without stalling others.
// Must be safe to call concurrently from many connections.
using Handler = std::function<void(Request&, ResponseWriter&)>;

// Matches exact paths and whole "{name}" segments, e.g. "/dgrid/v1/receipts/{job_id}".
// Matching is on the raw path split at '/', each segment then percent-decoded, so an
// encoded "%2F" stays inside its segment. Build it first, then share it read-only
// (handle() is const and thread-safe; add() is not).
class Router {
 public:
  void add(std::string method, std::string pattern, Handler h);
  // Runs the first matching route with req.params filled in; otherwise answers a JSON 404,
  // or 405 with an Allow header when the path exists under other methods.
  void handle(Request& req, ResponseWriter& w) const;
  // Adapts the router to HttpServer::start. The router must outlive the server.
  Handler handler() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    Handler handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                       // 0: any free port
  size_t max_body_bytes = 1 << 20;         // larger: 413 JSON error, handler not called
  size_t max_connections = 1024;           // beyond: accept and close with 503
  std::chrono::milliseconds idle_timeout{30'000};  // keep-alive wait; also per response write
  std::chrono::milliseconds read_timeout{10'000};  // whole head+body of one request (slowloris)
};

class HttpServer {
 public:
  // Binds and starts accepting at once. Errc::io when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(const ServerOptions& o, Handler h);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const noexcept;
  // Stops accepting and closes idle keep-alive connections, lets in-flight requests finish
  // for up to `grace`, then closes the rest (their writers start returning false) and waits
  // for their handlers to return. Idempotent; thread-safe.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// {"error":{"message","type","code"}} with the given status (OpenAI error shape).
Response error_response(int status, std::string message, std::string type, std::string code);
Response json_response(int status, const nlohmann::json& body);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Errc::malformed on a bad
// escape.
Result<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace dgrid::net
