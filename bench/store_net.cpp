// Storage benchmarks over the network and the chain (issue 5), each beside a baseline
// measured in the same run:
//
//   retrieval  a file of N MiB imported into a real node::Storer (its blockstore, its HTTP
//              routes on a loopback HttpServer, its ChainContext on anvil) and read back:
//              GET /ipfs/{cid} streamed by net::HttpClient (1 client, N at once, and curl
//              as another client), GET ?format=car, node::fetch_file (what `dgrid store get`
//              runs: block by block, every block verified, written to a file), and GET with
//              the page cache dropped. Beside them, what the storer does without HTTP:
//              SHA-256 of the bytes, Blockstore::get of every block, FileReader, export_car.
//              Baseline: read() of the original file in 1 MiB pieces with the page cache
//              warm (`cat FILE >/dev/null` beside it); for the cold row, a cold read().
//   gas        proveStorage on StorageMarket for deals of several sizes, one proof per epoch
//              for several epochs: gas per verified challenge against the segment count,
//              proof bytes, and verifySegment alone, against one ERC-20 transfer in the same
//              run (reportMissedProof, claimSlot and openDeal beside it). Small sizes are
//              real files in a Blockstore proven with prove_segment; the retrieval file is
//              proven from the storer's own store; sizes above --real-max-mib are synthetic
//              (every 1 MiB chunk the same bytes, so the SegmentIndex is cheap to build for a
//              TiB) and their proofs verify on chain all the same.
//
// Usage: bench_store_net [--json] [--only retrieval,gas] [--size-mib N] [--clients N]
//                        [--gas-sizes-mib 1,64,1024,1048576] [--epochs N] [--real-max-mib N]
//                        [--dir DIR]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "crypto/merkle.hpp"
#include "crypto/sha256.hpp"
#include "eth/anvil.hpp"
#include "eth/bindings.hpp"
#include "eth/devnet.hpp"
#include "eth/nonce_manager.hpp"
#include "eth/rpc.hpp"
#include "eth/wallet.hpp"
#include "harness.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "node/chain.hpp"
#include "node/config.hpp"
#include "node/metrics.hpp"
#include "node/state.hpp"
#include "node/store_client.hpp"
#include "node/storer.hpp"
#include "store/blockstore.hpp"
#include "store/car.hpp"
#include "store/segments.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace dgrid;
using bench::Row;
using bench::sink;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;
constexpr double kMiBd = 1 << 20;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class... A>
void say(const char* fmt, A... a) {
  std::fprintf(stderr, fmt, a...);
  std::fputc('\n', stderr);
}

using dgrid::bench::die;
using dgrid::bench::must;

std::string fmt(const char* f, double v) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// "1 MiB", "64 MiB", "1 GiB", "1 TiB".
std::string size_name(uint64_t mib) {
  if (mib >= (1u << 20) && mib % (1u << 20) == 0) return std::to_string(mib >> 20) + " TiB";
  if (mib >= 1024 && mib % 1024 == 0) return std::to_string(mib >> 10) + " GiB";
  return std::to_string(mib) + " MiB";
}

struct Options {
  std::set<std::string> only;
  uint64_t size_mib = 1024;
  unsigned clients = 2;
  std::vector<uint64_t> gas_sizes_mib = {1, 64, 1024, 1u << 20};
  uint64_t epochs = 4;
  uint64_t real_max_mib = 64;
  fs::path dir;
  bool wants(const std::string& s) const { return only.empty() || only.contains(s); }
};

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  for (size_t p = 0; p <= list.size();) {
    size_t c = list.find(',', p);
    if (c == std::string::npos) c = list.size();
    if (c > p) out.push_back(list.substr(p, c - p));
    p = c + 1;
  }
  return out;
}

uint64_t positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  uint64_t v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v == 0) die(flag + " needs a positive whole number, got '" + text + "'");
  return v;
}

