// HttpClient: pooled keep-alive connections, each with its own io_context so one async
// Beast operation at a time runs under the exchange's deadline on the calling thread.
#include "net/http_client.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <limits>
#include <map>
#include <mutex>

namespace dgrid::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxIdlePerHost = 32;
constexpr uint64_t kMaxBufferedBody = 64ull << 20;
// Beast reads at most 64 KiB from the socket at a time, and no more than the read buffer's
// spare capacity (at least 512 bytes): a buffer left at the size of a response head makes
// every body read a ~512-byte recv. Connections reserve the full 64 KiB, and a streamed body
// is taken in pieces of that size (a smaller piece costs one more deadline-armed op each).
constexpr size_t kReadBuffer = 64 * 1024;
constexpr size_t kStreamPiece = kReadBuffer;

struct Conn {
  Conn() { buffer.reserve(kReadBuffer); }

  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;

  template <class Op>
  beast::error_code run(Clock::time_point deadline, Op&& op) {
    beast::error_code result = asio::error::would_block;
    stream.expires_at(deadline);
    op([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  // An idle pooled connection the server has closed (or sent stray bytes on) is unusable.
  bool usable() {
    auto& sock = stream.socket();
    if (!sock.is_open() || buffer.size() != 0) return false;
    char c;
    ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

long long ms(std::chrono::milliseconds d) { return static_cast<long long>(d.count()); }

}  // namespace

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.starts_with("https://"))
    return fail(Errc::unsupported, "https URLs are not supported: use an http:// endpoint (or a local TLS proxy): " + std::string(url));
  if (!url.starts_with(kHttp)) return fail(Errc::invalid_argument, "URL must start with http://: '" + std::string(url) + "'");
  std::string_view rest = url.substr(kHttp.size());
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  Url out;
  std::string_view tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  tail = tail.substr(0, tail.find('#'));
  out.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
  if (authority.find('@') != std::string_view::npos)
    return fail(Errc::invalid_argument, "URL must not contain credentials: '" + std::string(url) + "'");
  std::string_view host = authority, port = "80";
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(Errc::invalid_argument, "URL has an unterminated IPv6 address: '" + std::string(url) + "'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(Errc::invalid_argument, "URL has junk after the IPv6 address: '" + std::string(url) + "'");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail(Errc::invalid_argument, "URL has no host: '" + std::string(url) + "'");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos || std::stoul(std::string(port)) > 65535 ||
      std::stoul(std::string(port)) == 0)
    return fail(Errc::invalid_argument, "URL has an invalid port: '" + std::string(url) + "'");
  out.host = std::string(host);
  out.port = std::string(port);
  return out;
}

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : headers)
    if (k == want) return std::string_view(v);
  return std::nullopt;
}

struct HttpClient::Impl {
  mutable std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle;  // by "host:port"

  std::unique_ptr<Conn> take(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    // Most recently returned first: the least likely to have hit the server's idle timeout.
    while (!it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      if (c->usable()) return c;
    }
    return nullptr;
  }

