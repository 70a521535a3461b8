// Storage benchmarks (issue 5), each beside a baseline measured in the same run:
//
//   ingest     chunk + hash + store a file (summarize_file with a sink that puts every block
//              into a Blockstore, fsync on as the node runs it, and off), with the keccak
//              segment hashing on 1 and on 2 threads, against `openssl dgst -sha256 FILE` on
//              the same file (a subprocess, page cache warm for both). The parts are timed
//              alone too: reading, the CID (sha256 + DAG-PB), the keccak segment root.
//   proof      prove_segment of random segments through FileReader over the Blockstore against
//              hashing the whole file (what a storer without an index would do), proof bytes,
//              SegmentIndex bytes per GiB against a full in-memory MerkleTree, blockstore
//              overhead per GiB, and the cost of pin() (it re-reads and verifies the object).
//   gas        (not yet: gas per verified challenge on StorageMarket, added with the deal code)
//   retrieval  (not yet: GET /ipfs/{cid} over loopback HTTP against reading the file)
//
// Usage: bench_store [--json] [--size-mib N] [--only ingest,proof] [--dir DIR]
//   --size-mib  file size (default 1024: 1 GiB); --dir where the file and stores go (default
//   the system temp dir; needs about 2x the file size free).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/merkle.hpp"
#include "crypto/sha256.hpp"
#include "harness.hpp"
#include "store/blockstore.hpp"
#include "store/segments.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using dgrid::Bytes;
using dgrid::ByteView;
using dgrid::bench::Row;
using dgrid::bench::sink;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;
constexpr double kMB = 1e6;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

using dgrid::bench::die;
using dgrid::bench::must;

struct Options {
  uint64_t size_mib = 1024;
  std::set<std::string> only;
  fs::path dir;
  bool wants(const std::string& s) const { return only.empty() || only.count(s) != 0; }
};

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json") continue;
    if (a == "--size-mib") {
      o.size_mib = std::strtoull(value().c_str(), nullptr, 10);
      if (o.size_mib == 0) die("--size-mib must be a positive number of MiB");
    } else if (a == "--only") {
      std::string list = value();
      for (size_t p = 0; p <= list.size();) {
        size_t c = list.find(',', p);
        if (c == std::string::npos) c = list.size();
        if (c > p) o.only.insert(list.substr(p, c - p));
        p = c + 1;
      }
    } else if (a == "--dir") {
      o.dir = value();
    } else {
      die("unknown argument " + a + " (usage: bench_store [--json] [--size-mib N] [--only ingest,proof] [--dir DIR])");
    }
  }
  return o;
}


// Incompressible, deterministic content written in 1 MiB pieces.
void write_file(const fs::path& p, uint64_t size) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + p.string());
  std::mt19937_64 rng(42);
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

// Reads the file in 1 MiB pieces, passing each to fn; returns seconds.
template <class Fn>
double scan(const fs::path& p, Fn&& fn) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open " + p.string());
  Bytes buf(kMiB);
  auto t = Clock::now();
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) die("read failed");
    if (n == 0) break;
    fn(ByteView(buf.data(), static_cast<size_t>(n)));
  }
  double s = seconds_since(t);
  ::close(fd);
  return s;
}

// Wall time of `openssl dgst -sha256 FILE` (output discarded), or a negative value when the
// binary is missing or fails.
double time_openssl(const fs::path& file) { return dgrid::bench::time_command({"openssl", "dgst", "-sha256", file.string()}); }

using dgrid::bench::best_of;

