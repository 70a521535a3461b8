#include "eth/rpc.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

#include "support/chain.hpp"

namespace dgrid::eth {

using nlohmann::json;

class RpcTest : public test::ChainTest {};

TEST_F(RpcTest, ReadsChainState) {
  EXPECT_EQ(*rpc_->chain_id(), 31337u);
  EXPECT_EQ(*rpc_->block_number(), 0u);
  const auto& dev = anvil_->dev_keys();
  ASSERT_EQ(dev.size(), 10u);
  EXPECT_EQ(dev[0].address().checksummed(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  auto bal = rpc_->balance(dev[0].address());
  ASSERT_TRUE(bal);
  EXPECT_EQ(*bal, u256("10000000000000000000000"));
  EXPECT_EQ(*rpc_->nonce(dev[0].address()), 0u);
  EXPECT_TRUE(rpc_->code(dev[0].address())->empty());
  auto fees = rpc_->suggest_fees();
  ASSERT_TRUE(fees);
  EXPECT_GT(fees->base_fee, 0);
  EXPECT_GE(fees->max_fee_per_gas, 2 * fees->base_fee);
  mine(5);
  EXPECT_EQ(*rpc_->block_number(), 5u);
  auto head = rpc_->block(std::nullopt);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->number, 5u);
  EXPECT_EQ(rpc_->block(1000).error().code, Errc::not_found);
}

TEST_F(RpcTest, RpcErrorsAreReportedNotRetried) {
  auto r = rpc_->call("eth_noSuchMethod", json::array());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::rpc);
  auto bad = rpc_->send_raw_transaction(Bytes{0x01, 0x02});
  ASSERT_FALSE(bad);
}

TEST_F(RpcTest, LogsInBoundedRanges) {
  mine(10);
  LogFilter f;
  f.from_block = 0;
  f.to_block = 10;
  auto logs = rpc_->logs(f);
  ASSERT_TRUE(logs) << logs.error().to_string();
  EXPECT_TRUE(logs->empty());
}

TEST(RpcDown, RetriesThenSaysWhatToDo) {
  // Bind and close a port so nothing listens on it.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = acc.local_endpoint().port();
  acc.close();
  RpcOptions opts;
  opts.max_attempts = 3;
  opts.backoff = std::chrono::milliseconds(10);
  auto c = RpcClient::connect("http://127.0.0.1:" + std::to_string(port), opts);
  ASSERT_TRUE(c);
  auto r = (*c)->chain_id();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("after 3 attempts"), std::string::npos) << r.error().message;
}

// A fake endpoint that answers garbage: the client must reject it with a clear error.
TEST(RpcMalformed, RejectsBadResponses) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = acc.local_endpoint().port();
  std::vector<std::string> bodies = {"not json", "[1,2]", "{\"jsonrpc\":\"2.0\",\"id\":1}",
                                     "{\"result\":\"0xzz\"}", "{\"result\":12}", "{\"result\":\"0x\"}"};
  std::thread server([&] {
    for (const auto& body : bodies) {
      boost::asio::ip::tcp::socket s(ioc);
      acc.accept(s);
      boost::asio::streambuf buf;
      boost::asio::read_until(s, buf, "\r\n\r\n");
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
      boost::asio::write(s, boost::asio::buffer(resp));
      boost::system::error_code ec;
      s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  });
  auto c = RpcClient::connect("http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(c);
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto r = (*c)->block_number();
    ASSERT_FALSE(r) << bodies[i];
    EXPECT_EQ(r.error().code, Errc::malformed) << bodies[i] << " -> " << r.error().to_string();
  }
  server.join();
}

TEST(RpcUrl, ParsesAndRejects) {
  auto u = parse_http_url("http://127.0.0.1:8545");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8545");
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(parse_http_url("http://localhost/rpc")->port, "80");
  EXPECT_EQ(parse_http_url("https://x").error().code, Errc::unsupported);
  EXPECT_FALSE(parse_http_url("ftp://x"));
  EXPECT_FALSE(parse_http_url("http://:80"));
  EXPECT_FALSE(parse_http_url("http://host:99999999"));
}

TEST(ResponseFields, StrictDecoding) {
  EXPECT_EQ(*json_u64(json("0x10"), "f"), 16u);
  EXPECT_FALSE(json_u64(json("0x"), "f"));
  EXPECT_FALSE(json_u64(json("16"), "f"));
  EXPECT_FALSE(json_u64(json(16), "f"));
  EXPECT_FALSE(json_u64(json("0x1ffffffffffffffff"), "f"));
  EXPECT_FALSE(json_hash(json("0x12"), "f"));
  EXPECT_FALSE(json_address(json("0x12"), "f"));
  json log = {{"address", "0x5fbdb2315678afecb367f032d93f642f64180aa3"}, {"topics", json::array()},
              {"data", "0x"}, {"blockNumber", "0x1"}, {"blockHash", "0x" + std::string(64, '1')},
              {"transactionHash", "0x" + std::string(64, '2')}, {"logIndex", "0x0"}};
  EXPECT_TRUE(parse_log(log));
  log["topics"] = json::array({"0x1", "0x2"});
  EXPECT_FALSE(parse_log(log));
}

}  // namespace dgrid::eth
