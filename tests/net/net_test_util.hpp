// Helpers for the net tests: a raw loopback socket for bytes no well-behaved client sends,
// and a one-shot gate for handlers that must wait on the test.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <mutex>
#include <string>

namespace dgrid::net::test {

// A blocking socket whose reads give up after 5 s, so a server bug fails the test
// instead of hanging it.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : sock_(ioc_) {
    sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(std::string_view bytes) { boost::asio::write(sock_, boost::asio::buffer(bytes.data(), bytes.size())); }
  // Everything until the server closes (or the 5 s read timeout).
  std::string read_all() {
    std::string out;
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(sock_.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until `marker` has been seen (or EOF / timeout).
  std::string read_until(std::string_view marker) {
    std::string out;
    char c;
    while (out.find(marker) == std::string::npos) {
      ssize_t n = ::recv(sock_.native_handle(), &c, 1, 0);
      if (n <= 0) break;
      out.push_back(c);
    }
    return out;
  }
  void close() { sock_.close(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket sock_;
};

// open() once; wait() blocks until then (or 10 s, returning false so tests fail, not hang).
class Gate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard lock(mu_);
    return open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace dgrid::net::test
