// The storer's HTTP side (docs/protocol.md "Storage (storer API)"): the trustless-gateway
// subset (GET/HEAD /ipfs/{cid}, Range, ?format=raw|car), the authenticated upload (CAR
// batches, then a pin checked against the deal's segment root) and the status endpoints.
// The deal keeper (storer_deals.cpp) does everything on chain.
#include "node/storer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <spanstream>
#include <thread>

#include "crypto/keystore.hpp"
#include "node/auth.hpp"
#include "node/chain.hpp"
#include "node/metrics.hpp"
#include "node/store_client.hpp"
#include "node/storer_deals.hpp"
#include "store/car.hpp"
#include "store/segments.hpp"

namespace dgrid::node {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kImmutable = "public, max-age=29030400, immutable";
constexpr std::string_view kCarType = "application/vnd.ipld.car; version=1";
constexpr std::string_view kRawType = "application/vnd.ipld.raw";

net::Response error(int status, std::string message, std::string code) {
  return net::error_response(status, std::move(message), status >= 500 ? "server_error" : "invalid_request_error",
                             std::move(code));
}

std::string_view view(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A requested byte range, resolved against the file size (RFC 9110 §14).
struct ByteRange {
  enum Kind { whole, part, unsatisfiable } kind = whole;
  uint64_t first = 0;
  uint64_t length = 0;
};

std::optional<uint64_t> digits(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n". A header we cannot use (another unit,
// bad syntax, several ranges) is ignored and the whole file is sent, as RFC 9110 allows.
ByteRange parse_range(std::string_view h, uint64_t size) {
  ByteRange r;
  r.length = size;
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  constexpr std::string_view kUnit = "bytes=";
  if (h.size() < kUnit.size() || !std::equal(kUnit.begin(), kUnit.end(), h.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      }))
    return r;
  h.remove_prefix(kUnit.size());
  if (h.find(',') != std::string_view::npos) return r;
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return r;
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {  // suffix: the last n bytes
    auto n = digits(b);
    if (!n) return r;
    if (*n == 0 || size == 0) return {ByteRange::unsatisfiable};
    uint64_t len = std::min(*n, size);
    return {ByteRange::part, size - len, len};
  }
  auto first = digits(a);
  if (!first) return r;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = digits(b);
    if (!l || *l < *first) return r;
    last = std::min(*l, last);
  }
  if (*first >= size) return {ByteRange::unsatisfiable};
  return {ByteRange::part, *first, last - *first + 1};
}

enum class Format { file, raw, car };

constexpr auto kPeerCacheFor = std::chrono::seconds(10);

}  // namespace

struct Storer::Impl {
  Impl(ChainContext& c, Registry& m, const NodeConfig& config)
      : chain(c),
        cfg(config.storer),
        served_bytes(m.counter("dgrid_storer_served_bytes_total", "Content bytes sent by GET /ipfs (files, blocks, CARs)")),
        uploaded_bytes(m.counter("dgrid_storer_uploaded_bytes_total", "Block bytes newly stored from uploads")),
        uploaded_blocks(m.counter("dgrid_storer_uploaded_blocks_total", "Blocks newly stored from uploads")),
        pins(m.counter("dgrid_storer_pins_total", "Uploads pinned after their segment root was checked")),
        pin_rejects(m.counter("dgrid_storer_pin_rejected_total", "Pins refused: incomplete DAG or segment root mismatch")),
        corrupt(m.counter("dgrid_storer_corrupt_blocks_total", "Blocks that failed verification while serving")),
        repairs(m.counter("dgrid_storer_read_repairs_total", "Objects fetched again from peers after a bad block was served")) {}

  ChainContext& chain;
  StorerConfig cfg;
  fs::path index_dir;
  std::shared_ptr<store::Blockstore> bs;  // shared: a metrics callback may outlive the storer
  std::unique_ptr<DealKeeper> deals;
  RequestVerifier verifier;
  Counter &served_bytes, &uploaded_bytes, &uploaded_blocks, &pins, &pin_rejects, &corrupt, &repairs;

  std::mutex upload_mu;
  std::map<store::Cid, uint64_t> accepted;  // bytes newly stored per deal root since start
  std::mutex pin_mu;                        // one pin check at a time (pin, hash, maybe unpin)

