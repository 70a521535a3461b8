// EventFollower on a real anvil with dgrid's contracts: registry events delivered once and in
// order, the cursor survives reopening the state, confirmations, a failing handler repeats
// its range, and an RPC outage (a loopback proxy taken down and back up) is ridden out.
#include "node/follower.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "crypto/keccak.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::node {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

// A loopback TCP forwarder that can be taken down (listener and connections closed) and
// brought back on the same port: an RPC endpoint that goes away and returns.
class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target) : target_(target) { up(); }
  ~TcpProxy() { down(); }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void up() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(port_);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 16) != 0)
      throw std::runtime_error("proxy: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    stop_ = false;
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  void down() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& t : pumps_) t.join();
    pumps_.clear();
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
  }

 private:
  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = loopback(target_);
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      std::lock_guard lock(mu_);
      pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
    }
  }

  void pump(int a, int b) {
    char buf[16384];
    while (!stop_) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || ::send(p[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) closed = true;
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
};

Hash32 topic(std::string_view signature) { return crypto::keccak256(signature); }

const Hash32 kRegistered = topic("ProviderRegistered(address,string,string)");
const Hash32 kStaked = topic("Staked(address,uint256,uint256)");

// Records delivered logs; thread-safe (the follower may run on its own thread).
struct Recorder {
  std::mutex mu;
  std::vector<eth::Log> logs;
  EventFollower::Handler handler() {
    return [this](const eth::Log& l) -> Result<void> {
      std::lock_guard lock(mu);
      logs.push_back(l);
      return {};
    };
  }
  std::vector<eth::Log> snapshot() {
    std::lock_guard lock(mu);
    return logs;
  }
};

class FollowerTest : public test::DgridChainTest {
 protected:
  FollowerOptions options() const {
    FollowerOptions o;
    o.stream = "registry";
    o.addresses = {deployment_.registry};
    o.start_block = deployment_.block;
    o.min_backoff = std::chrono::milliseconds(20);
    o.max_backoff = std::chrono::milliseconds(200);
    return o;
  }

  void register_and_stake(size_t i) {
    auto r = registry().register_provider(wallet(i), "http://p" + std::to_string(i), "{}");
    ASSERT_TRUE(r) << r.error().to_string();
    auto s = registry().stake(wallet(i), token(), dusd(100));
    ASSERT_TRUE(s) << s.error().to_string();
  }

  // The (topic0, indexed provider) pairs of provider events, in delivery order.
  static std::vector<std::pair<Hash32, Address>> provider_events(const std::vector<eth::Log>& logs) {
    std::vector<std::pair<Hash32, Address>> out;
    for (const auto& l : logs) {
      if (l.topics.size() < 2 || (l.topics[0] != kRegistered && l.topics[0] != kStaked)) continue;
      Address a;
      std::copy(l.topics[1].begin() + 12, l.topics[1].end(), a.bytes.begin());
      out.emplace_back(l.topics[0], a);
    }
    return out;
  }

  static void expect_chain_order(const std::vector<eth::Log>& logs) {
    for (size_t i = 1; i < logs.size(); ++i) {
      auto prev = std::pair(logs[i - 1].block_number, logs[i - 1].log_index);
      auto cur = std::pair(logs[i].block_number, logs[i].log_index);
      EXPECT_LT(prev, cur) << "log " << i << " out of order or repeated";
    }
  }

  std::unique_ptr<NodeState> open_state() {
    auto s = NodeState::open(dir_.path());
    EXPECT_TRUE(s) << s.error().to_string();
    return s ? std::move(*s) : nullptr;
  }

  TempDir dir_;
};

TEST_F(FollowerTest, DeliversRegistryEventsOnceInOrder) {
  auto state = open_state();
  Recorder rec;
  EventFollower f(*rpc_, *state, options(), rec.handler());
  register_and_stake(1);
  register_and_stake(2);

  auto n = f.poll_once();
  ASSERT_TRUE(n) << n.error().to_string();
  auto logs = rec.snapshot();
  EXPECT_EQ(*n, logs.size());
  expect_chain_order(logs);
  for (const auto& l : logs) EXPECT_EQ(l.address, deployment_.registry);
  auto a1 = wallet(1).address(), a2 = wallet(2).address();
  EXPECT_EQ(provider_events(logs), (std::vector<std::pair<Hash32, Address>>{
                                       {kRegistered, a1}, {kStaked, a1}, {kRegistered, a2}, {kStaked, a2}}));
  EXPECT_EQ(**f.cursor(), block());

  auto again = f.poll_once();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u) << "nothing new: nothing delivered twice";
}