uint64_t disk_usage(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st;
    if (::lstat(e.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

struct Ingested {
  dgrid::store::ContentSummary summary;
  double seconds = 0;
};

// summarize_file into a fresh Blockstore at `store`.
// Chunk + hash (CID and segment root) + store, durable at the end (one syncfs). `verify_put`:
// the store re-hashes every block (Blockstore::put, what an untrusted writer needs) and
// pin() re-reads the DAG; else the importer's own hashes are trusted (put_trusted: one hash
// pass in all) and the object is left for pin(), whose cost the proof section reports.
Ingested ingest(const fs::path& file, const fs::path& store, bool fsync, unsigned threads, bool verify_put = false) {
  std::error_code ec;
  fs::remove_all(store, ec);
  auto bs = must(dgrid::store::Blockstore::open(store, {.capacity_bytes = 0, .fsync = fsync}), "open blockstore");
  auto t = Clock::now();
  auto sum = must(dgrid::store::summarize_file(
                      file,
                      [&](const dgrid::store::Cid& c, ByteView b) { return verify_put ? bs->put(c, b) : bs->put_trusted(c, b); },
                      {}, threads),
                  "ingest");
  must(verify_put ? bs->pin(sum.cid) : bs->sync(), verify_put ? "pin" : "sync");
  double s = seconds_since(t);
  return {std::move(sum), s};
}

// ------------------------------------------------------------------ ingest

void bench_ingest(dgrid::bench::Report& report, const fs::path& file, const fs::path& work, uint64_t size) {
  const double mb = static_cast<double>(size) / kMB;
  scan(file, [](ByteView b) { sink(b[0]); });  // page cache warm
  double openssl_s = best_of(3, [&] { return time_openssl(file); });
  if (openssl_s <= 0) die("`openssl dgst -sha256` could not be run (is the openssl binary installed?)");
  const double base = mb / openssl_s;
  const std::string baseline = "openssl dgst -sha256";
  auto row = [&](const std::string& name, double seconds, const std::string& note) {
    report.add(Row{name, mb / seconds, "MB/s", baseline, base, note});
  };

  // The parts alone, one core each.
  row("read (1 MiB reads)", best_of(2, [&] { return scan(file, [](ByteView b) { sink(b[0]); }); }), "page cache");
  row("sha256 (in-process)", best_of(2, [&] {
        dgrid::crypto::Sha256 h;
        double s = scan(file, [&](ByteView b) { h.update(b); });
        sink(h.finalize()[0]);
        return s;
      }),
      "same OpenSSL, no process start");
  row("CID only (sha256 + DAG-PB)", best_of(2, [&] {
        dgrid::store::FileImporter imp([](const dgrid::store::Cid&, ByteView) -> dgrid::Result<void> { return {}; });
        double s = scan(file, [&](ByteView b) { must(imp.update(b), "import"); });
        auto t = Clock::now();
        sink(must(imp.finish(), "import").blocks);
        return s + seconds_since(t);
      }),
      "FileImporter, no store");
  row("segment root only (keccak)", best_of(2, [&] {
        dgrid::store::SegmentHasher h;
        double s = scan(file, [&](ByteView b) { h.update(b); });
        sink(h.finish().root()[0]);
        return s;
      }),
      "1 KiB keccak leaves + tree");

  // CID + segment root from one read, nothing stored: the hashing half of ingest.
  double hash_one = 0, hash_two = 0;
  for (unsigned threads : {1u, 2u}) {
    double s = best_of(2, [&] {
      auto t = Clock::now();
      sink(must(dgrid::store::summarize_file(file, {}, {}, threads), "summarize").blocks);
      return seconds_since(t);
    });
    (threads == 1 ? hash_one : hash_two) = s;
    row(std::string("CID + segment root, ") + (threads == 1 ? "1 core" : "2 cores"), s, "summarize_file, no sink");
  }
  report.add(Row{"hashing 2-core scaling", hash_one / hash_two, "x", "", 0, "1-core time / 2-core time"});

  // The disk's floor for storing the bytes at all: the file copied in 1 MiB writes into one
  // new file (buffered, one fsync at the end), and with an fsync after every MiB as a store
  // that makes each block durable must.
  for (bool each : {false, true}) {
    double s = best_of(2, [&] {
      fs::path copy = work / "copy.bin";
      int fd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) die("cannot create " + copy.string());
      double t = scan(file, [&](ByteView b) {
        if (::write(fd, b.data(), b.size()) != static_cast<ssize_t>(b.size())) die("write failed (disk full?)");
        if (each) ::fsync(fd);
      });
      auto t0 = Clock::now();
      ::fsync(fd);
      ::close(fd);
      t += seconds_since(t0);
      fs::remove(copy);
      return t;
    });
    row(each ? "disk: write + fsync per MiB" : "disk: write, one fsync", s, "no hashing: the storage floor");
  }

  // The whole ingest, as the node runs it (fsync on) and without fsync.
  double one_sync = 0, two_sync = 0;
  for (bool fsync : {true, false}) {
    for (unsigned threads : {1u, 2u}) {
      double s = best_of(fsync ? 1 : 2, [&] { return ingest(file, work / "store", fsync, threads).seconds; });
      if (fsync) (threads == 1 ? one_sync : two_sync) = s;
      std::string name = std::string("ingest, ") + (threads == 1 ? "1 core" : "2 cores") + (fsync ? ", fsync" : ", no fsync");
      row(name, s, fsync ? "put_trusted per block (write, rename), one syncfs at the end" : "as the node minus fsync");
    }
  }
  row("ingest, 2 cores, fsync, verifying put + pin", best_of(1, [&] { return ingest(file, work / "store", true, 2, true).seconds; }),
      "put() re-hashes each block, pin() re-reads the DAG: what an untrusted upload costs");
  report.add(Row{"ingest 2-core scaling (fsync)", one_sync / two_sync, "x", "", 0, "1-core time / 2-core time"});
  std::error_code ec;
  fs::remove_all(work / "store", ec);
}

// ------------------------------------------------------------------ proof

void bench_proof(dgrid::bench::Report& report, const fs::path& file, const fs::path& work, uint64_t size) {
  using namespace dgrid::store;
  const double gib = static_cast<double>(size) / static_cast<double>(1ull << 30);
  Ingested in = ingest(file, work / "store", /*fsync=*/false, 2);
  auto bs = must(Blockstore::open(work / "store", {.capacity_bytes = 0, .fsync = false}), "reopen");
  auto reader = must(FileReader::open(bs->getter(), in.summary.cid), "open file");
  const SegmentIndex& idx = in.summary.index;

  // Baseline: without an index a storer hashes the whole file for each answer.
  double full_s = best_of(2, [&] {
    dgrid::crypto::MerkleBuilder b;
    double s = scan(file, [&](ByteView v) { b.update(v); });
    sink(b.finish()[0]);
    return s;
  });
  std::mt19937_64 rng(7);
  constexpr int kProofs = 64;
  size_t siblings = 0;
  auto t = Clock::now();
  for (int i = 0; i < kProofs; ++i) {
    uint64_t seg = rng() % idx.segment_count();
    auto p = must(prove_segment(reader, idx, seg), "prove");
    if (!dgrid::crypto::merkle_verify(in.summary.segment_root, dgrid::crypto::merkle_leaf_hash(p.segment), p.proof))
      die("a proof did not verify");
    siblings = std::max(siblings, p.proof.siblings.size());
  }
  double proof_ms = seconds_since(t) / kProofs * 1e3;
  report.add(Row{"proof generation", proof_ms, "ms", "hash the whole file", full_s * 1e3,
                 "random segment: read its 1 MiB chunk via FileReader, rehash it, upper levels from the index"});
  report.add(Row{"proof size", static_cast<double>(dgrid::crypto::kSegmentSize + 32 * siblings), "bytes", "", 0,
                 "segment (1024) + " + std::to_string(siblings) + " sibling hashes"});

  double index_bytes = static_cast<double>(idx.serialize().size());
  double tree_bytes = 2.0 * 32 * static_cast<double>(idx.segment_count());  // every level of a MerkleTree
  report.add(Row{"SegmentIndex per GiB", index_bytes / gib, "bytes", "full MerkleTree in memory", tree_bytes / gib,
                 "32 B per MiB chunk + 24 B header"});

  double dag_overhead = static_cast<double>(in.summary.dag_bytes - in.summary.size);
  report.add(Row{"DAG-PB node bytes per GiB", dag_overhead / gib, "bytes", "file bytes", static_cast<double>(size) / gib,
                 std::to_string(in.summary.blocks) + " blocks"});
  must(bs->pin(in.summary.cid), "pin");
  double on_disk = static_cast<double>(disk_usage(work / "store"));
  report.add(Row{"blockstore on disk per GiB", on_disk / gib, "bytes", "file bytes", static_cast<double>(size) / gib,
                 "st_blocks of blocks/, pins/, shard dirs (filesystem rounding included)"});

  double pin_s = best_of(2, [&] {
    must(bs->unpin(in.summary.cid), "unpin");
    auto p0 = Clock::now();
    must(bs->pin(in.summary.cid), "pin");
    return seconds_since(p0);
  });
  report.add(Row{"pin (walk + verify every block)", static_cast<double>(size) / kMB / pin_s, "MB/s", "hash the whole file",
                 static_cast<double>(size) / kMB / full_s, "one read + sha256 of the object"});
  std::error_code ec;
  fs::remove_all(work / "store", ec);
}

}  // namespace

int main(int argc, char** argv) {
  dgrid::bench::Report report(argc, argv);
  Options o = parse_args(argc, argv);
  dgrid::bench::ScratchDir scratch(o.dir.empty() ? fs::temp_directory_path() : o.dir, "dgrid_bench_store_");
  const uint64_t size = o.size_mib * kMiB;
  fs::path file = scratch.path / "file.bin";
  if (!report.json()) std::fprintf(stderr, "bench_store: writing a %llu MiB file in %s\n",
                                   static_cast<unsigned long long>(o.size_mib), scratch.path.c_str());
  write_file(file, size);

  if (o.wants("ingest")) bench_ingest(report, file, scratch.path, size);
  if (o.wants("proof")) bench_proof(report, file, scratch.path, size);
  // Sections added with the deal and storer code: "gas" (gas per verified challenge on
  // StorageMarket) and "retrieval" (GET /ipfs/{cid} over loopback HTTP vs reading the file).
  report.print();
  return 0;
}