  // Read repair: a root whose block failed verification while being served is fetched again
  // from peer storers by one background thread (the blockstore has already quarantined the
  // bad block). The deal keeper heals challenged chunks itself; this covers the rest.
  std::mutex repair_mu;
  std::condition_variable repair_cv;
  std::deque<store::Cid> repair_queue;
  std::set<store::Cid> repair_pending;
  bool repair_stop = false;
  std::thread repair_thread;

  std::mutex peers_mu;
  std::vector<std::string> peers_cache;
  std::chrono::steady_clock::time_point peers_at;
  std::vector<std::string> peer_urls();
  void repair_loop();
  Result<void> refetch(const store::Cid& root, const std::vector<std::string>& peers);
  void queue_repair(const store::Cid& root);

  Result<store::Cid> cid_param(net::Request& q, net::ResponseWriter& w, const std::string& text);
  Result<crypto::Address> authenticate(net::Request& q, net::ResponseWriter& w);

  void handle_get(net::Request& q, net::ResponseWriter& w);
  void serve_raw(net::Request& q, net::ResponseWriter& w, const store::Cid& cid);
  void serve_car(net::Request& q, net::ResponseWriter& w, const store::Cid& cid);
  void serve_file(net::Request& q, net::ResponseWriter& w, const store::Cid& cid);
  void handle_blocks(net::Request& q, net::ResponseWriter& w);
  void handle_pin(net::Request& q, net::ResponseWriter& w);
  void handle_info(net::Request& q, net::ResponseWriter& w);
};

std::vector<std::string> Storer::Impl::peer_urls() {
  // Discovery reads every registry record: reuse a recent answer (a dead peer in it costs
  // one failed connection; fetch_dag moves on to the next).
  std::lock_guard lock(peers_mu);
  const auto now = std::chrono::steady_clock::now();
  if (!peers_cache.empty() && now - peers_at < kPeerCacheFor) return peers_cache;
  auto found = discover_storers(chain.rpc(), chain.deployment());
  if (!found) {
    spdlog::warn("storer: discovering peer storers: {}", found.error().message);
    return peers_cache;
  }
  peers_cache.clear();
  for (const auto& s : *found)
    if (s.address != chain.address()) peers_cache.push_back(s.url);
  peers_at = now;
  return peers_cache;
}

void Storer::Impl::queue_repair(const store::Cid& root) {
  std::lock_guard lock(repair_mu);
  if (repair_stop || !repair_pending.insert(root).second) return;
  repair_queue.push_back(root);
  repair_cv.notify_all();
}

Result<void> Storer::Impl::refetch(const store::Cid& root, const std::vector<std::string>& peers) {
  if (auto u = bs->unpin(root); !u) return u;
  return fetch_dag(*bs, root, peers);
}

void Storer::Impl::repair_loop() {
  std::unique_lock lock(repair_mu);
  while (true) {
    repair_cv.wait(lock, [&] { return repair_stop || !repair_queue.empty(); });
    if (repair_stop) return;
    store::Cid root = repair_queue.front();
    repair_queue.pop_front();
    lock.unlock();
    auto peers = peer_urls();
    if (peers.empty()) {
      spdlog::warn("storer: {} has a bad block and no peer storer serves it; the deal keeper retries at its next proof",
                   root.to_string());
    } else if (auto r = refetch(root, peers); !r) {
      // fetch_dag trusts a pin, hence the unpin; until a fetch succeeds the object is not
      // served (404) rather than served truncated.
      spdlog::warn("storer: repairing {} from peers failed: {}", root.to_string(), r.error().message);
    } else {
      repairs.inc();
      spdlog::info("storer: repaired {} from peers", root.to_string());
    }
    lock.lock();
    repair_pending.erase(root);
  }
}

Result<store::Cid> Storer::Impl::cid_param(net::Request&, net::ResponseWriter& w, const std::string& text) {
  auto cid = store::Cid::parse(text);
  if (!cid) {
    w.send(error(400, "malformed CID '" + text + "': " + cid.error().message, "invalid_cid"));
    return std::unexpected(cid.error());
  }
  return cid;
}

Result<crypto::Address> Storer::Impl::authenticate(net::Request& q, net::ResponseWriter& w) {
  auto h = q.header(kAuthHeader);
  if (!h) {
    w.send(error(401, "missing X-Dgrid-Auth: sign the request with the key of the deal's client", "invalid_auth"));
    return fail(Errc::permission_denied, "unauthenticated");
  }
  // The signed path is the whole request target, query included (?root= is authorized too).
  auto who = verifier.verify(*h, q.method, q.target, q.body);
  if (!who) {
    w.send(error(401, "X-Dgrid-Auth rejected: " + who.error().message, "invalid_auth"));
    return std::unexpected(who.error());
  }
  return who;
}