  void give(const std::string& key, std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu);
    auto& v = idle[key];
    if (v.size() < kMaxIdlePerHost) v.push_back(std::move(c));
  }

  static Result<std::unique_ptr<Conn>> connect(const Url& url, Clock::time_point deadline, std::chrono::milliseconds connect_timeout) {
    auto c = std::make_unique<Conn>();
    std::string where = url.host + ":" + url.port;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    auto addr = asio::ip::make_address(url.host, ec);
    if (!ec) {
      endpoints.emplace_back(addr, static_cast<uint16_t>(std::stoul(url.port)));
    } else {
      tcp::resolver resolver(c->ioc);
      auto results = resolver.resolve(url.host, url.port, ec);
      if (ec) return fail(Errc::unavailable, "cannot resolve " + url.host + ": " + ec.message());
      for (const auto& r : results) endpoints.push_back(r.endpoint());
    }
    auto connect_deadline = std::min(deadline, Clock::now() + connect_timeout);
    ec = c->run(connect_deadline, [&](auto h) { c->stream.async_connect(endpoints, h); });
    if (ec == beast::error::timeout)
      return fail(Errc::timeout, "connecting to " + where + " timed out after " + std::to_string(ms(connect_timeout)) + " ms");
    if (ec == asio::error::connection_refused) return fail(Errc::unavailable, "connection refused by " + where);
    if (ec) return fail(Errc::unavailable, "cannot connect to " + where + ": " + ec.message());
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    return c;
  }

  // Runs one exchange. Streamed responses use buffer_body and hand each piece to on_data.
  template <bool Stream>
  Result<ClientResponse> exchange(const ClientRequest& r, const std::function<void(const ClientResponse&)>* on_head,
                                  const std::function<bool(std::string_view)>* on_data) {
    auto url = parse_url(r.url);
    if (!url) return std::unexpected(url.error());
    if (r.method.empty() || r.method.find_first_of(" \r\n") != std::string::npos)
      return fail(Errc::invalid_argument, "invalid HTTP method '" + r.method + "'");
    const std::string key = url->host + ":" + url->port;
    const auto deadline = Clock::now() + r.timeout;
    const std::string what = r.method + " " + r.url;

    http::request<http::string_body> req;
    if (auto verb = http::string_to_verb(r.method); verb != http::verb::unknown) req.method(verb);
    else req.method_string(r.method);
    req.target(url->target);
    req.version(11);
    req.set(http::field::host, url->port == "80" ? url->host : key);
    req.set(http::field::user_agent, "dgrid");
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT") req.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = r.body;
    req.prepare_payload();

    auto transport_error = [&](std::string_view stage, const beast::error_code& ec) -> std::unexpected<Error> {
      if (ec == beast::error::timeout)
        return fail(Errc::timeout, what + ": timed out " + std::string(stage) + " (limit " + std::to_string(ms(r.timeout)) + " ms)");
      if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
        return fail(Errc::unavailable, what + ": connection reset by " + key + " " + std::string(stage));
      if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof)
        return fail(Errc::unavailable, what + ": connection closed by " + key + " " + std::string(stage));
      return fail(Errc::unavailable, what + ": " + std::string(stage) + ": " + ec.message());
    };

    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Conn> c = attempt == 0 ? take(key) : nullptr;
      const bool reused = c != nullptr;
      if (!c) {
        auto fresh = connect(*url, deadline, r.connect_timeout);
        if (!fresh) return std::unexpected(fresh.error().context(what));
        c = std::move(*fresh);
      }
      auto ec = c->run(deadline, [&](auto h) { http::async_write(c->stream, req, h); });
      if (ec) {
        // Nothing reached a handler on a connection that fails while we write to it.
        if (reused && ec != beast::error::timeout) continue;
        return transport_error("while sending the request", ec);
      }

      using Body = std::conditional_t<Stream, http::buffer_body, http::string_body>;
      http::response_parser<Body> parser;
      parser.body_limit(Stream ? std::numeric_limits<uint64_t>::max() : kMaxBufferedBody);
      if (r.method == "HEAD") parser.skip(true);
      ec = c->run(deadline, [&](auto h) { http::async_read_header(c->stream, c->buffer, parser, h); });
      if (ec) {
        if (reused && !parser.got_some() && ec != beast::error::timeout && idempotent(r.method)) continue;
        return transport_error(parser.got_some() ? "while reading the response head" : "before any response", ec);
      }

      ClientResponse out;
      out.status = static_cast<int>(parser.get().result_int());
      for (const auto& f : parser.get()) out.headers.emplace_back(lower(std::string(f.name_string())), std::string(f.value()));

      if constexpr (Stream) {
        (*on_head)(out);
        std::vector<char> piece(kStreamPiece);
        while (!parser.is_done()) {
          parser.get().body().data = piece.data();
          parser.get().body().size = piece.size();
          ec = c->run(deadline, [&](auto h) { http::async_read_some(c->stream, c->buffer, parser, h); });
          if (ec == http::error::need_buffer) ec = {};
          if (ec) return transport_error("mid-body", ec);
          size_t n = piece.size() - parser.get().body().size;
          if (n > 0 && !(*on_data)(std::string_view(piece.data(), n))) return out;  // aborted: drop the connection
        }
      } else {
        if (!parser.is_done()) {
          ec = c->run(deadline, [&](auto h) { http::async_read(c->stream, c->buffer, parser, h); });
          if (ec == http::error::body_limit)
            return fail(Errc::unavailable, what + ": response body exceeds " + std::to_string(kMaxBufferedBody) + " bytes");
          if (ec) return transport_error("mid-body", ec);
        }
        out.body = std::move(parser.get().body());
      }
      if (parser.get().keep_alive() && c->buffer.size() == 0) give(key, std::move(c));
      return out;
    }
    return fail(Errc::unavailable, what + ": " + key + " closed the connection twice before answering");
  }
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {}
HttpClient::~HttpClient() = default;

Result<ClientResponse> HttpClient::request(const ClientRequest& r) { return impl_->exchange<false>(r, nullptr, nullptr); }

Result<ClientResponse> HttpClient::request_stream(const ClientRequest& r, const std::function<void(const ClientResponse&)>& on_head,
                                                  const std::function<bool(std::string_view)>& on_data) {
  return impl_->exchange<true>(r, &on_head, &on_data);
}

size_t HttpClient::idle_connections() const {
  std::lock_guard lock(impl_->mu);
  size_t n = 0;
  for (const auto& [k, v] : impl_->idle) n += v.size();
  return n;
}

}  // namespace dgrid::net