Options parse_args(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: bench_store_net [--json] [--only retrieval,gas] [--size-mib N] [--clients N]\n"
      "                       [--gas-sizes-mib 1,64,1024,1048576] [--epochs N] [--real-max-mib N] [--dir DIR]";
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value\n" + kUsage);
      return argv[++i];
    };
    if (a == "--json") continue;
    if (a == "--only") {
      for (auto& s : split(value())) {
        if (s != "retrieval" && s != "gas") die("--only takes retrieval and/or gas, not '" + s + "'");
        o.only.insert(s);
      }
    } else if (a == "--size-mib") {
      o.size_mib = positive(a, value());
    } else if (a == "--clients") {
      o.clients = static_cast<unsigned>(std::min<uint64_t>(positive(a, value()), 64));
    } else if (a == "--gas-sizes-mib") {
      o.gas_sizes_mib.clear();
      for (auto& s : split(value())) o.gas_sizes_mib.push_back(positive(a, s));
      // One proof per deal per epoch, each a block: the deals must fit in one 20-block epoch.
      if (o.gas_sizes_mib.empty() || o.gas_sizes_mib.size() > 8) die("--gas-sizes-mib takes 1 to 8 sizes");
      std::sort(o.gas_sizes_mib.begin(), o.gas_sizes_mib.end());
      o.gas_sizes_mib.erase(std::unique(o.gas_sizes_mib.begin(), o.gas_sizes_mib.end()), o.gas_sizes_mib.end());
    } else if (a == "--epochs") {
      o.epochs = std::min<uint64_t>(positive(a, value()), 100);
    } else if (a == "--real-max-mib") {
      o.real_max_mib = positive(a, value());
    } else if (a == "--dir") {
      o.dir = value();
    } else {
      die("unknown argument " + a + "\n" + kUsage);
    }
  }
  return o;
}


// Incompressible, deterministic content written in 1 MiB pieces.
void write_file(const fs::path& p, uint64_t size, uint64_t seed) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + p.string());
  std::mt19937_64 rng(seed);
  Bytes buf(kMiB);
  for (uint64_t done = 0; done < size;) {
    for (size_t i = 0; i < buf.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(buf.data() + i, &v, 8);
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(kMiB, size - done));
    if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) die("writing " + p.string() + " failed (disk full?)");
    done += n;
  }
  ::close(fd);
}

// Reads the file with read() in 1 MiB pieces, touching each piece; returns seconds.
double read_file(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open " + p.string());
  Bytes buf(kMiB);
  auto t = Clock::now();
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) die("reading " + p.string() + " failed");
    if (n == 0) break;
    sink(buf[0]);
  }
  double s = seconds_since(t);
  ::close(fd);
  return s;
}

using dgrid::bench::best_of;
using dgrid::bench::time_command;

// ------------------------------------------------------------------ the chain

// A devnet (anvil + dgrid's contracts) and wallets for its funded dev accounts.
struct Chain {
  std::unique_ptr<eth::Devnet> devnet;
  std::unique_ptr<eth::RpcClient> rpc;
  std::unique_ptr<eth::NonceManager> nonces;
  std::deque<eth::Wallet> wallets;
  std::unique_ptr<eth::DgridContracts> contracts;
  eth::Deployment deployment;
  eth::Wallet& wallet(size_t i) { return wallets.at(i); }
  const crypto::PrivateKey& key(size_t i) { return devnet->anvil().dev_keys().at(i); }

  uint64_t block() { return must(rpc->block_number(), "eth_blockNumber"); }
  void mine(uint64_t n) {
    if (n) must(rpc->call("anvil_mine", nlohmann::json::array({to_quantity(u256(n))})), "anvil_mine");
  }
};

// Dev accounts by their devnet role (eth::devnet_role).
constexpr size_t kClient = 5, kStorer = 6, kPaidBefore = 7;

std::unique_ptr<Chain> start_chain(const fs::path& dir) {
  auto c = std::make_unique<Chain>();
  eth::DevnetOptions o;
  o.dir = dir;
  c->devnet = must(eth::Devnet::up(o), "starting the devnet");
  c->deployment = c->devnet->info().contracts;
  c->rpc = must(eth::RpcClient::connect(c->devnet->info().rpc_url), "connecting to anvil");
  c->nonces = std::make_unique<eth::NonceManager>(*c->rpc);
  for (const auto& k : c->devnet->anvil().dev_keys())
    c->wallets.emplace_back(*c->rpc, *c->nonces, k, c->deployment.chain_id);
  c->contracts = std::make_unique<eth::DgridContracts>(must(eth::DgridContracts::at(*c->rpc, c->deployment), "contracts"));
  return c;
}