void Storer::Impl::handle_get(net::Request& q, net::ResponseWriter& w) {
  auto cid = cid_param(q, w, q.params["cid"]);
  if (!cid) return;
  Format f = Format::file;
  if (auto fmt = q.query_param("format")) {
    if (*fmt == "raw") f = Format::raw;
    else if (*fmt == "car") f = Format::car;
    else return (void)w.send(error(400, "unknown format '" + *fmt + "' (raw or car; none for the file's bytes)", "invalid_format"));
  } else if (auto accept = q.header("accept")) {
    if (accept->find(kRawType) != std::string_view::npos) f = Format::raw;
    else if (accept->find("application/vnd.ipld.car") != std::string_view::npos) f = Format::car;
  }
  switch (f) {
    case Format::raw: return serve_raw(q, w, *cid);
    case Format::car: return serve_car(q, w, *cid);
    case Format::file: return serve_file(q, w, *cid);
  }
}

void Storer::Impl::serve_raw(net::Request& q, net::ResponseWriter& w, const store::Cid& cid) {
  auto block = bs->get(cid);
  if (!block) {
    if (block.error().code == Errc::not_found)
      return (void)w.send(error(404, "block " + cid.to_string() + " is not stored here", "not_found"));
    if (block.error().code == Errc::malformed) {
      corrupt.inc();
      spdlog::error("storer: block {} failed verification on read: {}", cid.to_string(), block.error().message);
      return (void)w.send(error(404, "block " + cid.to_string() + " is not available here (the local copy failed verification)", "not_found"));
    }
    return (void)w.send(error(500, "reading block " + cid.to_string() + ": " + block.error().message, "internal_error"));
  }
  net::Response r{200, std::string(kRawType), {}, std::string(view(*block))};
  r.headers = {{"ETag", "\"" + cid.to_string() + ".raw\""},
               {"Cache-Control", std::string(kImmutable)},
               {"X-Ipfs-Path", "/ipfs/" + cid.to_string()},
               {"X-Content-Type-Options", "nosniff"}};
  if (q.method != "HEAD") served_bytes.inc(static_cast<double>(block->size()));
  w.send(std::move(r));
}

void Storer::Impl::serve_car(net::Request& q, net::ResponseWriter& w, const store::Cid& cid) {
  if (!bs->pinned(cid))
    return (void)w.send(error(404, cid.to_string() + " is not stored here (or not completely)", "not_found"));
  net::Headers h = {{"ETag", "\"" + cid.to_string() + ".car\""},
                    {"Cache-Control", std::string(kImmutable)},
                    {"X-Ipfs-Path", "/ipfs/" + cid.to_string()},
                    {"X-Ipfs-Roots", cid.to_string()},
                    {"X-Content-Type-Options", "nosniff"}};
  if (!w.begin_stream(200, std::string(kCarType), std::move(h))) return;
  if (q.method == "HEAD") return (void)w.end();
  auto r = store::export_car(*bs, cid, [&](ByteView piece) {
    served_bytes.inc(static_cast<double>(piece.size()));
    return w.write(view(piece));
  });
  if (!r) {
    if (w.client_gone()) return;
    // The stream ends without its last chunk: the client sees a truncated CAR and fails.
    spdlog::error("storer: CAR export of {} stopped: {}", cid.to_string(), r.error().message);
    if (r.error().code == Errc::malformed || r.error().code == Errc::not_found) {
      corrupt.inc();
      queue_repair(cid);
    }
    return;
  }
  w.end();
}

