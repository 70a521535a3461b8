// The client side of dgrid storage: storer discovery from ProviderRegistry, DAG fetches over
// the trustless-gateway CAR endpoint (streamed, every block verified and checked to belong
// to the requested DAG), and uploads of a file as CAR batches to a storer.
#include "node/store_client.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <istream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <streambuf>
#include <thread>
#include <unordered_set>

#include "net/http_client.hpp"
#include "node/auth.hpp"
#include "store/car.hpp"

namespace dgrid::node {

namespace fs = std::filesystem;

namespace {

constexpr size_t kPageSize = 100;                  // providersPage batch
constexpr size_t kPipeBytes = 8u << 20;            // CAR bytes buffered between HTTP and parser
constexpr size_t kDefaultBatch = 32u << 20;        // CAR batch per upload request
constexpr auto kDealWait = std::chrono::seconds(30);  // a storer may not have seen a fresh deal yet

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string_view view(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// "HTTP 403: <message>" from an error body in the {"error":{"message"}} shape, else its start.
std::string http_error(const net::ClientResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  std::string msg;
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string())
    msg = j["error"]["message"].get<std::string>();
  else
    msg = r.body.substr(0, 300);
  return "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : ": " + msg);
}

std::string error_code(const net::ClientResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("code") &&
      j["error"]["code"].is_string())
    return j["error"]["code"].get<std::string>();
  return {};
}

// A bounded byte pipe between the thread that receives an HTTP body (push) and an istream
// that CarReader pulls from (underflow blocks until bytes arrive or the body ended).
class BodyPipe : public std::streambuf {
 public:
  // Producer side: false once the reader abandoned the pipe.
  bool push(std::string_view data) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return abandoned_ || buffered_ < kPipeBytes; });
    if (abandoned_) return false;
    chunks_.emplace_back(data);
    buffered_ += data.size();
    cv_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // Reader side: stop the producer (its next push returns false).
  void abandon() {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    cv_.notify_all();
  }

 protected:
  int_type underflow() override {
    std::unique_lock lock(mu_);
    if (!current_.empty()) {
      buffered_ -= current_.size();
      current_.clear();
      cv_.notify_all();
    }
    cv_.wait(lock, [&] { return !chunks_.empty() || closed_ || abandoned_; });
    if (chunks_.empty()) return traits_type::eof();
    current_ = std::move(chunks_.front());
    chunks_.pop_front();
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  std::string current_;
  size_t buffered_ = 0;  // chunks_ plus current_
  bool closed_ = false, abandoned_ = false;
};

// File size of `root` at `base` (HEAD /ipfs/{root}); errors say why the source is unusable.
Result<uint64_t> remote_size(net::HttpClient& http, const std::string& base, const store::Cid& root) {
  net::ClientRequest rq;
  rq.method = "HEAD";
  rq.url = base + "/ipfs/" + root.to_string();
  rq.timeout = std::chrono::seconds(30);
  auto r = http.request(rq);
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) return fail(r->status == 404 ? Errc::not_found : Errc::unavailable, "HEAD answered HTTP " + std::to_string(r->status));
  auto len = r->header("content-length");
  uint64_t n = 0;
  if (!len || std::from_chars(len->data(), len->data() + len->size(), n).ec != std::errc())
    return fail(Errc::malformed, "HEAD answered without a Content-Length");
  return n;
}