// ------------------------------------------------------------------ the storer

// A real node::Storer as `dgrid node` runs it (minus the deal keeper's loops, which the gas
// section replaces by explicit transactions), its routes on a loopback HttpServer.
struct StorerHost {
  fs::path data_dir;
  std::unique_ptr<node::NodeState> state;
  std::unique_ptr<node::Registry> metrics;
  std::unique_ptr<node::ChainContext> chain;
  std::unique_ptr<node::Storer> storer;
  net::Router router;
  std::unique_ptr<net::HttpServer> server;
  std::string url;

  ~StorerHost() {
    if (server) server->stop(std::chrono::milliseconds(500));
    server.reset();
    storer.reset();
  }
};

std::unique_ptr<StorerHost> start_storer(Chain& c, const fs::path& data_dir) {
  auto h = std::make_unique<StorerHost>();
  h->data_dir = data_dir;
  node::NodeConfig cfg;
  cfg.data_dir = data_dir;
  cfg.storer.enabled = true;
  cfg.storer.claim = cfg.storer.watch = cfg.storer.repair = false;
  h->state = must(node::NodeState::open(data_dir), "opening the storer's state");
  h->metrics = std::make_unique<node::Registry>();
  h->chain = must(node::ChainContext::connect(c.devnet->info().rpc_url, c.deployment, c.key(kStorer)), "storer chain");
  h->storer = must(node::Storer::create(*h->chain, *h->state, *h->metrics, cfg), "creating the storer");
  h->storer->add_routes(h->router);
  net::ServerOptions so;
  so.max_body_bytes = cfg.storer.max_upload_batch;
  h->server = must(net::HttpServer::start(so, h->router.handler()), "starting the storer's HTTP server");
  h->url = "http://127.0.0.1:" + std::to_string(h->server->port());
  return h;
}

// Imports `file` into a Blockstore at `dir` (fsync off: setup speed; reads do not depend on
// it) and pins it; also lists the CIDs of its blocks.
struct Imported {
  store::ContentSummary summary;
  std::vector<store::Cid> blocks;
};
Imported import_file(const fs::path& file, const fs::path& dir) {
  auto bs = must(store::Blockstore::open(dir, {.capacity_bytes = 0, .fsync = false}), "opening " + dir.string());
  Imported im;
  im.summary = must(store::summarize_file(
                        file,
                        [&](const store::Cid& cid, ByteView b) {
                          im.blocks.push_back(cid);
                          return bs->put(cid, b);
                        },
                        {}, 2),
                    "importing " + file.string());
  must(bs->pin(im.summary.cid), "pinning");
  return im;
}

// Writes back and drops the page cache of a file (or of every file under a directory), so
// the next read comes from the disk. Not every filesystem honours it: the cold rows say what
// they measured against a cold read() of the same file in the same run.
void evict(const fs::path& p) {
  if (fs::is_directory(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file()) evict(e.path());
    return;
  }
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// Streams GET url to a counting sink; returns seconds. `check_fd` >= 0: every byte is also
// compared with that file at the same offset (not timed: a correctness pass).
double get_stream(net::HttpClient& http, const std::string& url, uint64_t expect_bytes, int check_fd = -1) {
  net::ClientRequest rq;
  rq.url = url;
  rq.timeout = std::chrono::minutes(30);
  uint64_t got = 0;
  int status = 0;
  Bytes cmp;
  auto t = Clock::now();
  auto r = http.request_stream(
      rq, [&](const net::ClientResponse& head) { status = head.status; },
      [&](std::string_view piece) {
        if (check_fd >= 0) {
          cmp.resize(piece.size());
          if (::pread(check_fd, cmp.data(), cmp.size(), static_cast<off_t>(got)) != static_cast<ssize_t>(cmp.size()) ||
              std::memcmp(cmp.data(), piece.data(), piece.size()) != 0)
            die("GET " + url + " sent bytes that differ from the file near offset " + std::to_string(got));
        }
        got += piece.size();
        sink(static_cast<uint8_t>(piece.back()));
        return true;
      });
  double s = seconds_since(t);
  if (!r) die("GET " + url + ": " + r.error().to_string());
  if (status != 200) die("GET " + url + ": HTTP " + std::to_string(status));
  if (got != expect_bytes)
    die("GET " + url + " sent " + std::to_string(got) + " bytes, expected " + std::to_string(expect_bytes));
  return s;
}

// `n` clients GET the whole of `url` at once; returns the wall time of the slowest.
double get_concurrent(const std::string& url, uint64_t bytes, unsigned n) {
  std::barrier start(static_cast<std::ptrdiff_t>(n + 1));
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i)
    threads.emplace_back([&] {
      net::HttpClient own;
      start.arrive_and_wait();
      get_stream(own, url, bytes);
    });
  start.arrive_and_wait();
  auto t = Clock::now();
  for (auto& th : threads) th.join();
  return seconds_since(t);
}