void Storer::Impl::serve_file(net::Request& q, net::ResponseWriter& w, const store::Cid& cid) {
  if (!bs->pinned(cid))
    return (void)w.send(error(404, cid.to_string() + " is not stored here (or not completely)", "not_found"));
  auto reader = store::FileReader::open(bs->getter(), cid, store::FileReader::Verify::by_getter);
  if (!reader) {
    spdlog::error("storer: opening {}: {}", cid.to_string(), reader.error().message);
    if (reader.error().code == Errc::malformed || reader.error().code == Errc::not_found) {
      corrupt.inc();
      queue_repair(cid);
    }
    return (void)w.send(error(500, "cannot read " + cid.to_string() + ": " + reader.error().message, "internal_error"));
  }
  const uint64_t size = reader->size();
  const std::string etag = "\"" + cid.to_string() + "\"";
  net::Headers h = {{"ETag", etag},
                    {"Cache-Control", std::string(kImmutable)},
                    {"Accept-Ranges", "bytes"},
                    {"X-Ipfs-Path", "/ipfs/" + cid.to_string()},
                    {"X-Content-Type-Options", "nosniff"}};
  if (auto inm = q.header("if-none-match"); inm && (*inm == etag || *inm == "*")) {
    net::Response r{304, "application/octet-stream", std::move(h), {}};
    return (void)w.send(std::move(r));
  }
  ByteRange range;
  range.length = size;
  if (auto rh = q.header("range")) range = parse_range(*rh, size);
  if (range.kind == ByteRange::unsatisfiable) {
    net::Response r = error(416, "range not satisfiable: " + cid.to_string() + " has " + std::to_string(size) + " bytes",
                            "range_not_satisfiable");
    r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return (void)w.send(std::move(r));
  }
  int status = 200;
  if (range.kind == ByteRange::part) {
    status = 206;
    h.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.first + range.length - 1) + "/" + std::to_string(size));
  }
  if (!w.begin_sized(status, "application/octet-stream", std::move(h), range.length)) return;
  if (q.method == "HEAD") return (void)w.end();
  auto r = reader->read(range.first, range.length, [&](ByteView piece) {
    served_bytes.inc(static_cast<double>(piece.size()));
    return w.write(view(piece));
  });
  if (!r) {
    // Content-Length was promised: closing short makes the client fail instead of
    // accepting wrong or missing bytes.
    spdlog::error("storer: serving {} stopped: {}", cid.to_string(), r.error().message);
    if (r.error().code == Errc::malformed || r.error().code == Errc::not_found) {
      corrupt.inc();
      queue_repair(cid);
    }
    return;
  }
  w.end();
}

void Storer::Impl::handle_blocks(net::Request& q, net::ResponseWriter& w) {
  auto root_text = q.query_param("root");
  if (!root_text || root_text->empty())
    return (void)w.send(error(400, "missing ?root=<cid>: the deal's content id these blocks belong to", "invalid_request"));
  auto root = cid_param(q, w, *root_text);
  if (!root) return;
  auto who = authenticate(q, w);
  if (!who) return;
  auto deal = deals->deal_for(*root, *who);
  if (!deal)
    return (void)w.send(error(403, who->checksummed() + " has no deal for " + root->to_string() +
                                       " on StorageMarket: open the deal first (dgrid store put does), then upload",
                              "no_deal"));
  // The DAG adds ~40 bytes per MiB chunk over the file; allow generous slack, not more.
  const uint64_t limit = deal->size + deal->size / 1000 + (1u << 20);

  std::ispanstream in(std::span<const char>(q.body.data(), q.body.size()));
  auto car = store::CarReader::open(in);
  if (!car) return (void)w.send(error(400, "malformed CAR: " + car.error().message, "invalid_car"));
  uint64_t blocks = 0, bytes = 0, stored = 0, stored_bytes = 0;
  while (true) {
    auto next = car->next();
    if (!next) return (void)w.send(error(400, "malformed CAR: " + next.error().message, "invalid_car"));
    if (!*next) break;
    const auto& b = **next;
    if (b.cid.codec() != store::Codec::raw && b.cid.codec() != store::Codec::dag_pb)
      return (void)w.send(error(400, "block " + b.cid.to_string() + " is neither raw nor dag-pb: not part of a UnixFS file",
                                "invalid_car"));
    ++blocks;
    bytes += b.data.size();
    if (bs->has(b.cid)) continue;
    {
      std::lock_guard lock(upload_mu);
      uint64_t& used = accepted[*root];
      if (used + b.data.size() > limit)
        return (void)w.send(error(413, "uploads for " + root->to_string() + " exceed what its deal of " +
                                           std::to_string(deal->size) + " bytes can need (" + std::to_string(limit) +
                                           " bytes of blocks)",
                                  "upload_too_large"));
      used += b.data.size();
    }
    if (auto put = bs->put_trusted(b.cid, b.data); !put) {  // CarReader verified it
      {
        std::lock_guard lock(upload_mu);
        accepted[*root] -= b.data.size();
      }
      if (put.error().code == Errc::failed_precondition || put.error().code == Errc::io)
        return (void)w.send(error(507, "cannot store block " + b.cid.to_string() + ": " + put.error().message, "storage_full"));
      return (void)w.send(error(400, "block " + b.cid.to_string() + " refused: " + put.error().message, "invalid_block"));
    }
    ++stored;
    stored_bytes += b.data.size();
    uploaded_blocks.inc();
    uploaded_bytes.inc(static_cast<double>(b.data.size()));
  }
  w.send(net::json_response(200, {{"blocks", blocks}, {"bytes", bytes}, {"stored", stored}, {"stored_bytes", stored_bytes}}));
}

