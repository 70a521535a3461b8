// Sized bodies (ResponseWriter::begin_sized) and HEAD requests over real loopback
// connections: Content-Length framing, a short body closing the connection, more bytes than
// announced refused, and HEAD answered with the GET head and no body on a reusable connection.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "net/http_server.hpp"

namespace dgrid::net {
namespace {

class HttpSizedBody : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/sized", [](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.begin_sized(206, "application/octet-stream", {{"Content-Range", "bytes 0-9/100"}}, 10));
      ASSERT_TRUE(w.write("01234"));
      ASSERT_TRUE(w.write("56789"));
      ASSERT_TRUE(w.end());
    });
    router_.add("HEAD", "/sized", [this](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.begin_sized(200, "application/octet-stream", {}, 1'000'000));
      EXPECT_TRUE(w.write("ignored for HEAD"));
      EXPECT_TRUE(w.end());
      heads_++;
    });
    router_.add("GET", "/short", [](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.begin_sized(200, "application/octet-stream", {}, 10));
      ASSERT_TRUE(w.write("0123"));
      EXPECT_FALSE(w.end()) << "6 bytes are missing: end() must not pretend the body is complete";
    });
    router_.add("GET", "/long", [this](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.begin_sized(200, "application/octet-stream", {}, 4));
      over_ = w.write("0123456789");
    });
    router_.add("GET", "/json", [](Request&, ResponseWriter& w) { w.send(json_response(200, {{"hello", "world"}})); });
    router_.add("HEAD", "/json", [](Request&, ResponseWriter& w) { w.send(json_response(200, {{"hello", "world"}})); });
    router_.add("HEAD", "/stream", [](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.begin_stream(200, "text/plain"));
      EXPECT_TRUE(w.write("nothing goes out"));
      EXPECT_TRUE(w.end());
    });
    auto s = HttpServer::start({}, router_.handler());
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  Result<ClientResponse> call(std::string method, const std::string& path) {
    ClientRequest r;
    r.method = std::move(method);
    r.url = base_ + path;
    return client_.request(r);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  HttpClient client_;
  std::atomic<int> heads_{0};
  std::atomic<bool> over_{true};
};

TEST_F(HttpSizedBody, ContentLengthFramingAndKeepAlive) {
  for (int i = 0; i < 3; ++i) {
    auto r = call("GET", "/sized");
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->status, 206);
    EXPECT_EQ(r->body, "0123456789");
    EXPECT_EQ(r->header("content-length"), "10");
    EXPECT_FALSE(r->header("transfer-encoding").has_value());
    EXPECT_EQ(r->header("content-range"), "bytes 0-9/100");
  }
  EXPECT_EQ(client_.idle_connections(), 1u) << "one connection, reused";
}

TEST_F(HttpSizedBody, AShortBodyIsATransferErrorNotAResponse) {
  auto r = call("GET", "/short");
  ASSERT_FALSE(r) << "got a complete response: " << r->body;
  EXPECT_EQ(r.error().code, Errc::unavailable) << r.error().to_string();
  auto next = call("GET", "/sized");
  ASSERT_TRUE(next) << next.error().to_string();
  EXPECT_EQ(next->body, "0123456789");
}

TEST_F(HttpSizedBody, MoreThanAnnouncedIsRefused) {
  auto r = call("GET", "/long");
  EXPECT_FALSE(over_.load());
  EXPECT_FALSE(r && r->status == 200 && r->body.size() > 4);
}

TEST_F(HttpSizedBody, HeadGetsTheHeadOnlyAndTheConnectionStaysUsable) {
  auto head = call("HEAD", "/sized");
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "1000000");
  EXPECT_TRUE(head->body.empty());
  auto json = call("HEAD", "/json");
  ASSERT_TRUE(json) << json.error().to_string();
  EXPECT_EQ(json->header("content-length"), std::to_string(std::string(R"({"hello":"world"})").size()));
  EXPECT_TRUE(json->body.empty());
  auto stream = call("HEAD", "/stream");
  ASSERT_TRUE(stream) << stream.error().to_string();
  EXPECT_EQ(stream->status, 200);
  EXPECT_TRUE(stream->body.empty());
  // Had any body bytes gone out, this GET on the same connection would read them as its head.
  auto get = call("GET", "/sized");
  ASSERT_TRUE(get) << get.error().to_string();
  EXPECT_EQ(get->body, "0123456789");
  EXPECT_EQ(client_.idle_connections(), 1u);
  EXPECT_EQ(heads_.load(), 1);
}

}  // namespace
}  // namespace dgrid::net