void bench_retrieval(bench::Report& report, const Options& o, StorerHost& host, const fs::path& file,
                     const Imported& imported, const fs::path& work) {
  const store::ContentSummary& content = imported.summary;
  const uint64_t size = content.size;
  const double mib = static_cast<double>(size) / kMiBd;
  const std::string cid = content.cid.to_string();
  const std::string file_url = host.url + "/ipfs/" + cid;
  const std::string car_url = file_url + "?format=car";
  const store::Blockstore& bs = host.storer->blockstore();

  // The baseline. The file was just written and imported, so the page cache holds it and the
  // storer's block files (the machine needs ~2x the file size of free memory for that).
  read_file(file);
  const double disk = mib / best_of(3, [&] { return read_file(file); });
  const std::string baseline = "read() 1 MiB, page cache";
  auto row = [&](const std::string& name, double seconds, const std::string& note) {
    report.add(Row{name, mib / seconds, "MiB/s", baseline, disk, note});
  };
  if (double s = best_of(3, [&] { return time_command({"cat", file.string()}); }); s > 0)
    row("cat FILE >/dev/null", s, "subprocess, page cache warm: the second disk baseline");

  // Where a storer's time goes before a byte reaches a socket, in-process: SHA-256 (every
  // block is verified on every read), then the store's reads with one and with two
  // verifications per block (Blockstore::get checks, and FileReader checks what its getter
  // returns again).
  row("sha256 of the file, in-process", best_of(2, [&] {
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        Bytes buf(kMiB);
        crypto::Sha256 h;
        auto t = Clock::now();
        for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) h.update(ByteView(buf.data(), static_cast<size_t>(n)));
        sink(h.finalize()[0]);
        ::close(fd);
        return seconds_since(t);
      }),
      "the verification floor: one SHA-256 pass over the bytes");
  row("Blockstore::get, every block", best_of(2, [&] {
        auto t = Clock::now();
        for (const auto& b : imported.blocks) sink(must(bs.get(b), "Blockstore::get").back());
        return seconds_since(t);
      }),
      std::to_string(imported.blocks.size()) + " blocks, each read and verified once");
  auto reader = must(store::FileReader::open(bs.getter(), content.cid, store::FileReader::Verify::by_getter), "opening the file in the storer's store");
  row("FileReader over the Blockstore", best_of(2, [&] {
        uint64_t n = 0;
        auto t = Clock::now();
        must(reader.read(0, size, [&](ByteView b) {
          n += b.size();
          sink(b.back());
          return true;
        }),
             "FileReader");
        if (n != size) die("FileReader returned " + std::to_string(n) + " bytes");
        return seconds_since(t);
      }),
      "what GET /ipfs/{cid} runs, without HTTP: one SHA-256 check per block (the Blockstore's)");
  uint64_t car_bytes = 0;
  row("export_car from the Blockstore", best_of(2, [&] {
        car_bytes = 0;
        auto t = Clock::now();
        must(store::export_car(bs, content.cid, [&](ByteView b) {
          car_bytes += b.size();
          return true;
        }),
             "export_car");
        return seconds_since(t);
      }),
      "what ?format=car runs, without HTTP");

  say("retrieval: GET %s (%.0f MiB) over loopback...", cid.c_str(), mib);
  net::HttpClient http;
  {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + file.string());
    get_stream(http, file_url, size, fd);  // untimed: every byte compared with the file
    ::close(fd);
  }
  row("GET /ipfs/{cid}, 1 client", best_of(2, [&] { return get_stream(http, file_url, size); }),
      "HttpClient::request_stream, bytes counted and dropped; checked byte for byte once");
  // Another client against the same server: separates the client's cost from the server's.
  if (double s = best_of(2, [&] { return time_command({"curl", "-sf", "-o", "/dev/null", file_url}); }); s > 0)
    row("GET /ipfs/{cid} by curl", s, "curl -o /dev/null (a subprocess): the same server, another client");
  if (o.clients > 1) {
    say("retrieval: %u clients at once...", o.clients);
    const double s = best_of(2, [&] { return get_concurrent(file_url, size, o.clients); });
    report.add(Row{"GET /ipfs/{cid}, " + std::to_string(o.clients) + " clients", o.clients * mib / s, "MiB/s", baseline,
                   disk, "aggregate of concurrent whole-file GETs, one server thread each"});
  }

  say("retrieval: GET ?format=car...");
  row("GET ?format=car, 1 client", best_of(2, [&] { return get_stream(http, car_url, car_bytes); }),
      std::to_string(car_bytes - size) + " bytes of CAR framing and DAG-PB nodes over the file");

  say("retrieval: node::fetch_file...");
  const fs::path out = work / "fetched.bin";
  row("fetch_file (dgrid store get)", best_of(2, [&] {
        auto t = Clock::now();
        uint64_t n = must(node::fetch_file(content.cid, {host.url}, out), "fetch_file");
        double s = seconds_since(t);
        if (n != size || fs::file_size(out) != size) die("fetch_file wrote the wrong size");
        fs::remove(out);
        return s;
      }),
      "GET ?format=raw per block in turn, verified, written to a temp file, fsync, rename");

  // Cold: the page cache dropped before each read, for the file and for the block files.
  say("retrieval: cold page cache...");
  const double cold = mib / best_of(2, [&] {
                        evict(file);
                        return read_file(file);
                      });
  const double cold_get = mib / best_of(2, [&] {
                            evict(bs.dir());
                            return get_stream(http, file_url, size);
                          });
  report.add(Row{"GET /ipfs/{cid}, cold cache", cold_get, "MiB/s", "read() 1 MiB, cold cache", cold,
                 "fdatasync + POSIX_FADV_DONTNEED on the file / every block file before each run"});
}