void Storer::Impl::handle_pin(net::Request& q, net::ResponseWriter& w) {
  auto cid = cid_param(q, w, q.params["cid"]);
  if (!cid) return;
  auto who = authenticate(q, w);
  if (!who) return;
  auto deal = deals->deal_for(*cid, *who);
  if (!deal)
    return (void)w.send(error(403, who->checksummed() + " has no deal for " + cid->to_string() +
                                       " on StorageMarket: open the deal first, then upload and pin",
                              "no_deal"));
  std::lock_guard lock(pin_mu);
  const bool was_pinned = bs->pinned(*cid);
  if (!was_pinned) {
    if (auto p = bs->pin(*cid); !p) {
      pin_rejects.inc();
      if (p.error().code == Errc::not_found || p.error().code == Errc::malformed)
        return (void)w.send(error(409, "cannot pin " + cid->to_string() + ": the DAG is incomplete: " + p.error().message,
                                  "incomplete"));
      return (void)w.send(error(500, "pinning " + cid->to_string() + ": " + p.error().message, "internal_error"));
    }
  }
  // A client lying about the segment root must not make us claim a slot we can never prove.
  auto undo = [&] {
    if (!was_pinned)
      if (auto u = bs->unpin(*cid); !u) spdlog::error("storer: unpinning {}: {}", cid->to_string(), u.error().message);
  };
  const fs::path index_file = index_dir / (cid->to_string() + ".dgsi");
  store::SegmentIndex index;
  bool have_index = false;
  if (std::ifstream in{index_file, std::ios::binary}) {
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (auto ix = store::SegmentIndex::deserialize(bytes)) index = std::move(*ix), have_index = true;
  }
  if (!have_index) {
    auto reader = store::FileReader::open(bs->getter(), *cid, store::FileReader::Verify::by_getter);
    store::SegmentHasher hasher;
    Result<void> hashed;
    if (!reader) {
      hashed = std::unexpected(reader.error());
    } else if (reader->size() != deal->size) {
      // Checked before reading: a small DAG repeating one link can claim an absurd size.
      hashed = fail(Errc::malformed, "it holds " + std::to_string(reader->size()) + " bytes but the deal is for " +
                                         std::to_string(deal->size));
    } else {
      hashed = reader->read(0, reader->size(), [&](ByteView piece) {
        hasher.update(piece);
        return true;
      });
    }
    if (!hashed) {
      undo();
      pin_rejects.inc();
      return (void)w.send(error(422, "cannot read " + cid->to_string() + " as a UnixFS file: " + hashed.error().message,
                                "not_a_file"));
    }
    index = hasher.finish();
  }
  if (index.root() != deal->segment_root || index.size() != deal->size) {
    undo();
    pin_rejects.inc();
    return (void)w.send(error(422, "the content of " + cid->to_string() + " (" + std::to_string(index.size()) +
                                       " bytes, segment root " + to_hex(index.root()) + ") does not match deal " +
                                       std::to_string(deal->id) + " (" + std::to_string(deal->size) +
                                       " bytes, segment root " + to_hex(deal->segment_root) + "): not pinned",
                              "segment_root_mismatch"));
  }
  if (!have_index) {
    Bytes ser = index.serialize();
    if (auto wr = crypto::write_file_atomic(index_file, view(ser), 0644); !wr) {
      undo();
      return (void)w.send(error(500, "writing the segment index of " + cid->to_string() + ": " + wr.error().message,
                                "internal_error"));
    }
  }
  deals->on_pinned(*cid);
  pins.inc();
  spdlog::info("storer: pinned {} ({} bytes) for deal {} of {}", cid->to_string(), index.size(), deal->id,
               who->checksummed());
  w.send(net::json_response(200, {{"cid", cid->to_string()}, {"size", index.size()}, {"deal", deal->id}, {"pinned", true}}));
}