TEST_F(FollowerTest, SmallRangesAndConfirmations) {
  auto state = open_state();
  Recorder rec;
  auto o = options();
  o.max_range = 1;  // one block per step: many cursor steps
  o.confirmations = 3;
  EventFollower f(*rpc_, *state, o, rec.handler());
  register_and_stake(1);
  ASSERT_TRUE(f.poll_once());
  EXPECT_TRUE(provider_events(rec.snapshot()).empty()) << "events younger than 3 blocks wait";
  EXPECT_EQ(**f.cursor(), block() - 3);
  mine(3);
  ASSERT_TRUE(f.poll_once());
  EXPECT_EQ(provider_events(rec.snapshot()).size(), 2u);
  expect_chain_order(rec.snapshot());
  EXPECT_EQ(**f.cursor(), block() - 3);
}

TEST_F(FollowerTest, CursorSurvivesReopen) {
  Recorder rec;
  {
    auto state = open_state();
    EventFollower f(*rpc_, *state, options(), rec.handler());
    register_and_stake(1);
    ASSERT_TRUE(f.poll_once());
  }
  register_and_stake(2);  // while the node is "down"
  auto state = open_state();
  EventFollower f(*rpc_, *state, options(), rec.handler());
  ASSERT_TRUE(f.poll_once());
  auto logs = rec.snapshot();
  expect_chain_order(logs);  // also proves no log was delivered twice across the restart
  auto a1 = wallet(1).address(), a2 = wallet(2).address();
  EXPECT_EQ(provider_events(logs), (std::vector<std::pair<Hash32, Address>>{
                                       {kRegistered, a1}, {kStaked, a1}, {kRegistered, a2}, {kStaked, a2}}));
}

TEST_F(FollowerTest, HandlerFailureRepeatsTheRange) {
  auto state = open_state();
  register_and_stake(1);
  std::vector<eth::Log> seen;
  bool fail_staked = true;
  EventFollower f(*rpc_, *state, options(), [&](const eth::Log& l) -> Result<void> {
    if (fail_staked && l.topics.at(0) == kStaked) return fail(Errc::unavailable, "database busy");
    seen.push_back(l);
    return {};
  });
  auto r = f.poll_once();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("database busy"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("follower registry"), std::string::npos) << r.error().message;
  EXPECT_FALSE(f.cursor()->has_value()) << "the cursor must not pass an unhandled log";
  fail_staked = false;
  seen.clear();
  ASSERT_TRUE(f.poll_once());
  // At-least-once: the logs before the failure come again, then the rest.
  auto a1 = wallet(1).address();
  EXPECT_EQ(provider_events(seen), (std::vector<std::pair<Hash32, Address>>{{kRegistered, a1}, {kStaked, a1}}));
}

TEST_F(FollowerTest, RidesOutAnRpcOutage) {
  auto port = static_cast<uint16_t>(std::stoi(anvil_->rpc_url().substr(anvil_->rpc_url().rfind(':') + 1)));
  TcpProxy proxy(port);
  eth::RpcOptions ro;
  ro.max_attempts = 1;
  ro.timeout = std::chrono::milliseconds(2'000);
  auto rpc = eth::RpcClient::connect(proxy.url(), ro);
  ASSERT_TRUE(rpc) << rpc.error().to_string();
  auto state = open_state();
  Recorder rec;
  EventFollower f(**rpc, *state, options(), rec.handler());
  register_and_stake(1);
  ASSERT_TRUE(f.poll_once());
  const auto cursor_before = **f.cursor();

  proxy.down();
  register_and_stake(2);
  auto r = f.poll_once();
  ASSERT_FALSE(r) << "the RPC is unreachable";
  EXPECT_NE(r.error().message.find("follower registry"), std::string::npos) << r.error().message;
  EXPECT_EQ(**f.cursor(), cursor_before);

  // The background loop keeps retrying (with warnings) while the RPC is down...
  f.start(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(provider_events(rec.snapshot()).size(), 2u);
  // ...and catches up once it is back.
  proxy.up();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (provider_events(rec.snapshot()).size() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  f.stop();
  auto logs = rec.snapshot();
  expect_chain_order(logs);
  auto a1 = wallet(1).address(), a2 = wallet(2).address();
  EXPECT_EQ(provider_events(logs), (std::vector<std::pair<Hash32, Address>>{
                                       {kRegistered, a1}, {kStaked, a1}, {kRegistered, a2}, {kStaked, a2}}));
}

}  // namespace
}  // namespace dgrid::node