// ------------------------------------------------------------------ gas

// What a deal's storer needs to answer a challenge for one piece of content.
struct Content {
  uint64_t size = 0;
  Bytes cid;
  Hash32 segment_root{};
  std::string kind;  // for the notes
  std::function<store::SegmentProof(uint64_t)> prove;
};

// A real file in a Blockstore, proven as the storer does (prove_segment through FileReader).
// `bs` must outlive the Content.
Content real_content(const store::Blockstore& bs, const store::ContentSummary& s, std::string kind) {
  Content c;
  c.size = s.size;
  c.cid = s.cid.bytes();
  c.segment_root = s.segment_root;
  c.kind = std::move(kind);
  auto reader = std::make_shared<store::FileReader>(must(store::FileReader::open(bs.getter(), s.cid, store::FileReader::Verify::by_getter), "open file"));
  c.prove = [reader, index = s.index](uint64_t i) { return must(store::prove_segment(*reader, index, i), "prove_segment"); };
  return c;
}

// `mib` MiB whose 1 MiB chunks are all one block of random bytes: the segment tree of a file
// that large without writing or hashing it (the chunk is hashed once, the upper levels from
// repeated chunk roots). The proof is as long and verifies on chain like any other. The CID
// is the chunk's (StorageMarket stores a deal's CID but never reads it).
Content synthetic_content(uint64_t mib) {
  auto chunk = std::make_shared<Bytes>(kMiB);
  std::mt19937_64 rng(mib);
  for (size_t i = 0; i < chunk->size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(chunk->data() + i, &v, 8);
  }
  store::SegmentHasher h;
  h.update(*chunk);
  const Hash32 chunk_root = h.finish().chunk_roots().at(0);
  auto index = std::make_shared<store::SegmentIndex>(mib * kMiB, std::vector<Hash32>(mib, chunk_root));
  Content c;
  c.size = mib * kMiB;
  c.cid = store::Cid::of(store::Codec::raw, *chunk).bytes();
  c.segment_root = index->root();
  c.kind = "synthetic";
  c.prove = [chunk, index](uint64_t i) {
    store::SegmentProof p;
    p.index = i;
    const size_t off = (i % store::kSegmentsPerChunk) * crypto::kSegmentSize;
    p.segment.assign(chunk->begin() + static_cast<std::ptrdiff_t>(off),
                     chunk->begin() + static_cast<std::ptrdiff_t>(off + crypto::kSegmentSize));
    p.proof = must(index->prove(i, *chunk), "SegmentIndex::prove");
    return p;
  };
  return c;
}

