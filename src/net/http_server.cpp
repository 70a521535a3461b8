// HttpServer: an acceptor thread plus one thread per connection. Each connection owns an
// io_context and runs one Beast operation at a time on it, so every read and write has a
// deadline (Beast's synchronous calls have none) while handler code stays plain blocking code.
#include "net/http_server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace dgrid::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string remote;
  // Set and read on the connection thread only (stop() reads it from a posted handler).
  bool idle = false;
  // Set by stop() once the grace period is over.
  std::atomic<bool> killed{false};

  // Runs one async operation to completion on this thread under a deadline.
  template <class Op>
  beast::error_code run(std::chrono::milliseconds timeout, Op&& op) {
    beast::error_code result = asio::error::would_block;
    stream.expires_after(timeout);
    op([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  // Non-blocking peek: has the peer closed or reset? Pipelined bytes mean "still there".
  bool peer_gone() const {
    if (killed.load(std::memory_order_relaxed)) return true;
    auto& sock = const_cast<beast::tcp_stream&>(stream).socket();
    if (!sock.is_open()) return true;
    char c;
    ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return false;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }
};

std::string status_line_reason(int status) {
  auto r = http::obsolete_reason(static_cast<http::status>(status));
  return r.empty() || r.starts_with('<') ? std::string("Unknown") : std::string(r.data(), r.size());
}

class Writer final : public ResponseWriter {
 public:
  // keep_alive is what the request asked for; a server that is stopping answers "close".
  // head_only: the request was HEAD; heads are sent as for GET, bodies never.
  Writer(Connection& c, bool keep_alive, const std::atomic<bool>& stopping, std::chrono::milliseconds write_timeout,
         bool head_only = false)
      : c_(c), keep_alive_(keep_alive), stopping_(stopping), write_timeout_(write_timeout), head_only_(head_only) {}

  enum class State { none, sent, streaming, ended, failed };

  bool send(Response r) override {
    if (state_ != State::none) return false;
    http::response<http::string_body> res;
    res.result(static_cast<unsigned>(r.status));
    res.reason(status_line_reason(r.status));
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.insert(k, v);
    res.keep_alive(keep_alive_ && !stopping_);
    if (head_only_) {
      http::response<http::empty_body> head{std::move(res.base())};
      head.content_length(r.body.size());
      if (!write_head(head)) return false;
      state_ = State::sent;
      return true;
    }
    res.body() = std::move(r.body);
    res.prepare_payload();
    if (c_.peer_gone()) return failed();
    auto ec = c_.run(write_timeout_, [&](auto h) { http::async_write(c_.stream, res, h); });
    if (ec) return failed();
    state_ = State::sent;
    return true;
  }

  // The head both stream forms send: status, content type, the handler's headers, keep-alive.
  http::response<http::empty_body> head(int status, const std::string& content_type, const Headers& headers) const {
    http::response<http::empty_body> res;
    res.result(static_cast<unsigned>(status));
    res.reason(status_line_reason(status));
    res.set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) res.insert(k, v);
    res.keep_alive(keep_alive_ && !stopping_);
    return res;
  }

  bool begin_stream(int status, std::string content_type, Headers headers) override {
    if (state_ != State::none) return false;
    auto res = head(status, content_type, headers);
    // Proxies must not hold back or replay a live stream, unless the handler said otherwise.
    if (res.find(http::field::cache_control) == res.end()) res.set(http::field::cache_control, "no-cache");
    res.chunked(true);
    if (!write_head(res)) return false;
    state_ = State::streaming;
    return true;
  }

  bool begin_sized(int status, std::string content_type, Headers headers, uint64_t content_length) override {
    if (state_ != State::none) return false;
    auto res = head(status, content_type, headers);
    res.content_length(content_length);
    if (!write_head(res)) return false;
    sized_ = true;
    remaining_ = content_length;
    state_ = State::streaming;
    return true;
  }

  bool write(std::string_view data) override {
    if (state_ != State::streaming) return false;
    if (head_only_) return !c_.peer_gone();
    // An empty chunk would be the terminating chunk: nothing to send.
    if (data.empty()) return !c_.peer_gone();
    if (c_.peer_gone()) return failed();
    beast::error_code ec;
    if (sized_) {
      if (data.size() > remaining_) return failed();  // more than announced: the framing would break
      remaining_ -= data.size();
      ec = c_.run(write_timeout_, [&](auto h) { asio::async_write(c_.stream, asio::const_buffer(data.data(), data.size()), h); });
    } else {
      ec = c_.run(write_timeout_, [&](auto h) {
        asio::async_write(c_.stream, http::make_chunk(asio::const_buffer(data.data(), data.size())), h);
      });
    }
    if (ec) return failed();
    return true;
  }

  bool end() override {
    if (state_ != State::streaming) return false;
    if (head_only_ || sized_) {
      if (!head_only_ && remaining_ != 0) return failed();  // short body: close, never pretend
      // Nothing left to send; the peer may have read it all and gone already, which is fine.
      state_ = State::ended;
      return true;
    }
    if (c_.peer_gone()) return failed();
    auto ec = c_.run(write_timeout_, [&](auto h) { asio::async_write(c_.stream, http::make_chunk_last(), h); });
    if (ec) return failed();
    state_ = State::ended;
    return true;
  }

  bool client_gone() const override { return state_ == State::failed || c_.peer_gone(); }

  State state() const { return state_; }

 private:
  bool write_head(http::response<http::empty_body>& res) {
    if (c_.peer_gone()) return failed();
    http::response_serializer<http::empty_body> sr{res};
    auto ec = c_.run(write_timeout_, [&](auto h) { http::async_write_header(c_.stream, sr, h); });
    if (ec) return failed();
    return true;
  }

  bool failed() {
    state_ = State::failed;
    return false;
  }

  Connection& c_;
  bool keep_alive_;
  const std::atomic<bool>& stopping_;
  std::chrono::milliseconds write_timeout_;
  bool head_only_ = false;
  bool sized_ = false;      // begin_sized: raw body bytes, remaining_ still to come
  uint64_t remaining_ = 0;
  State state_ = State::none;
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions opts;
  Handler handler;
  asio::io_context ioc;  // the acceptor's
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry_timer{ioc};
  std::thread accept_thread;
  uint16_t port = 0;

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::shared_ptr<Connection>> conns;  // guarded by mu
  bool stopped = false;                         // guarded by mu

  void accept_next() {
    auto conn = std::make_shared<Connection>();
    auto sock = std::make_shared<tcp::socket>(conn->ioc);
    acceptor.async_accept(*sock, [this, conn, sock](beast::error_code ec) {
      if (ec == asio::error::operation_aborted || stopping) return;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        retry_timer.expires_after(std::chrono::milliseconds(50));
        retry_timer.async_wait([this](beast::error_code tec) {
          if (!tec && !stopping) accept_next();
        });
        return;
      }
      admit(conn, std::move(*sock));
      accept_next();
    });
  }

  void admit(const std::shared_ptr<Connection>& conn, tcp::socket sock) {
    beast::error_code ec;
    sock.set_option(tcp::no_delay(true), ec);  // streamed chunks must leave at once
    auto ep = sock.remote_endpoint(ec);
    conn->remote = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    {
      std::lock_guard lock(mu);
      if (conns.size() >= opts.max_connections) {
        // A short blocking write of a tiny response to a fresh socket cannot stall.
        Response r = error_response(503, "server is at its connection limit; retry later", "server_error", "too_many_connections");
        std::string raw = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
        asio::write(sock, asio::buffer(raw), ec);
        sock.shutdown(tcp::socket::shutdown_both, ec);
        sock.close(ec);
        return;
      }
      conns.insert(conn);
    }
    conn->stream.socket() = std::move(sock);
    try {
      std::thread([this, conn] { serve(conn); }).detach();
    } catch (const std::system_error&) {
      std::lock_guard lock(mu);
      conns.erase(conn);
      conn->close();
      cv.notify_all();
    }
  }

  void serve(const std::shared_ptr<Connection>& conn) {
    serve_requests(*conn);
    conn->close();
    std::lock_guard lock(mu);
    conns.erase(conn);
    cv.notify_all();  // under the lock: stop() may destroy `this` right after it wakes
  }

  // Sends a JSON error on a connection that is then closed (nothing more is read from it).
  void reject(Connection& c, int status, std::string message, std::string code) {
    Writer w(c, /*keep_alive=*/false, stopping, opts.idle_timeout);
    std::string type = status >= 500 ? "server_error" : "invalid_request_error";
    w.send(error_response(status, std::move(message), std::move(type), std::move(code)));
  }

  void serve_requests(Connection& c) {
    while (!stopping) {
      // Wait for the next request's first byte under the keep-alive timeout. While idle,
      // stop() may close the socket from a handler it posts to this io_context.
      if (c.buffer.size() == 0) {
        c.idle = true;
        if (stopping) return;
        size_t got = 0;
        auto ec = c.run(opts.idle_timeout, [&](auto h) {
          c.stream.async_read_some(c.buffer.prepare(8192), [&got, h](beast::error_code e, size_t n) mutable {
            got = n;
            h(e);
          });
        });
        c.idle = false;
        c.buffer.commit(got);
        if (ec) return;  // closed, idle timeout or stop
      }

      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(opts.max_body_bytes);
      auto deadline_start = std::chrono::steady_clock::now();
      auto remaining = [&] {
        auto left = opts.read_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - deadline_start);
        return std::max(left, std::chrono::milliseconds(1));
      };
      auto ec = c.run(remaining(), [&](auto h) { http::async_read_header(c.stream, c.buffer, parser, h); });
      if (ec) return read_failed(c, ec);

      if (auto len = parser.content_length(); len && *len > opts.max_body_bytes)
        return reject(c, 413, "request body of " + std::to_string(*len) + " bytes exceeds the limit of " + std::to_string(opts.max_body_bytes) + " bytes", "request_too_large");
      if (!parser.is_done()) {
        // curl and others wait for this before sending a larger body.
        auto expect = parser.get()[http::field::expect];
        if (beast::iequals(expect, "100-continue")) {
          ec = c.run(remaining(), [&](auto h) { asio::async_write(c.stream, asio::buffer(kContinue), h); });
          if (ec) return;
        }
        ec = c.run(remaining(), [&](auto h) { http::async_read(c.stream, c.buffer, parser, h); });
        if (ec) return read_failed(c, ec);
      }

      bool keep_alive = parser.get().keep_alive();
      Request req;
      if (!build_request(c, parser.release(), req)) return;
      Writer w(c, keep_alive, stopping, opts.idle_timeout, /*head_only=*/req.method == "HEAD");
      try {
        handler(req, w);
      } catch (const std::exception& e) {
        if (w.state() == Writer::State::none)
          w.send(error_response(500, std::string("internal error: ") + e.what(), "server_error", "internal_error"));
        else
          return;  // mid-stream: the truncated body tells the client something broke
      }
      switch (w.state()) {
        case Writer::State::none:
          w.send(error_response(500, "the handler produced no response", "server_error", "internal_error"));
          break;
        case Writer::State::sent:
        case Writer::State::ended:
          break;
        case Writer::State::streaming:  // returned without end(): do not pretend it finished
        case Writer::State::failed:
          return;
      }
      if (!keep_alive || stopping || w.state() == Writer::State::failed) return;
    }
  }

  void read_failed(Connection& c, beast::error_code ec) {
    if (ec == http::error::body_limit)
      return reject(c, 413, "request body exceeds the limit of " + std::to_string(opts.max_body_bytes) + " bytes", "request_too_large");
    if (ec == http::error::header_limit)
      return reject(c, 431, "request headers exceed " + std::to_string(kHeaderLimit) + " bytes", "headers_too_large");
    bool parse_error = ec.category() == beast::error_code(http::error::bad_method).category();
    if (parse_error && ec != http::error::end_of_stream && ec != http::error::partial_message)
      return reject(c, 400, "malformed HTTP request: " + ec.message(), "bad_request");
    // Timeouts, resets and EOF: nobody is listening for an answer.
  }

  bool build_request(Connection& c, http::request<http::string_body> msg, Request& req) {
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    std::string_view target = req.target;
    size_t q = target.find('?');
    auto path = percent_decode(target.substr(0, q));
    if (!path) {
      reject(c, 400, "request path has an invalid percent-encoding: " + path.error().message, "bad_request");
      return false;
    }
    req.path = std::move(*path);
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.headers.reserve(std::distance(msg.begin(), msg.end()));
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.remote = c.remote;
    return true;
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServerOptions& o, Handler h) {
  if (!h) return fail(Errc::invalid_argument, "HttpServer::start needs a handler");
  if (o.max_connections == 0) return fail(Errc::invalid_argument, "max_connections must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->opts = o;
  impl->handler = std::move(h);
  beast::error_code ec;
  tcp::endpoint ep;
  auto addr = asio::ip::make_address(o.host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, o.port);
  } else {
    tcp::resolver resolver(impl->ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty())
      return fail(Errc::invalid_argument, "cannot resolve listen host '" + o.host + "': " + ec.message());
    ep = *results.begin();
  }
  std::string where = o.host + ":" + std::to_string(o.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::io, "cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->accept_next();
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const noexcept { return impl_->port; }

void HttpServer::stop(std::chrono::milliseconds grace) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.stopped) return;
    m.stopped = true;
  }
  m.stopping = true;
  asio::post(m.ioc, [&m] {
    beast::error_code ignored;
    m.acceptor.close(ignored);
    m.retry_timer.cancel();
  });
  if (m.accept_thread.joinable()) m.accept_thread.join();

  std::unique_lock lock(m.mu);
  // The posted handlers hold raw pointers: they run only inside the connection's own
  // ioc.run() (so the connection is alive), and a shared_ptr left queued in the ioc the
  // connection owns would keep it alive forever.
  for (const auto& c : m.conns) {
    Connection* raw = c.get();
    asio::post(c->ioc, [raw] {
      if (raw->idle) raw->close();
    });
  }
  if (!m.cv.wait_for(lock, grace, [&] { return m.conns.empty(); })) {
    for (const auto& c : m.conns) {
      c->killed = true;
      Connection* raw = c.get();
      asio::post(c->ioc, [raw] { raw->close(); });
    }
    // Handlers notice through their writer (false) or client_gone(); wait for them to return.
    m.cv.wait(lock, [&] { return m.conns.empty(); });
  }
}

}  // namespace dgrid::net
