// HttpClient against real loopback servers: URL parsing, pooling, stale connections,
// timeouts and transport errors.
#include <gtest/gtest.h>

#include <thread>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net_test_util.hpp"

namespace dgrid::net {
namespace {

using test::Gate;

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

TEST(ParseUrl, AcceptsHostPortPathQuery) {
  auto u = parse_url("http://example.com");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/");
  u = parse_url("http://127.0.0.1:8545/v1/x?y=1#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8545");
  EXPECT_EQ(u->target, "/v1/x?y=1");
  u = parse_url("http://h:1?q");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->target, "/?q");
  u = parse_url("http://[::1]:9000/p");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9000");
}

TEST(ParseUrl, RejectsClearly) {
  auto https = parse_url("https://example.com");
  ASSERT_FALSE(https.has_value());
  EXPECT_EQ(https.error().code, Errc::unsupported);
  EXPECT_NE(https.error().message.find("https"), std::string::npos);
  for (std::string_view bad : {"ftp://x", "example.com", "http://", "http://:80", "http://h:", "http://h:99999", "http://h:0",
                               "http://h:8a", "http://u:p@h/", "http://[::1"}) {
    auto r = parse_url(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find(std::string(bad)), std::string::npos) << r.error().message;
    }
  }
}

TEST(HttpClient, ConnectionRefusedIsUnavailable) {
  // Bind and close a server to learn a port nobody listens on.
  uint16_t port;
  {
    Router router;
    auto s = HttpServer::start({}, router.handler());
    ASSERT_TRUE(s.has_value());
    port = (*s)->port();
  }
  HttpClient client;
  auto r = client.request({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
}

TEST(HttpClient, WholeExchangeTimeout) {
  Gate release;
  Router router;
  router.add("GET", "/hang", [&](Request&, ResponseWriter& w) {
    release.wait();
    w.send(text("late"));
  });
  auto server = HttpServer::start({}, router.handler());
  ASSERT_TRUE(server.has_value());
  HttpClient client;
  auto r = client.request({.url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/hang",
                           .timeout = std::chrono::milliseconds(200)});
  release.open();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_EQ(client.idle_connections(), 0u);  // a timed-out connection is never reused
}

TEST(HttpClient, PooledConnectionClosedByTheServerIsReplaced) {
  Router router;
  router.add("GET", "/who", [](Request& req, ResponseWriter& w) { w.send(text(req.remote)); });
  router.add("POST", "/who", [](Request& req, ResponseWriter& w) { w.send(text(req.remote)); });
  auto server = HttpServer::start({}, router.handler());
  ASSERT_TRUE(server.has_value());
  const uint16_t port = (*server)->port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/who";
  HttpClient client;
  auto first = client.request({.url = url});
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(client.idle_connections(), 1u);

  // Restart the server on the same port: the pooled connection is now dead.
  (*server)->stop();
  server = HttpServer::start({.port = port}, router.handler());
  ASSERT_TRUE(server.has_value()) << server.error().to_string();

  for (std::string method : {"GET", "POST"}) {
    auto again = client.request({.method = method, .url = url, .body = method == "POST" ? "{}" : ""});
    ASSERT_TRUE(again.has_value()) << method << ": " << again.error().to_string();
    EXPECT_EQ(again->status, 200);
  }
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(HttpClient, ServerIdleTimeoutThenReuse) {
  Router router;
  router.add("GET", "/", [](Request&, ResponseWriter& w) { w.send(text("ok")); });
  auto server = HttpServer::start({.idle_timeout = std::chrono::milliseconds(50)}, router.handler());
  ASSERT_TRUE(server.has_value());
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/";
  for (int i = 0; i < 3; ++i) {
    auto r = client.request({.url = url});
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(r->body, "ok");
    // Long enough for the server to drop the idle connection; the result is the same either way.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
}

TEST(HttpClient, ClosedMidBodyIsReported) {
  Router router;
  router.add("GET", "/cut", [](Request&, ResponseWriter& w) {
    w.begin_stream(200, "text/plain");
    w.write("partial");
    throw std::runtime_error("engine failed");  // the server closes the connection mid-body
  });
  auto server = HttpServer::start({}, router.handler());
  ASSERT_TRUE(server.has_value());
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/cut";
  auto r = client.request({.url = url});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("closed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("mid-body"), std::string::npos) << r.error().message;

  std::string streamed;
  auto s = client.request_stream({.url = url}, [](const ClientResponse&) {}, [&](std::string_view p) {
    streamed += p;
    return true;
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(streamed, "partial");
  EXPECT_NE(s.error().message.find("mid-body"), std::string::npos) << s.error().message;
}

TEST(HttpClient, StatusesAreResponsesAndHeadWorks) {
  Router router;
  router.add("GET", "/teapot", [](Request&, ResponseWriter& w) {
    Response r = error_response(418, "short and stout", "invalid_request_error", "teapot");
    r.headers.emplace_back("X-Extra", "1");
    w.send(std::move(r));
  });
  router.add("HEAD", "/teapot", [](Request&, ResponseWriter& w) { w.send(text("ignored body")); });
  auto server = HttpServer::start({}, router.handler());
  ASSERT_TRUE(server.has_value());
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/teapot";
  auto r = client.request({.url = url});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 418);
  EXPECT_EQ(r->header("X-EXTRA"), "1");
  EXPECT_EQ(r->body, R"({"error":{"code":"teapot","message":"short and stout","type":"invalid_request_error"}})");
  auto head = client.request({.method = "HEAD", .url = url});
  ASSERT_TRUE(head.has_value()) << head.error().to_string();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

}  // namespace
}  // namespace dgrid::net