struct DealRun {
  std::string label;
  Content content;
  uint64_t deal = 0;
  uint64_t next_epoch = 0;
  uint64_t proven = 0;
  std::vector<uint64_t> gas, verify_gas;
  size_t siblings_min = SIZE_MAX, siblings_max = 0;
  double mean(const std::vector<uint64_t>& v) const {
    double s = 0;
    for (auto g : v) s += static_cast<double>(g);
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  }
};

// eth_estimateGas of StorageMarket.verifySegment for this proof: the Merkle check alone plus
// the 21,000 intrinsic gas and the calldata, without proveStorage's bookkeeping and payment.
uint64_t verify_gas(Chain& c, const Content& ct, const store::SegmentProof& p) {
  auto fn = must(c.contracts->storage.contract().abi().function("verifySegment"), "verifySegment ABI");
  using eth::abi::Value;
  std::vector<Value> sib;
  for (const auto& h : p.proof.siblings) sib.push_back(Value::bytes(h));
  const Value args[] = {Value::bytes(ct.segment_root), Value::uint(ct.size), Value::uint(p.index), Value::bytes(p.segment),
                        Value::array(std::move(sib))};
  eth::CallRequest rq;
  rq.from = c.wallet(kStorer).address();
  rq.to = c.deployment.storage;
  rq.data = must(fn.encode_call(args), "encoding verifySegment");
  // The view returns false for a bad proof rather than reverting: check what it answers too.
  auto ret = must(c.rpc->eth_call(rq), "verifySegment");
  if (ret.size() != 32 || ret[31] != 1) die("verifySegment returned false for a proof that verifies locally");
  return must(c.rpc->estimate_gas(rq), "estimating verifySegment");
}

