// HttpServer and Router over real loopback connections: routing, keep-alive, concurrency,
// streaming, cancellation, limits, malformed input and shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net_test_util.hpp"

namespace dgrid::net {
namespace {

using test::Gate;
using test::RawSocket;

std::string base(const HttpServer& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

std::unique_ptr<HttpServer> serve(const Router& router, ServerOptions o = {}) {
  auto s = HttpServer::start(o, router.handler());
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
  return std::move(*s);
}

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

nlohmann::json error_of(const ClientResponse& r) { return nlohmann::json::parse(r.body).at("error"); }

TEST(HttpServer, RoutesParamsQueryAndHeaders) {
  Router router;
  router.add("GET", "/dgrid/v1/receipts/{job_id}", [](Request& req, ResponseWriter& w) {
    nlohmann::json j = {{"job_id", req.params.at("job_id")},
                        {"path", req.path},
                        {"query", req.query},
                        {"q", req.query_param("q").value_or("-")},
                        {"flag", req.query_param("flag").has_value()},
                        {"missing", req.query_param("missing").has_value()},
                        {"hdr", std::string(req.header("X-Custom").value_or("-"))},
                        {"method", req.method}};
    w.send(json_response(200, j));
  });
  router.add("POST", "/echo", [](Request& req, ResponseWriter& w) { w.send(text(req.body)); });
  auto server = serve(router);
  HttpClient client;

  auto r = client.request({.url = base(*server) + "/dgrid/v1/receipts/0xab%2Fcd?q=a+b%26c&flag", .headers = {{"X-CUSTOM", "v1"}}});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/json");
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["job_id"], "0xab/cd");  // an encoded slash stays inside its segment
  EXPECT_EQ(j["path"], "/dgrid/v1/receipts/0xab/cd");
  EXPECT_EQ(j["query"], "q=a+b%26c&flag");
  EXPECT_EQ(j["q"], "a b&c");
  EXPECT_EQ(j["flag"], true);
  EXPECT_EQ(j["missing"], false);
  EXPECT_EQ(j["hdr"], "v1");
  EXPECT_EQ(j["method"], "GET");

  auto echo = client.request({.method = "POST", .url = base(*server) + "/echo", .body = "hello body"});
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->body, "hello body");
}

TEST(HttpServer, NotFoundAndMethodNotAllowedAreJsonErrors) {
  Router router;
  router.add("GET", "/v1/models", [](Request&, ResponseWriter& w) { w.send(text("models")); });
  router.add("HEAD", "/v1/models", [](Request&, ResponseWriter& w) { w.send(text("")); });
  auto server = serve(router);
  HttpClient client;

  auto nf = client.request({.url = base(*server) + "/v1/nothing"});
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(error_of(*nf)["code"], "not_found");
  EXPECT_EQ(error_of(*nf)["type"], "invalid_request_error");
  EXPECT_NE(error_of(*nf)["message"].get<std::string>().find("/v1/nothing"), std::string::npos);

  auto na = client.request({.method = "POST", .url = base(*server) + "/v1/models", .body = "{}"});
  ASSERT_TRUE(na.has_value());
  EXPECT_EQ(na->status, 405);
  EXPECT_EQ(na->header("allow"), "GET, HEAD");
  EXPECT_EQ(error_of(*na)["code"], "method_not_allowed");

  // A trailing slash is a different path, not a parameter match.
  auto slash = client.request({.url = base(*server) + "/v1/models/"});
  ASSERT_TRUE(slash.has_value());
  EXPECT_EQ(slash->status, 404);
}

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  Router router;
  router.add("GET", "/who", [](Request& req, ResponseWriter& w) { w.send(text(req.remote)); });
  auto server = serve(router);
  HttpClient client;
  std::set<std::string> remotes;
  for (int i = 0; i < 300; ++i) {
    auto r = client.request({.url = base(*server) + "/who"});
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    ASSERT_EQ(r->status, 200);
    remotes.insert(r->body);
  }
  EXPECT_EQ(remotes.size(), 1u) << "every request should reuse the first connection";
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(HttpServer, ConcurrentClients) {
  Router router;
  router.add("POST", "/sum", [](Request& req, ResponseWriter& w) {
    auto j = nlohmann::json::parse(req.body);
    w.send(json_response(200, {{"sum", j["a"].get<int>() + j["b"].get<int>()}}));
  });
  auto server = serve(router);
  HttpClient client;  // shared: the pool must be thread-safe
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = client.request({.method = "POST", .url = base(*server) + "/sum", .body = nlohmann::json{{"a", t}, {"b", i}}.dump()});
        if (r && r->status == 200 && nlohmann::json::parse(r->body)["sum"] == t + i) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST(HttpServer, BlockingHandlerDoesNotStallOthers) {
  Gate release, entered;
  Router router;
  router.add("GET", "/block", [&](Request&, ResponseWriter& w) {
    entered.open();
    release.wait();
    w.send(text("unblocked"));
  });
  router.add("GET", "/fast", [](Request&, ResponseWriter& w) { w.send(text("fast")); });
  auto server = serve(router);

  std::thread blocked([&] {
    HttpClient c;
    auto r = c.request({.url = base(*server) + "/block"});
    EXPECT_TRUE(r.has_value() && r->body == "unblocked");
  });
  ASSERT_TRUE(entered.wait());
  HttpClient client;
  for (int i = 0; i < 20; ++i) {
    auto r = client.request({.url = base(*server) + "/fast"});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "fast");
  }
  EXPECT_FALSE(release.is_open());  // the fast requests finished while /block was still held
  release.open();
  blocked.join();
}

TEST(HttpServer, StreamedChunksReachTheClientBeforeEnd) {
  Gate first_seen;
  Router router;
  router.add("GET", "/stream", [&](Request&, ResponseWriter& w) {
    ASSERT_TRUE(w.begin_stream(200, "text/event-stream", {{"X-Stream", "yes"}}));
    ASSERT_TRUE(w.write("data: one\n\n"));
    // The client must have received the first chunk while the response is still open.
    ASSERT_TRUE(first_seen.wait());
    ASSERT_TRUE(w.write(""));  // an empty write is a no-op, not the terminating chunk
    ASSERT_TRUE(w.write("data: two\n\n"));
    ASSERT_TRUE(w.end());
  });
  auto server = serve(router);
  HttpClient client;
  std::string got;
  int heads = 0;
  auto r = client.request_stream(
      {.url = base(*server) + "/stream", .timeout = std::chrono::seconds(20)},
      [&](const ClientResponse& head) {
        ++heads;
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.header("content-type"), "text/event-stream");
        EXPECT_EQ(head.header("x-stream"), "yes");
        EXPECT_EQ(head.header("transfer-encoding"), "chunked");
        EXPECT_EQ(head.header("cache-control"), "no-cache");
      },
      [&](std::string_view piece) {
        got += piece;
        if (got.find("one") != std::string::npos) first_seen.open();
        return true;
      });
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(heads, 1);
  EXPECT_EQ(got, "data: one\n\ndata: two\n\n");
  EXPECT_TRUE(r->body.empty());
  // The finished stream leaves the connection reusable.
  EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(HttpServer, ClientDisconnectMakesWriteReturnFalse) {
  Gate client_left, handler_done;
  std::atomic<bool> write_failed{false}, gone_seen{false};
  Router router;
  router.add("GET", "/stream", [&](Request&, ResponseWriter& w) {
    w.begin_stream(200, "text/event-stream");
    w.write("data: first\n\n");
    client_left.wait();
    // The peer is gone; at most a few writes may still land in socket buffers.
    for (int i = 0; i < 2000 && !write_failed; ++i) {
      if (!w.write("data: more\n\n")) write_failed = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    gone_seen = w.client_gone();
    EXPECT_FALSE(w.end());
    handler_done.open();
  });
  auto server = serve(router);
  {
    HttpClient client;
    auto r = client.request_stream({.url = base(*server) + "/stream"}, [](const ClientResponse&) {},
                                   [](std::string_view) { return false; });  // abort after the first piece
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(client.idle_connections(), 0u);  // an aborted transfer is not pooled
  }
  client_left.open();
  ASSERT_TRUE(handler_done.wait());
  EXPECT_TRUE(write_failed);
  EXPECT_TRUE(gone_seen);
}

TEST(HttpServer, ClientGoneIsSeenWithoutWriting) {
  Gate entered, handler_done;
  std::atomic<bool> gone{false};
  Router router;
  router.add("GET", "/work", [&](Request&, ResponseWriter& w) {
    entered.open();
    for (int i = 0; i < 5000 && !gone; ++i) {
      gone = w.client_gone();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    handler_done.open();
  });
  auto server = serve(router);
  RawSocket s(server->port());
  s.send("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(entered.wait());
  EXPECT_FALSE(gone.load());
  s.close();
  ASSERT_TRUE(handler_done.wait());
  EXPECT_TRUE(gone.load());
}

TEST(HttpServer, BodyOverTheLimitIs413AndTheHandlerIsNotCalled) {
  std::atomic<int> calls{0};
  Router router;
  router.add("POST", "/in", [&](Request&, ResponseWriter& w) {
    ++calls;
    w.send(text("ok"));
  });
  auto server = serve(router, {.max_body_bytes = 1024});
  HttpClient client;
  auto fits = client.request({.method = "POST", .url = base(*server) + "/in", .body = std::string(1024, 'a')});
  ASSERT_TRUE(fits.has_value());
  EXPECT_EQ(fits->status, 200);

  auto big = client.request({.method = "POST", .url = base(*server) + "/in", .body = std::string(1025, 'a')});
  ASSERT_TRUE(big.has_value()) << big.error().to_string();
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(error_of(*big)["code"], "request_too_large");
  EXPECT_EQ(big->header("connection"), "close");

  // A chunked body has no length up front: the limit applies while reading it.
  RawSocket s(server->port());
  s.send("POST /in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'b') + "\r\n10\r\n" +
         std::string(16, 'c') + "\r\n0\r\n\r\n");
  std::string raw = s.read_all();
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw;
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, ExpectContinueIsAnswered) {
  Router router;
  router.add("POST", "/in", [](Request& req, ResponseWriter& w) { w.send(text("got " + req.body)); });
  auto server = serve(router);
  RawSocket s(server->port());
  s.send("POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(s.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  s.send("hello");
  std::string raw = s.read_until("got hello");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK")) << raw;
}

TEST(HttpServer, GarbageBytesGet400AndClose) {
  Router router;
  auto server = serve(router);
  for (std::string_view garbage : {std::string_view("\x16\x03\x01\x02\x00garbage\r\n\r\n"), std::string_view("GET / HTTP/9.9\r\n\r\n"),
                                   std::string_view("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                                   std::string_view("POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")}) {
    RawSocket s(server->port());
    s.send(garbage);
    std::string raw = s.read_all();  // returns at EOF: the server closed
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 400 Bad Request")) << raw;
    EXPECT_NE(raw.find("\"type\":\"invalid_request_error\""), std::string::npos) << raw;
    EXPECT_NE(raw.find("malformed HTTP request"), std::string::npos) << raw;
  }
  // A bad percent-escape in the path is also the client's fault.
  RawSocket s(server->port());
  s.send("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw = s.read_all();
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw;
  EXPECT_NE(raw.find("percent-encoding"), std::string::npos) << raw;
}

TEST(HttpServer, SlowRequestIsCutOffByTheReadTimeout) {
  Router router;
  auto server = serve(router, {.read_timeout = std::chrono::milliseconds(200)});
  RawSocket s(server->port());
  s.send("GET / HTTP/1.1\r\nHost: x\r\n");  // the head never finishes
  EXPECT_EQ(s.read_all(), "");             // closed without an answer (not by our 5 s guard)
}

TEST(HttpServer, HandlerFailuresBecome500) {
  Router router;
  router.add("GET", "/throw", [](Request&, ResponseWriter&) { throw std::runtime_error("boom"); });
  router.add("GET", "/silent", [](Request&, ResponseWriter&) {});
  auto server = serve(router);
  HttpClient client;
  auto t = client.request({.url = base(*server) + "/throw"});
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->status, 500);
  EXPECT_EQ(error_of(*t)["message"], "internal error: boom");
  auto s = client.request({.url = base(*server) + "/silent"});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->status, 500);
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503) {
  Router router;
  router.add("GET", "/", [](Request&, ResponseWriter& w) { w.send(text("ok")); });
  auto server = serve(router, {.max_connections = 1});
  RawSocket first(server->port());
  first.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(first.read_until("ok").find("200 OK"), std::string::npos);  // admitted and kept alive
  RawSocket second(server->port());
  std::string raw = second.read_all();
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 503")) << raw;
  EXPECT_NE(raw.find("too_many_connections"), std::string::npos);
}

TEST(HttpServer, StopWaitsForAnInFlightRequest) {
  Gate entered, release;
  Router router;
  router.add("GET", "/slow", [&](Request&, ResponseWriter& w) {
    entered.open();
    release.wait();
    w.send(text("finished"));
  });
  auto server = serve(router);
  Result<ClientResponse> result;
  std::thread caller([&] {
    HttpClient c;
    result = c.request({.url = base(*server) + "/slow"});
  });
  ASSERT_TRUE(entered.wait());
  // An idle keep-alive connection must not hold stop() up.
  HttpClient idle_client;
  ASSERT_TRUE(idle_client.request({.url = base(*server) + "/missing"}).has_value());
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->stop(std::chrono::seconds(30));
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(stopped.load());
  release.open();
  stopper.join();
  caller.join();
  ASSERT_TRUE(result.has_value()) << result.error().to_string();
  EXPECT_EQ(result->body, "finished");
  EXPECT_EQ(result->header("connection"), "close");  // no keep-alive while stopping
  auto after = HttpClient().request({.url = base(*server) + "/slow", .connect_timeout = std::chrono::milliseconds(500)});
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, Errc::unavailable);
}

TEST(HttpServer, StopAfterGraceCancelsAStreamingHandler) {
  Gate entered;
  std::atomic<bool> saw_failure{false};
  Router router;
  router.add("GET", "/forever", [&](Request&, ResponseWriter& w) {
    w.begin_stream(200, "text/event-stream");
    entered.open();
    while (w.write("data: tick\n\n")) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    saw_failure = true;
  });
  auto server = serve(router);
  std::thread caller([&] {
    HttpClient c;
    auto r = c.request({.url = base(*server) + "/forever"});
    EXPECT_FALSE(r.has_value());  // the body never completes
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::unavailable);
      EXPECT_NE(r.error().message.find("mid-body"), std::string::npos) << r.error().message;
    }
  });
  ASSERT_TRUE(entered.wait());
  server->stop(std::chrono::milliseconds(100));
  EXPECT_TRUE(saw_failure.load());
  caller.join();
}

TEST(HttpServer, StartFailsClearlyOnABusyPort) {
  Router router;
  auto first = serve(router);
  auto second = HttpServer::start({.port = first->port()}, router.handler());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::io);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(first->port())), std::string::npos);
}

}  // namespace
}  // namespace dgrid::net
