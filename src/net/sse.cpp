// Server-sent events framing and parsing (WHATWG HTML, "event stream interpretation").
#include "net/sse.hpp"

namespace dgrid::net {

std::string sse_data(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  while (true) {
    size_t nl = json.find_first_of("\r\n");
    out += "data: ";
    out += json.substr(0, nl);
    out += '\n';
    if (nl == std::string_view::npos) break;
    size_t skip = json.substr(nl, 2) == "\r\n" ? 2 : 1;
    json.remove_prefix(nl + skip);
  }
  out += '\n';
  return out;
}

void SseParser::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_event) {
  for (size_t i = 0; i < bytes.size() && !overflowed_;) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes[i] == '\n') {
        ++i;
        continue;
      }
    }
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      line_.append(bytes.substr(i));
      if (line_.size() + data_.size() > max_) overflowed_ = true;
      return;
    }
    line_.append(bytes.substr(i, end - i));
    after_cr_ = bytes[end] == '\r';
    i = end + 1;
    if (line_.size() + data_.size() > max_) {
      overflowed_ = true;
      return;
    }
    std::string l = std::move(line_);
    line_.clear();
    line(l, on_event);
  }
}

void SseParser::line(std::string_view l, const std::function<void(std::string_view)>& on_event) {
  if (l.empty()) {
    // Blank line: dispatch. The spec drops the data's last "\n" and skips empty events.
    if (has_data_) {
      data_.pop_back();
      std::string event = std::move(data_);
      data_.clear();
      has_data_ = false;
      on_event(event);
    }
    return;
  }
  if (l.front() == ':') return;  // comment (keep-alive pings)
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
  if (value.starts_with(' ')) value.remove_prefix(1);
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
  }
}

}  // namespace dgrid::net
