// Server-sent events (text/event-stream): the `data:` framing the OpenAI streaming API uses,
// and an incremental parser for the receiving side.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dgrid::net {

// "data: <json>\n\n". A payload with line breaks becomes one `data:` line per line, which a
// receiver joins back with "\n".
std::string sse_data(std::string_view json);

// Feeds arbitrary slices of an event stream and reports each event's data (its `data:` lines
// joined by "\n"). Handles events split across reads, LF / CRLF / CR line ends (also a CRLF
// split between reads), comments (":..."), the optional space after the colon, and ignores
// other fields (event, id, retry) and events without data. Not thread-safe.
class SseParser {
 public:
  // An event or line larger than max_event_bytes stops the parser (see overflowed()): a
  // misbehaving upstream must not grow our memory without bound.
  explicit SseParser(size_t max_event_bytes = 16u << 20) : max_(max_event_bytes) {}

  void feed(std::string_view bytes, const std::function<void(std::string_view data)>& on_event);
  // True once an event exceeded the limit; later input is ignored.
  bool overflowed() const noexcept { return overflowed_; }

 private:
  void line(std::string_view l, const std::function<void(std::string_view)>& on_event);

  size_t max_;
  std::string line_;  // the current unfinished line
  std::string data_;  // data lines of the current event, each followed by '\n'
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was CR: a following LF belongs to it
  bool overflowed_ = false;
};

}  // namespace dgrid::net