// One source: streams its CAR of `root` into `bs`. Blocks must arrive in the order a DAG walk
// gives them (trustless-gateway CARs are depth-first): each one must be linked from a block
// already received, so a source can neither send unrelated data nor make us store more than
// the DAG. Pinning is the caller's job.
Result<void> fetch_from(net::HttpClient& http, store::Blockstore& bs, const store::Cid& root, const std::string& base,
                        const TransferProgress& progress) {
  auto size = remote_size(http, base, root);
  if (!size) return std::unexpected(size.error());

  BodyPipe pipe;
  Result<net::ClientResponse> head = fail(Errc::internal, "no response");
  int status = 0;
  std::string error_body;
  // Declared before the guard: the producer thread uses them until it is joined.
  std::thread producer;
  struct JoinGuard {
    BodyPipe& pipe;
    std::thread& t;
    ~JoinGuard() {
      pipe.abandon();
      if (t.joinable()) t.join();
    }
  } guard{pipe, producer};
  producer = std::thread([&] {
    net::ClientRequest rq;
    rq.url = base + "/ipfs/" + root.to_string() + "?format=car";
    rq.headers = {{"Accept", "application/vnd.ipld.car"}};
    // The client's deadline covers the whole transfer: allow 1 MiB/s at least.
    rq.timeout = std::chrono::seconds(120) + std::chrono::seconds(*size >> 20);
    head = http.request_stream(
        rq, [&](const net::ClientResponse& h) { status = h.status; },
        [&](std::string_view piece) {
          if (status != 200) {
            if (error_body.size() < 4096) error_body.append(piece);
            return true;
          }
          return pipe.push(piece);
        });
    pipe.close();
  });

  Result<void> parsed;
  {
    std::istream in(&pipe);
    auto car = store::CarReader::open(in);
    if (!car) {
      parsed = std::unexpected(car.error());
    } else if (std::find(car->roots().begin(), car->roots().end(), root) == car->roots().end()) {
      parsed = fail(Errc::malformed, "the CAR's roots do not name " + root.to_string());
    } else {
      std::unordered_set<store::Cid> expected{root};
      uint64_t done = 0;
      while (true) {
        auto next = car->next();
        if (!next) {
          parsed = std::unexpected(next.error());
          break;
        }
        if (!*next) break;
        const auto& b = **next;
        if (expected.erase(b.cid) == 0) {
          parsed = fail(Errc::malformed, "block " + b.cid.to_string() + " is not part of the DAG of " + root.to_string() +
                                             " (or arrived before the node linking it)");
          break;
        }
        if (b.cid.codec() == store::Codec::dag_pb) {
          auto node = store::decode_pb(b.data);
          if (!node) {
            parsed = fail(Errc::malformed, "block " + b.cid.to_string() + ": " + node.error().message);
            break;
          }
          for (const auto& l : node->links) expected.insert(l.hash);
        } else if (b.cid.codec() == store::Codec::raw) {
          done += b.data.size();
        } else {
          parsed = fail(Errc::malformed, "block " + b.cid.to_string() + " is neither raw nor dag-pb");
          break;
        }
        if (!bs.has(b.cid)) {
          if (auto p = bs.put_trusted(b.cid, b.data); !p) {  // CarReader verified it
            parsed = std::unexpected(p.error());
            break;
          }
        }
        if (progress) progress(done, *size);
      }
    }
  }
  pipe.abandon();
  producer.join();
  if (status != 0 && status != 200) {
    net::ClientResponse r;
    r.status = status;
    r.body = std::move(error_body);
    return fail(Errc::unavailable, "GET ?format=car answered " + http_error(r));
  }
  // A transport failure (the reader abandoning the pipe is not one) explains a truncated CAR.
  if (!parsed && !head) return fail(parsed.error().code, parsed.error().message + " (" + head.error().message + ")");
  if (!parsed) return parsed;
  if (!head) return std::unexpected(head.error());
  return {};
}

// POST with X-Dgrid-Auth over the exact target; a fresh deal the storer has not seen yet
// (403 no_deal) is retried for a while.
Result<net::ClientResponse> post_signed(net::HttpClient& http, const std::string& url, std::string body,
                                        const crypto::PrivateKey& key, std::chrono::milliseconds timeout) {
  auto parsed = net::parse_url(url);
  if (!parsed) return std::unexpected(parsed.error());
  const auto give_up = std::chrono::steady_clock::now() + kDealWait;
  while (true) {
    net::ClientRequest rq;
    rq.method = "POST";
    rq.url = url;
    rq.content_type = "application/vnd.ipld.car";
    rq.headers = {{"X-Dgrid-Auth", sign_request(key, "POST", parsed->target, body)}};
    rq.body = body;
    rq.timeout = timeout;
    auto r = http.request(rq);
    if (!r) return r;
    if (r->status == 403 && error_code(*r) == "no_deal" && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    return r;
  }
}

}  // namespace

Result<std::vector<StorerEndpoint>> discover_storers(eth::RpcClient& rpc, const eth::Deployment& d) {
  auto reg = eth::RegistryClient::at(rpc, d.registry);
  if (!reg) return std::unexpected(reg.error());
  auto count_r = reg->contract().call("providerCount", {});
  if (!count_r) return fail(count_r.error().code, "providerCount: " + count_r.error().message);
  if (count_r->values.empty()) return fail(Errc::malformed, "providerCount returned nothing");
  auto count = count_r->values[0].as_u64();
  if (!count) return fail(Errc::malformed, "providerCount: " + count.error().message);
  std::vector<StorerEndpoint> out;
  for (uint64_t offset = 0; offset < *count; offset += kPageSize) {
    auto page = reg->contract().call("providersPage", {eth::abi::Value::uint(offset), eth::abi::Value::uint(kPageSize)});
    if (!page) return fail(page.error().code, "providersPage: " + page.error().message);
    const auto* items = page->values.empty() ? nullptr : page->values[0].items();
    if (!items) return fail(Errc::malformed, "providersPage returned an unexpected shape");
    for (const auto& item : *items) {
      auto who = item.as_address();
      if (!who) return fail(Errc::malformed, "providersPage: " + who.error().message);
      auto info = reg->provider(*who);
      if (!info) return fail(info.error().code, "registry record of " + who->checksummed() + ": " + info.error().message);
      if (!info->registered || !info->active) continue;
      auto meta = nlohmann::json::parse(info->metadata, nullptr, false);
      if (!meta.is_object() || !meta.contains("storage") || !meta["storage"].is_string()) continue;
      std::string url = trim_slash(meta["storage"].get<std::string>());
      if (auto u = net::parse_url(url); !u) {
        spdlog::debug("storers: {} advertises an unusable storage URL: {}", who->checksummed(), u.error().message);
        continue;
      }
      out.push_back({*who, std::move(url)});
    }
  }
  return out;
}