void Storer::Impl::handle_info(net::Request&, net::ResponseWriter& w) {
  w.send(net::json_response(200, {{"address", chain.address().checksummed()},
                                  {"capacity", cfg.capacity_bytes},
                                  {"used", bs->used_bytes()},
                                  {"objects", bs->pins().size()},
                                  {"max_object_bytes", cfg.max_object_bytes},
                                  {"max_upload_batch", cfg.max_upload_batch}}));
}

// ------------------------------------------------------------------ Storer

Result<std::unique_ptr<Storer>> Storer::create(ChainContext& chain, NodeState& state, Registry& metrics,
                                               const NodeConfig& config) {
  std::unique_ptr<Storer> s(new Storer());
  s->impl_ = std::make_unique<Impl>(chain, metrics, config);
  Impl& im = *s->impl_;
  const fs::path dir = config.data_dir / "store";
  im.index_dir = dir / "index";
  std::error_code ec;
  fs::create_directories(im.index_dir, ec);
  if (ec) return fail(Errc::io, "cannot create " + im.index_dir.string() + ": " + ec.message());
  store::BlockstoreOptions bo;
  bo.capacity_bytes = config.storer.capacity_bytes;
  auto bs = store::Blockstore::open(dir, bo);
  if (!bs) return fail(bs.error().code, "blockstore in " + dir.string() + ": " + bs.error().message);
  im.bs = std::move(*bs);
  metrics.gauge_callback("dgrid_storer_stored_bytes", "Bytes of blocks in the blockstore",
                         [weak = std::weak_ptr<store::Blockstore>(im.bs)] {
                           auto b = weak.lock();
                           return b ? static_cast<double>(b->used_bytes()) : 0.0;
                         });

  DealKeeperOptions o;
  o.index_dir = im.index_dir;
  o.capacity_bytes = config.storer.capacity_bytes;
  o.min_endowment_per_gib = config.storer.min_endowment_per_gib;
  o.max_object_bytes = config.storer.max_object_bytes;
  o.claim = config.storer.claim;
  o.watch = config.storer.watch;
  o.repair = config.storer.repair;
  o.poll_interval = config.chain.poll_interval;
  Impl* raw = &im;
  im.deals = std::make_unique<DealKeeper>(chain, state, metrics, *im.bs, o, [raw] { return raw->peer_urls(); });
  im.repair_thread = std::thread([raw] { raw->repair_loop(); });
  return s;
}

Storer::~Storer() {
  if (!impl_) return;
  stop();
  {
    std::lock_guard lock(impl_->repair_mu);
    impl_->repair_stop = true;
  }
  impl_->repair_cv.notify_all();
  if (impl_->repair_thread.joinable()) impl_->repair_thread.join();
}

void Storer::add_routes(net::Router& r) {
  Impl* im = impl_.get();
  r.add("GET", "/ipfs/{cid}", [im](net::Request& q, net::ResponseWriter& w) { im->handle_get(q, w); });
  r.add("HEAD", "/ipfs/{cid}", [im](net::Request& q, net::ResponseWriter& w) { im->handle_get(q, w); });
  r.add("POST", "/dgrid/v1/store/blocks", [im](net::Request& q, net::ResponseWriter& w) { im->handle_blocks(q, w); });
  r.add("POST", "/dgrid/v1/store/pins/{cid}", [im](net::Request& q, net::ResponseWriter& w) { im->handle_pin(q, w); });
  r.add("GET", "/dgrid/v1/store/deals",
        [im](net::Request&, net::ResponseWriter& w) { w.send(net::json_response(200, im->deals->status_json())); });
  r.add("GET", "/dgrid/v1/store/info", [im](net::Request& q, net::ResponseWriter& w) { im->handle_info(q, w); });
}

Result<void> Storer::start(const std::string& public_url) {
  spdlog::info("storer: serving at {} from {}", public_url, impl_->bs->dir().string());
  impl_->deals->start();
  return {};
}

void Storer::stop() { impl_->deals->stop(); }

store::Blockstore& Storer::blockstore() noexcept { return *impl_->bs; }
DealKeeper& Storer::deals() noexcept { return *impl_->deals; }

}  // namespace dgrid::node
