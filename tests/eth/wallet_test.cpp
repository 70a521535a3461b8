#include "eth/wallet.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <thread>

#include "support/chain.hpp"

namespace dgrid::eth {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// An HTTP proxy in front of anvil that can swallow responses: it forwards a request, lets
// the chain act on it, then closes the client's connection when `drop(body)` says so, as a
// network failure after the request was sent would.
class FlakyProxy {
 public:
  FlakyProxy(const std::string& upstream_url, std::function<bool(const std::string&)> drop)
      : drop_(std::move(drop)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    auto u = parse_http_url(upstream_url);
    host_ = u->host;
    port_ = u->port;
    thread_ = std::thread([this] { serve(); });
  }
  ~FlakyProxy() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // unblocks accept()
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int dropped() const { return dropped_; }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket client(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(client, ec);
      if (ec || stop_) return;
      boost::beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(client, buf, req, ec);
        if (ec) break;
        tcp::socket up(ioc_);
        tcp::resolver resolver(ioc_);
        asio::connect(up, resolver.resolve(host_, port_), ec);
        if (ec) break;
        req.keep_alive(false);
        http::write(up, req, ec);
        boost::beast::flat_buffer ubuf;
        http::response<http::string_body> res;
        http::read(up, ubuf, res, ec);
        if (ec) break;
        if (drop_(req.body())) {
          ++dropped_;
          break;  // closes the client connection without an answer
        }
        res.keep_alive(true);
        http::write(client, res, ec);
        if (ec) break;
      }
    }
  }

  std::function<bool(const std::string&)> drop_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::string host_, port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> dropped_{0};
  std::thread thread_;
};

class WalletTest : public test::ChainTest {
 protected:
  crypto::Address fresh_address(uint8_t tag) {
    crypto::Address a;
    a.bytes.fill(tag);
    return a;
  }
};

TEST_F(WalletTest, LostResponseIsRetriedWithoutDoubleSending) {
  int sends = 0;
  FlakyProxy proxy(anvil_->rpc_url(), [&](const std::string& body) {
    return body.find("eth_sendRawTransaction") != std::string::npos && sends++ == 0;
  });
  RpcOptions opts;
  opts.backoff = std::chrono::milliseconds(10);
  auto rpc = RpcClient::connect(proxy.url(), opts);
  ASSERT_TRUE(rpc);
  NonceManager nonces(**rpc);
  Wallet w(**rpc, nonces, anvil_->dev_keys()[1], anvil_->chain_id());
  auto to = fresh_address(0x42);
  TxRequest req;
  req.to = to;
  req.value = 1'000'000'000'000'000'000ull;
  auto rc = w.send(req);
  ASSERT_TRUE(rc) << rc.error().to_string();
  EXPECT_EQ(proxy.dropped(), 1) << "the first broadcast's answer was lost";
  EXPECT_GE(sends, 2) << "the client retried the broadcast";
  EXPECT_EQ(*rpc_->balance(to), req.value) << "paid exactly once";
  EXPECT_EQ(*rpc_->nonce(w.address(), "latest"), 1u) << "one transaction on chain";
}

TEST_F(WalletTest, ConcurrentSendersGetDistinctNonces) {
  NonceManager nonces(*rpc_);
  Wallet w(*rpc_, nonces, anvil_->dev_keys()[2], anvil_->chain_id());
  auto to = fresh_address(0x43);
  constexpr int kThreads = 6, kEach = 3;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // One wallet (and nonce manager, and connection) shared by every thread.
      for (int i = 0; i < kEach; ++i) {
        TxRequest req;
        req.to = to;
        req.value = 1000;
        req.gas_limit = 21'000;
        auto rc = w.send(req);
        if (rc) ++ok;
        else errors[t] = rc.error().to_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(ok, kThreads * kEach);
  EXPECT_EQ(*rpc_->nonce(w.address(), "latest"), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(*rpc_->balance(to), kThreads * kEach * 1000);
}

TEST_F(WalletTest, RevertAtEstimationUsesNoNonce) {
  NonceManager nonces(*rpc_);
  Wallet w(*rpc_, nonces, anvil_->dev_keys()[3], anvil_->chain_id());
  TxRequest reverting;
  reverting.data = *from_hex("0x60006000fd");  // init code: REVERT(0, 0)
  auto r = w.send(reverting);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::reverted) << r.error().to_string();
  TxRequest ok;
  ok.to = fresh_address(0x44);
  ok.value = 1;
  auto rc = w.send(ok);
  ASSERT_TRUE(rc) << rc.error().to_string();
  EXPECT_EQ(*rpc_->nonce(w.address(), "latest"), 1u);
}

TEST(RpcSlow, TimesOutWithRetriesThenSaysSo) {
  asio::io_context ioc;
  tcp::acceptor acc(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::atomic<bool> stop{false};
  std::thread server([&] {
    std::vector<tcp::socket> held;  // accept and never answer
    while (!stop) {
      tcp::socket s(ioc);
      boost::system::error_code ec;
      acc.accept(s, ec);
      if (ec) return;
      held.push_back(std::move(s));
    }
  });
  RpcOptions opts;
  opts.timeout = std::chrono::milliseconds(150);
  opts.max_attempts = 2;
  opts.backoff = std::chrono::milliseconds(10);
  auto c = RpcClient::connect("http://127.0.0.1:" + std::to_string(acc.local_endpoint().port()), opts);
  ASSERT_TRUE(c);
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*c)->block_number();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::timeout) << r.error().to_string();
  EXPECT_NE(r.error().message.find("after 2 attempts"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  stop = true;
  tcp::socket poke(ioc);
  boost::system::error_code ec;
  poke.connect(acc.local_endpoint(), ec);
  server.join();
}

}  // namespace dgrid::eth