void bench_gas(bench::Report& report, const Options& o, Chain& c, const fs::path& work,
               const store::Blockstore* big_bs, const store::ContentSummary* big) {
  const auto& market = c.contracts->storage;
  const auto& token = c.contracts->token;
  eth::Wallet& client = c.wallet(kClient);
  eth::Wallet& storer = c.wallet(kStorer);
  const uint64_t epoch_len = must(market.epoch_length(), "epochLength");
  const u256 endowment = u256(100) * 1'000'000;  // 100 dUSD, one replica

  // Baseline: a plain ERC-20 transfer to an account that already holds dUSD.
  const uint64_t transfer_gas = must(token.transfer(client, c.wallet(kPaidBefore).address(), u256(1'000'000)),
                                     "ERC-20 transfer").gas_used;
  const std::string baseline = "ERC-20 transfer";
  const double base = static_cast<double>(transfer_gas);

  // The storer must be an active registry provider to claim (as Node::start registers it).
  if (!must(c.contracts->registry.is_active(storer.address()), "isActive")) {
    must(c.contracts->registry.register_provider(storer, "http://127.0.0.1:1", R"({"storage":"http://127.0.0.1:1"})"),
         "registering the storer");
    must(c.contracts->registry.stake(storer, token, must(c.contracts->registry.min_stake(), "minStake")), "staking");
  }

  say("gas: preparing content for %zu deal sizes...", o.gas_sizes_mib.size());
  std::unique_ptr<store::Blockstore> small_bs;  // outlives `runs`, whose provers read it
  std::vector<DealRun> runs;
  uint64_t seed = 100;
  for (uint64_t mib : o.gas_sizes_mib) {
    DealRun r;
    r.label = size_name(mib);
    if (big && big->size == mib * kMiB) {
      r.content = real_content(*big_bs, *big, "real: the retrieval file in the storer's Blockstore");
    } else if (mib <= o.real_max_mib) {
      if (!small_bs)
        small_bs = must(store::Blockstore::open(work / "gas-store", {.capacity_bytes = 0, .fsync = false}), "gas store");
      const fs::path f = work / ("gas-" + std::to_string(mib) + ".bin");
      write_file(f, mib * kMiB, ++seed);
      auto sum = must(store::summarize_file(f, [&](const store::Cid& cid, ByteView b) { return small_bs->put(cid, b); },
                                            {}, 2),
                      "importing " + f.string());
      must(small_bs->pin(sum.cid), "pin");
      fs::remove(f);
      r.content = real_content(*small_bs, sum, "real file in a Blockstore");
    } else {
      r.content = synthetic_content(mib);
    }
    runs.push_back(std::move(r));
  }
  // One more deal that is claimed and never proven: the price of reporting a missed proof.
  DealRun missed;
  missed.label = "missed";
  missed.content = synthetic_content(1);

  say("gas: opening %zu deals and claiming their slots...", runs.size() + 1);
  uint64_t open_gas = 0, claim_gas = 0;
  std::vector<DealRun*> all;
  for (auto& r : runs) all.push_back(&r);
  all.push_back(&missed);
  for (DealRun* r : all) {
    auto d = must(market.open_deal(client, token, r->content.cid, r->content.segment_root, r->content.size, 1, endowment),
                  "openDeal " + r->label);
    r->deal = d.deal_id;
    open_gas = d.receipt.gas_used;
    auto s = must(market.claim_slot(storer, token, r->deal), "claimSlot " + r->label);
    r->next_epoch = s.start_epoch;
    claim_gas = s.receipt.gas_used;
  }

  // Every due epoch: enter it (its start block's hash seeds the challenge), read the
  // challenged segment, prove it from the content, check it locally, send proveStorage.
  auto [first, last] = std::minmax_element(runs.begin(), runs.end(),
                                           [](const DealRun& a, const DealRun& b) { return a.next_epoch < b.next_epoch; });
  const uint64_t first_start = first->next_epoch, last_start = last->next_epoch;
  say("gas: %llu epochs of proofs...", static_cast<unsigned long long>(o.epochs));
  for (uint64_t e = first_start; e < last_start + o.epochs; ++e) {
    const uint64_t target = e * epoch_len + 1;
    const uint64_t now = c.block();
    if (now < target) c.mine(target - now);
    for (DealRun& r : runs) {
      if (r.next_epoch != e || r.proven >= o.epochs) continue;
      const uint64_t index = must(market.challenge_index(r.deal, 0, e), "challengeIndex");
      store::SegmentProof p = r.content.prove(index);
      if (!crypto::merkle_verify(r.content.segment_root, crypto::merkle_leaf_hash(p.segment), p.proof))
        die("the proof for " + r.label + " segment " + std::to_string(index) + " does not verify locally");
      r.verify_gas.push_back(verify_gas(c, r.content, p));
      if (c.block() / epoch_len != e) die("epoch " + std::to_string(e) + " ended before every proof was sent");
      auto rc = must(market.prove_storage(storer, r.deal, 0, e, p.segment, p.proof.siblings), "proveStorage " + r.label);
      if (!rc.success) die("proveStorage " + r.label + " reverted");
      r.gas.push_back(rc.gas_used);
      r.siblings_min = std::min(r.siblings_min, p.proof.siblings.size());
      r.siblings_max = std::max(r.siblings_max, p.proof.siblings.size());
      r.next_epoch = e + 1;
      ++r.proven;
    }
  }
  // The missed deal's first due epoch is long over now.
  const uint64_t missed_epoch = must(market.get_slot(missed.deal, 0), "getSlot").next_epoch;
  if (c.block() / epoch_len <= missed_epoch) c.mine((missed_epoch + 1) * epoch_len + 1 - c.block());
  const uint64_t report_gas = must(market.report_missed_proof(client, missed.deal, 0, missed_epoch), "reportMissedProof").gas_used;

  // Rows: gas per proof by size, then how it grows with the tree's depth.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const DealRun& r : runs) {
    const uint64_t segments = crypto::segment_count(r.content.size);
    const double depth = 0.5 * static_cast<double>(r.siblings_min + r.siblings_max);
    const double g = r.mean(r.gas);
    sx += depth, sy += g, sxx += depth * depth, sxy += depth * g;
    auto [lo, hi] = std::minmax_element(r.gas.begin(), r.gas.end());
    const std::string sib = r.siblings_min == r.siblings_max
                                ? std::to_string(r.siblings_min)
                                : std::to_string(r.siblings_min) + "-" + std::to_string(r.siblings_max);
    report.add(Row{"gas/proof " + r.label, g, "gas", baseline, base,
                   std::to_string(segments) + " segments, " + sib + " siblings; " + std::to_string(r.gas.size()) +
                       " epochs, " + std::to_string(*lo) + "-" + std::to_string(*hi) + "; " + r.content.kind});
    report.add(Row{"proof bytes " + r.label, static_cast<double>(crypto::kSegmentSize + 32 * r.siblings_max), "bytes", "", 0,
                   "1024-byte segment + 32 x " + std::to_string(r.siblings_max)});
    report.add(Row{"verifySegment alone " + r.label, r.mean(r.verify_gas), "gas", baseline, base,
                   "eth_estimateGas of the view: 21,000 intrinsic + calldata + Merkle check"});
  }
  const double n = static_cast<double>(runs.size());
  if (runs.size() > 1 && n * sxx - sx * sx > 0) {
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double icept = (sy - slope * sx) / n;
    report.add(Row{"gas per tree level (fit)", slope, "gas", baseline, base,
                   "least squares gas = " + fmt("%.0f", icept) + " + b x siblings: log2 growth in the segment count"});
  }
  report.add(Row{"gas: reportMissedProof", static_cast<double>(report_gas), "gas", baseline, base,
                 "slash + reopen, reward to the reporter"});
  report.add(Row{"gas: claimSlot", static_cast<double>(claim_gas), "gas", baseline, base, "collateral pulled (approve apart)"});
  report.add(Row{"gas: openDeal", static_cast<double>(open_gas), "gas", baseline, base, "one replica (approve apart)"});
}

}  // namespace