Result<void> fetch_dag(store::Blockstore& bs, const store::Cid& root, const std::vector<std::string>& source_urls,
                       const TransferProgress& progress) {
  if (bs.pinned(root)) return {};
  if (bs.has(root) && bs.pin(root)) return {};  // every block already here
  net::HttpClient http;
  std::string failures;
  for (const auto& raw : source_urls) {
    const std::string base = trim_slash(raw);
    auto r = fetch_from(http, bs, root, base, progress);
    if (r) r = bs.pin(root);
    if (r) return {};
    spdlog::warn("fetch {}: source {} failed: {}", root.to_string(), base, r.error().message);
    failures += (failures.empty() ? "" : "; ") + base + ": " + r.error().message;
  }
  if (source_urls.empty()) return fail(Errc::unavailable, "no source to fetch " + root.to_string() + " from");
  return fail(Errc::unavailable, "no source could serve " + root.to_string() + ": " + failures);
}

Result<void> upload_file(const fs::path& file, const store::Cid& root, const std::string& storer_url,
                         const crypto::PrivateKey& key, const TransferProgress& progress) {
  const std::string base = trim_slash(storer_url);
  std::error_code ec;
  const uint64_t total = fs::file_size(file, ec);
  if (ec) return fail(Errc::io, "cannot read " + file.string() + ": " + ec.message());
  net::HttpClient http;
  const auto pin_timeout = std::chrono::minutes(5) + std::chrono::seconds(total >> 24);

  // Already stored and pinned (an earlier upload, or another deal for the same bytes): only
  // the pin call is needed, which checks this deal's segment root.
  net::ClientRequest head;
  head.method = "HEAD";
  head.url = base + "/ipfs/" + root.to_string();
  auto h = http.request(head);
  if (!h) return fail(h.error().code, "storer " + base + ": " + h.error().message);
  if (h->status != 200) {
    size_t batch_limit = kDefaultBatch;
    net::ClientRequest info;
    info.url = base + "/dgrid/v1/store/info";
    if (auto ir = http.request(info); ir && ir->status == 200) {
      auto j = nlohmann::json::parse(ir->body, nullptr, false);
      if (j.is_object() && j.contains("max_upload_batch") && j["max_upload_batch"].is_number_unsigned()) {
        uint64_t m = j["max_upload_batch"].get<uint64_t>();
        if (m > (1u << 20)) batch_limit = std::min<uint64_t>(batch_limit, m - (256u << 10));
      }
    }
    const std::string blocks_url = base + "/dgrid/v1/store/blocks?root=" + root.to_string();
    const std::string car_header(view(store::encode_car_header({root})));
    std::string batch = car_header;
    uint64_t read = 0;
    auto flush = [&]() -> Result<void> {
      if (batch.size() == car_header.size()) return {};
      auto r = post_signed(http, blocks_url, std::move(batch), key, std::chrono::minutes(10));
      batch = car_header;
      if (!r) return fail(r.error().code, "uploading blocks to " + base + ": " + r.error().message);
      if (r->status != 200) return fail(Errc::unavailable, "storer " + base + " refused blocks: " + http_error(*r));
      if (progress) progress(read, total);
      return {};
    };
    store::FileImporter importer([&](const store::Cid& cid, ByteView block) -> Result<void> {
      Bytes section = store::encode_car_section(cid, block);
      if (batch.size() + section.size() > batch_limit)
        if (auto f = flush(); !f) return f;
      batch.append(view(section));
      return {};
    });
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(Errc::io, "cannot open " + file.string());
    std::vector<char> buf(store::kChunkSize);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      read += n;
      if (auto u = importer.update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), n)); !u) return std::unexpected(u.error());
    }
    if (in.bad()) return fail(Errc::io, "error reading " + file.string());
    auto done = importer.finish();
    if (!done) return std::unexpected(done.error());
    if (done->root != root)
      return fail(Errc::invalid_argument, file.string() + " has CID " + done->root.to_string() + ", not " + root.to_string() +
                                              " (the file changed since its CID was computed?)");
    if (auto f = flush(); !f) return f;
  }
  if (progress) progress(total, total);

  auto pin = post_signed(http, base + "/dgrid/v1/store/pins/" + root.to_string(), "", key, pin_timeout);
  if (!pin) return fail(pin.error().code, "pinning at " + base + ": " + pin.error().message);
  if (pin->status != 200) return fail(Errc::failed_precondition, "storer " + base + " refused the pin: " + http_error(*pin));
  return {};
}

}  // namespace dgrid::node
