// SSE framing and the incremental parser's edge cases.
#include "net/sse.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dgrid::net {
namespace {

std::vector<std::string> parse_in_pieces(std::string_view stream, size_t piece) {
  SseParser p;
  std::vector<std::string> events;
  for (size_t i = 0; i < stream.size(); i += piece)
    p.feed(stream.substr(i, piece), [&](std::string_view d) { events.emplace_back(d); });
  return events;
}

TEST(Sse, DataFraming) {
  EXPECT_EQ(sse_data(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_data("[DONE]"), "data: [DONE]\n\n");
  EXPECT_EQ(sse_data("a\nb\r\nc"), "data: a\ndata: b\ndata: c\n\n");
  EXPECT_EQ(sse_data(""), "data: \n\n");
}

TEST(Sse, RoundTripInEveryPieceSize) {
  std::string stream = sse_data(R"({"x":"y"})") + sse_data("two\nlines") + sse_data("[DONE]");
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    auto events = parse_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 3u) << "piece " << piece;
    EXPECT_EQ(events[0], R"({"x":"y"})");
    EXPECT_EQ(events[1], "two\nlines");
    EXPECT_EQ(events[2], "[DONE]");
  }
}

TEST(Sse, LineEndingsCommentsAndFields) {
  std::string stream =
      ": keep-alive comment\r\n\r\n"    // a comment alone is no event
      "event: message\r\nid: 7\r\nretry: 10\r\ndata:no-space\r\n\r\n"
      "data:  two spaces\r\rdata: cr only\r\r"
      "data\n\n"                         // a field name alone: empty data
      "id: 8\n\n"                        // no data: no event
      "data: a\ndata: b\n\n"
      "data: unterminated";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, stream.size()}) {
    auto events = parse_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 5u) << "piece " << piece;
    EXPECT_EQ(events[0], "no-space");
    EXPECT_EQ(events[1], " two spaces");  // only one leading space is dropped
    EXPECT_EQ(events[2], "cr only");
    EXPECT_EQ(events[3], "");
    EXPECT_EQ(events[4], "a\nb");
  }
}

TEST(Sse, CrlfSplitAcrossFeedsIsOneLineEnd) {
  SseParser p;
  std::vector<std::string> events;
  auto on = [&](std::string_view d) { events.emplace_back(d); };
  p.feed("data: x\r", on);
  p.feed("\n\r", on);
  p.feed("\n", on);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "x");
}

TEST(Sse, OversizedEventStopsTheParser) {
  SseParser p(16);
  std::vector<std::string> events;
  auto on = [&](std::string_view d) { events.emplace_back(d); };
  p.feed("data: small\n\n", on);
  EXPECT_FALSE(p.overflowed());
  p.feed("data: " + std::string(64, 'x'), on);
  EXPECT_TRUE(p.overflowed());
  p.feed("\n\ndata: later\n\n", on);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "small");
}

}  // namespace
}  // namespace dgrid::net
