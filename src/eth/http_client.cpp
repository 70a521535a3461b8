#include "eth/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace dgrid::eth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.starts_with("https://"))
    return fail(Errc::unsupported, "https URLs are not supported yet; use an http:// endpoint or a local TLS proxy");
  if (!url.starts_with(kHttp)) return fail(Errc::invalid_argument, "URL must start with http://: " + std::string(url));
  std::string_view rest = url.substr(kHttp.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty()) return fail(Errc::invalid_argument, "URL has no host: " + std::string(url));
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
    out.port = "80";
  }
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) return fail(Errc::invalid_argument, "URL has no host: " + std::string(url));
  if (out.port.empty() || out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos)
    return fail(Errc::invalid_argument, "URL has an invalid port: " + std::string(url));
  return out;
}

struct HttpClient::Impl {
  HttpUrl url;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  explicit Impl(HttpUrl u) : url(std::move(u)) {}

  // Runs one async operation to completion on this thread; the stream's expiry enforces
  // the timeout (Beast's synchronous calls have no timeouts).
  template <class Op>
  beast::error_code run(Op&& op) {
    beast::error_code result = asio::error::would_block;
    op([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
};

HttpClient::HttpClient(HttpUrl url) : impl_(std::make_unique<Impl>(std::move(url))) {}
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::post(const std::string& body, const std::string& content_type,
                                      std::chrono::milliseconds timeout) {
  std::lock_guard lock(mu_);
  Impl& m = *impl_;
  auto transport_error = [&](std::string_view stage, const beast::error_code& ec) {
    m.stream.reset();
    Errc code = ec == beast::error::timeout ? Errc::timeout : Errc::unavailable;
    return fail(code, std::string(stage) + " " + m.url.host + ":" + m.url.port + " failed: " + ec.message());
  };

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = m.stream.has_value();
    if (!reused) {
      tcp::resolver resolver(m.ioc);
      beast::error_code ec;
      auto endpoints = resolver.resolve(m.url.host, m.url.port, ec);
      if (ec) return transport_error("resolving", ec);
      m.stream.emplace(m.ioc);
      m.stream->expires_after(timeout);
      ec = m.run([&](auto handler) { m.stream->async_connect(endpoints, handler); });
      if (ec) return transport_error("connecting to", ec);
    }
    http::request<http::string_body> req{http::verb::post, m.url.target, 11};
    req.set(http::field::host, m.url.host);
    req.set(http::field::content_type, content_type);
    req.set(http::field::connection, "keep-alive");
    req.body() = body;
    req.prepare_payload();
    m.stream->expires_after(timeout);
    beast::error_code ec = m.run([&](auto handler) { http::async_write(*m.stream, req, handler); });
    if (ec) {
      // A kept-alive connection the server already closed: reconnect once. Nothing was
      // delivered, so resending cannot duplicate the request.
      if (reused) {
        m.stream.reset();
        continue;
      }
      return transport_error("sending to", ec);
    }
    http::response<http::string_body> res;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    ec = m.run([&](auto handler) { http::async_read(*m.stream, m.buffer, parser, handler); });
    // A failure while reading means the server may have seen the request: report it and
    // let the caller decide whether a retry is safe (RpcClient only sends idempotent calls).
    if (ec) return transport_error("reading from", ec);
    res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    out.content_type = std::string(res[http::field::content_type]);
    if (!res.keep_alive()) m.stream.reset();
    return out;
  }
  return fail(Errc::unavailable, "connection to " + m.url.host + ":" + m.url.port + " keeps closing");
}

}  // namespace dgrid::eth