int main(int argc, char** argv) {
  bench::Report report(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the node's info logs would mix into the table / JSON
  Options o = parse_args(argc, argv);
  if (auto a = eth::find_anvil(); !a) {
    // Both sections need a chain: the storer connects to one and the gas is measured on one.
    say("%s", a.error().message.c_str());
    report.add(Row{"retrieval / gas", 0, "", "", 0, "SKIPPED: anvil not installed (scripts/setup)"});
    report.print();
    return 0;
  }
  dgrid::bench::ScratchDir scratch(o.dir.empty() ? fs::temp_directory_path() : o.dir, "dgrid_bench_store_net_");
  say("bench_store_net: starting a devnet (anvil + contracts) in %s...", scratch.path.c_str());
  auto chain = start_chain(scratch.path / "devnet");

  std::unique_ptr<StorerHost> host;
  std::optional<store::ContentSummary> big;  // the retrieval file, kept in the storer's store
  if (o.wants("retrieval")) {
    const uint64_t size = o.size_mib * kMiB;
    const fs::path file = scratch.path / "file.bin";
    say("retrieval: writing a %llu MiB file and importing it into the storer's blockstore...",
        static_cast<unsigned long long>(o.size_mib));
    write_file(file, size, 42);
    const fs::path data_dir = scratch.path / "storer";
    Imported imported = import_file(file, data_dir / "store");
    host = start_storer(*chain, data_dir);
    bench_retrieval(report, o, *host, file, imported, scratch.path);
    fs::remove(file);
    big = std::move(imported.summary);  // a real deal of that size for the gas section
  }
  if (o.wants("gas"))
    bench_gas(report, o, *chain, scratch.path, host ? &host->storer->blockstore() : nullptr, big ? &*big : nullptr);
  host.reset();
  report.print();
  return 0;
}
