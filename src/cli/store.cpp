// dgrid store: content ids, storage deals and transfers (DESIGN §9, docs/formats/storage.md).
//   cid FILE                     the CID only (no network)
//   put FILE [--replicas N]      quote, open a deal on StorageMarket, upload to a storer, wait for claims
//   get CID [-o FILE]            download from storers, every block verified
//   status CID                   deals, replicas, last proofs and payouts, from the chain
//   export CID -o FILE.car       a CAR of the DAG (local store or storers)
//   import FILE.car              blocks into a local store (verified), complete roots pinned
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/common.hpp"
#include "core/u256.hpp"
#include "eth/devnet.hpp"
#include "market/storage_pricing.hpp"
#include "node/chain.hpp"
#include "node/store_client.hpp"
#include "store/car.hpp"
#include "store/segments.hpp"

namespace dgrid::cli {
namespace {

constexpr unsigned kDecimals = 6;
constexpr uint64_t kShowProgressAbove = 8ull << 20;

std::filesystem::path default_store_dir() {
  if (const char* env = std::getenv("DGRID_STORE"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "dgrid" / "store";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".local/share/dgrid/store";
  return ".dgrid-store";
}

store::Cid parse_cid(const std::string& text) {
  auto c = store::Cid::parse(text);
  if (!c) throw Exception(Error(c.error().code, "'" + text + "' is not a CID: " + c.error().message));
  return *c;
}

// Where the chain and the storers are: --devnet DIR or --rpc URL --deployment FILE, and/or
// explicit --storer URLs (which then skip discovery).
struct NetOptions {
  std::string rpc, deployment, devnet_dir;
  std::vector<std::string> storers;

  void add_to(CLI::App* cmd, bool chain_only = false) {
    cmd->add_option("--devnet", devnet_dir, "use the devnet recorded in DIR (rpc and deployment)");
    cmd->add_option("--rpc", rpc, "chain RPC URL (with --deployment)");
    cmd->add_option("--deployment", deployment, "deployment record (devnet.json or `chain deploy --out` file)");
    if (!chain_only) {
      cmd->add_option("--storer", storers, "storer base URL to use instead of discovering storers on chain (repeatable)");
    }
  }
  bool has_chain() const { return !devnet_dir.empty() || !rpc.empty(); }

  struct Chain {
    std::string rpc_url;
    eth::Deployment deployment;
  };
  Chain chain() const {
    Chain c;
    c.rpc_url = rpc;
    std::string dep = deployment;
    if (!devnet_dir.empty()) {
      auto info = unwrap(eth::DevnetInfo::load(devnet_dir));
      if (c.rpc_url.empty()) c.rpc_url = info.rpc_url;
      if (dep.empty()) dep = devnet_dir;
    }
    if (c.rpc_url.empty()) throw Exception(Error(Errc::invalid_argument, "no chain given: pass --devnet DIR or --rpc URL --deployment FILE"));
    if (dep.empty()) throw Exception(Error(Errc::invalid_argument, "--rpc needs --deployment FILE (or use --devnet DIR)"));
    c.deployment = unwrap(node::load_deployment(dep));
    return c;
  }

  // Storer URLs: the --storer list, else every storer registered on chain.
  std::vector<std::string> storer_urls() const {
    if (!storers.empty()) return storers;
    if (!has_chain()) {
      throw Exception(Error(Errc::invalid_argument, "no storers given: pass --storer URL, or --devnet DIR / --rpc URL --deployment FILE to find them on chain"));
    }
    auto c = chain();
    auto rpc_client = unwrap(eth::RpcClient::connect(c.rpc_url));
    auto found = unwrap(node::discover_storers(*rpc_client, c.deployment));
    std::vector<std::string> urls;
    for (const auto& s : found) urls.push_back(s.url);
    if (urls.empty()) throw Exception(Error(Errc::unavailable, "no active storer is registered on this chain"));
    return urls;
  }
};

nlohmann::json summary_json(const store::ContentSummary& s) {
  return {{"cid", s.cid.to_string()},
          {"size", s.size},
          {"segment_root", to_hex(s.segment_root)},
          {"segments", crypto::segment_count(s.size)},
          {"blocks", s.blocks},
          {"dag_bytes", s.dag_bytes}};
}

store::ContentSummary summarize(const std::string& file) {
  ProgressLine line("hashing " + file, kShowProgressAbove);
  auto s = store::summarize_file(file, {}, [&](uint64_t done, uint64_t total) { line.update(done, total); });
  if (!s) throw Exception(Error(s.error().code, file + ": " + s.error().message));
  return std::move(*s);
}

void register_cid(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand("cid", "Print a file's content id (CIDv1, unixfs-v1-2025 profile); no network");
  struct Opts {
    std::string file;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("FILE", o->file, "file to hash")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", o->json, "print the CID, size, segment root and DAG size as JSON");
  cmd->callback([o] {
    auto s = summarize(o->file);
    if (o->json) {
      print_json(summary_json(s));
    } else {
      std::cout << s.cid.to_string() << std::endl;
    }
  });
}

void register_get(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand("get", "Download content by CID from storers, verifying every block");
  struct Opts {
    std::string cid, out;
    NetOptions net;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("CID", o->cid, "content id")->required();
  cmd->add_option("-o,--output", o->out, "output file (default: the CID, in the current directory; '-' for stdout)");
  o->net.add_to(cmd);
  cmd->add_flag("--json", o->json, "print a JSON summary");
  cmd->callback([o] {
    const store::Cid cid = parse_cid(o->cid);
    const auto urls = o->net.storer_urls();
    if (o->out == "-") {
      auto reader = unwrap(store::FileReader::open(node::http_block_getter(urls), cid, store::FileReader::Verify::by_getter));
      unwrap(reader.read(0, reader.size(), [](ByteView piece) {
        std::cout.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
        return bool(std::cout);
      }));
      std::cout.flush();
      return;
    }
    const std::filesystem::path out = o->out.empty() ? std::filesystem::path(cid.to_string()) : std::filesystem::path(o->out);
    ProgressLine line("downloading " + cid.to_string(), kShowProgressAbove);
    const auto start = std::chrono::steady_clock::now();
    const uint64_t size = unwrap(node::fetch_file(cid, urls, out, [&](uint64_t d, uint64_t t) { line.update(d, t); }));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o->json) {
      print_json({{"cid", cid.to_string()}, {"file", out.string()}, {"size", size}, {"seconds", secs}});
    } else {
      std::cout << "saved " << out.string() << " (" << human_bytes(size) << ", every block verified against " << cid.to_string() << ")" << std::endl;
    }
  });
}

void register_export(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand("export", "Write the DAG of a CID as a CAR v1 file (from a local store or from storers)");
  struct Opts {
    std::string cid, out, store_dir;
    NetOptions net;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("CID", o->cid, "content id")->required();
  cmd->add_option("-o,--output", o->out, "CAR file to write")->required();
  cmd->add_option("--store", o->store_dir, "local blockstore directory (a node's DATA_DIR/store, or the default local store)");
  o->net.add_to(cmd);
  cmd->add_flag("--json", o->json, "print a JSON summary");
  cmd->callback([o] {
    const store::Cid cid = parse_cid(o->cid);
    const auto tmp = std::filesystem::path(o->out + ".part");
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Exception(Error(Errc::io, "cannot write " + tmp.string()));
    uint64_t bytes = 0, blocks = 0;
    auto sink = [&](ByteView b) {
      f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      bytes += b.size();
      return bool(f);
    };
    std::string source;
    auto finish_error = [&](const Error& e) {
      f.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw Exception(e);
    };
    const bool use_local = !o->store_dir.empty() || (o->net.storers.empty() && !o->net.has_chain());
    if (use_local) {
      const auto dir = o->store_dir.empty() ? default_store_dir() : std::filesystem::path(o->store_dir);
      auto bs = unwrap(store::Blockstore::open(dir));
      if (!bs->pinned(cid)) finish_error(Error(Errc::not_found, cid.to_string() + " is not (completely) in the store " + dir.string() + "; use --storer/--devnet to export from storers"));
      auto n = store::export_car(*bs, cid, sink);
      if (!n) finish_error(n.error());
      source = dir.string();
    } else {
      const auto urls = o->net.storer_urls();
      auto reader = store::FileReader::open(node::http_block_getter(urls), cid, store::FileReader::Verify::by_getter);
      if (!reader) finish_error(reader.error());
      store::CarWriter car(sink, {cid});
      auto walked = reader->walk([&](const store::Cid& c, ByteView block) -> Result<void> {
        ++blocks;
        if (!car.add(c, block)) return fail(Errc::io, "writing " + tmp.string() + " failed (disk full?)");
        return {};
      });
      if (!walked) finish_error(walked.error());
      source = "storers";
    }
    f.close();
    if (!f) finish_error(Error(Errc::io, "writing " + tmp.string() + " failed (disk full?)"));
    std::error_code ec;
    std::filesystem::rename(tmp, o->out, ec);
    if (ec) finish_error(Error(Errc::io, "cannot move " + tmp.string() + " to " + o->out + ": " + ec.message()));
    if (o->json) {
      print_json({{"cid", cid.to_string()}, {"car", o->out}, {"bytes", bytes}, {"source", source}});
    } else {
      std::cout << "wrote " << o->out << " (" << human_bytes(bytes) << ", CAR v1, root " << cid.to_string() << ") from " << source << std::endl;
    }
  });
}

void register_import(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand("import", "Import a CAR v1 file into a local blockstore (every block verified)");
  struct Opts {
    std::string car, store_dir;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("CAR", o->car, "CAR v1 file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--store", o->store_dir, "blockstore directory (default: $DGRID_STORE or ~/.local/share/dgrid/store)");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    const auto dir = o->store_dir.empty() ? default_store_dir() : std::filesystem::path(o->store_dir);
    auto bs = unwrap(store::Blockstore::open(dir));
    std::ifstream in(o->car, std::ios::binary);
    if (!in) throw Exception(Error(Errc::io, "cannot read " + o->car));
    auto r = store::import_car(*bs, in);
    if (!r) throw Exception(Error(r.error().code, o->car + ": " + r.error().message));
    nlohmann::json roots = nlohmann::json::array(), pinned = nlohmann::json::array();
    for (const auto& c : r->roots) roots.push_back(c.to_string());
    for (const auto& c : r->pinned) pinned.push_back(c.to_string());
    if (o->json) {
      print_json({{"store", dir.string()}, {"blocks", r->blocks}, {"bytes", r->bytes}, {"roots", roots}, {"pinned", pinned}});
      return;
    }
    std::cout << "imported " << r->blocks << " blocks (" << human_bytes(r->bytes) << ") into " << dir.string() << "\n";
    for (const auto& c : r->roots) {
      const bool complete = std::find(r->pinned.begin(), r->pinned.end(), c) != r->pinned.end();
      std::cout << "  root " << c.to_string() << (complete ? "  complete (pinned)" : "  INCOMPLETE: blocks missing") << "\n";
    }
    std::cout.flush();
  });
}

// ------------------------------------------------------------------ deals

u256 parse_amount(const std::string& text, const char* what) {
  auto v = parse_units(text, kDecimals);
  if (!v) throw Exception(Error(Errc::invalid_argument, std::string(what) + ": '" + text + "' is not an amount in dUSD (e.g. 0.24)"));
  return *v;
}

uint32_t parse_fraction_ppm(const std::string& text, const char* what) {
  auto v = parse_units(text, 6);
  if (!v || *v == 0 || *v >= 1'000'000) {
    throw Exception(Error(Errc::invalid_argument, std::string(what) + ": '" + text + "' must be a fraction between 0 and 1 (e.g. 0.01 for 1%)"));
  }
  return static_cast<uint32_t>(*v);
}

// Every StorageMarket event `name` since the deployment block, decoded.
std::vector<eth::StorageEventData> storage_events(const eth::DgridContracts& c, eth::RpcClient& rpc, const eth::Deployment& d,
                                                  std::string_view name) {
  const uint64_t head = unwrap(rpc.block_number());
  auto events = unwrap(c.storage.contract().query_events(name, d.block, head));
  std::vector<eth::StorageEventData> out;
  for (const auto& e : events) out.push_back(unwrap(eth::decode_storage_event(e)));
  return out;
}

void register_put(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand(
      "put", "Store a file permanently: quote the one-time endowment, open a deal, upload, wait for storers to claim");
  struct Opts {
    std::string file, cost = "0.24", decline = "0.01", endowment;
    uint32_t replicas = 2;
    NetOptions net;
    KeyOptions key;
    double wait_s = 120;
    bool json = false, quote_only = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("FILE", o->file, "file to store")->required()->check(CLI::ExistingFile);
  cmd->add_option("--replicas", o->replicas, "independent storers that keep a copy (1-16)")->capture_default_str();
  cmd->add_option("--cost-per-gib-year", o->cost, "assumed storage cost today, dUSD per GiB-year (C, docs/economics.md §4)")->capture_default_str();
  cmd->add_option("--decline", o->decline, "assumed yearly decline of that cost (r); endowment per GiB = C / r")->capture_default_str();
  cmd->add_option("--endowment", o->endowment, "pay exactly this many dUSD instead of the quote");
  cmd->add_flag("--quote", o->quote_only, "print the quote and stop (no chain transaction)");
  cmd->add_option("--wait", o->wait_s, "seconds to wait for every replica slot to be claimed (0: do not wait)")->capture_default_str();
  o->net.add_to(cmd);
  o->key.add_to(*cmd);
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    auto s = summarize(o->file);
    market::StoragePriceParams price;
    price.cost_per_gib_year = parse_amount(o->cost, "--cost-per-gib-year");
    price.decline_ppm = parse_fraction_ppm(o->decline, "--decline");
    auto quote = unwrap(market::quote_endowment(s.size, o->replicas, price));
    u256 endowment = o->endowment.empty() ? quote.total : parse_amount(o->endowment, "--endowment");
    if (o->quote_only) {
      nlohmann::json j = summary_json(s);
      j["quote"] = market::quote_to_json(quote, kDecimals);
      if (o->json) {
        print_json(j);
      } else {
        std::cout << s.cid.to_string() << "  " << human_bytes(s.size) << "  x" << o->replicas << " replicas\n"
                  << "endowment " << format_units(quote.total, kDecimals) << " dUSD (" << format_units(quote.per_gib_per_replica, kDecimals)
                  << " dUSD per GiB per replica = C / r; year one pays each replica " << format_units(quote.first_year_per_replica, kDecimals)
                  << " dUSD)" << std::endl;
      }
      return;
    }
    const auto chain_target = o->net.chain();
    auto chain = unwrap(node::ChainContext::connect(chain_target.rpc_url, chain_target.deployment, o->key.load()));
    node::PutOptions po;
    po.replicas = o->replicas;
    po.endowment = endowment;
    po.storer_urls = o->net.storer_urls();
    po.wait_claims = std::chrono::milliseconds(static_cast<int64_t>(o->wait_s * 1000));
    std::unique_ptr<ProgressLine> line;
    std::string line_url;
    node::PutEvents ev;
    ev.step = [](const std::string& line_text) { progress(line_text); };
    ev.upload = [&](const std::string& url, uint64_t d, uint64_t t) {
      if (url != line_url) line = std::make_unique<ProgressLine>("uploading to " + url, kShowProgressAbove), line_url = url;
      line->update(d, t);
    };
    auto put = unwrap(node::put_file(*chain, o->file, s, po, ev));
    line.reset();
    const auto& slots = put.slots;
    const uint32_t claimed = put.claimed;
    const std::string& uploaded_to = put.uploaded_to;
    const auto& deal = put;
    nlohmann::json sj = nlohmann::json::array();
    for (uint32_t i = 0; i < slots.size(); ++i) {
      sj.push_back({{"slot", i},
                    {"storer", slots[i].open() ? nlohmann::json(nullptr) : nlohmann::json(slots[i].storer.checksummed())},
                    {"first_epoch", slots[i].next_epoch},
                    {"collateral", format_units(slots[i].collateral, kDecimals)}});
    }
    if (o->json) {
      nlohmann::json j = summary_json(s);
      j["deal_id"] = deal.deal_id;
      j["endowment"] = format_units(endowment, kDecimals);
      j["quote"] = market::quote_to_json(quote, kDecimals);
      j["uploaded_to"] = uploaded_to;
      j["slots"] = sj;
      j["claimed"] = claimed;
      print_json(j);
    } else {
      std::cout << s.cid.to_string() << "\n"
                << "  deal " << deal.deal_id << ", " << human_bytes(s.size) << ", endowment " << format_units(endowment, kDecimals)
                << " dUSD, segment root " << to_hex(s.segment_root) << "\n";
      for (uint32_t i = 0; i < slots.size(); ++i) {
        std::cout << "  slot " << i << ": "
                  << (slots[i].open() ? std::string("not claimed yet") : slots[i].storer.checksummed() + " (proves from epoch " + std::to_string(slots[i].next_epoch) + ")")
                  << "\n";
      }
      std::cout.flush();
    }
    if (claimed < o->replicas && o->wait_s > 0) {
      progress("note: " + std::to_string(o->replicas - claimed) + " slot(s) still open; storers may claim later (`dgrid store status " + s.cid.to_string() + "`)");
    }
  });
}

void register_status(CLI::App* store_cmd) {
  auto* cmd = store_cmd->add_subcommand("status", "Deals, replicas, last proofs and payouts of a CID, read from the chain");
  struct Opts {
    std::string cid;
    NetOptions net;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("CID", o->cid, "content id")->required();
  o->net.add_to(cmd, /*chain_only=*/true);
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    const store::Cid cid = parse_cid(o->cid);
    const auto target = o->net.chain();
    auto rpc = unwrap(eth::RpcClient::connect(target.rpc_url));
    auto c = unwrap(eth::DgridContracts::at(*rpc, target.deployment));
    const uint64_t epoch = unwrap(c.storage.current_epoch());
    const Bytes want = cid.bytes(), want_v1 = cid.to_v1().bytes();

    std::vector<eth::DealOpenedEvent> deals;
    for (auto& e : storage_events(c, *rpc, target.deployment, "DealOpened")) {
      auto& d = std::get<eth::DealOpenedEvent>(e);
      if (d.cid == want || d.cid == want_v1) deals.push_back(d);
    }
    auto proven = storage_events(c, *rpc, target.deployment, "StorageProven");
    auto missed = storage_events(c, *rpc, target.deployment, "StorageProofMissed");

    nlohmann::json dj = nlohmann::json::array();
    for (const auto& d : deals) {
      nlohmann::json slots = nlohmann::json::array();
      u256 paid_total = 0;
      for (uint32_t i = 0; i < d.replicas; ++i) {
        auto slot = unwrap(c.storage.get_slot(d.deal_id, i));
        uint64_t proofs = 0, last_epoch = 0;
        u256 paid = 0;
        for (const auto& e : proven) {
          const auto& p = std::get<eth::StorageProvenEvent>(e);
          if (p.deal_id != d.deal_id || p.slot != i) continue;
          ++proofs;
          paid += p.payment;
          last_epoch = std::max(last_epoch, p.epoch);
        }
        uint64_t misses = 0;
        for (const auto& e : missed) {
          const auto& m = std::get<eth::StorageProofMissedEvent>(e);
          if (m.deal_id == d.deal_id && m.slot == i) ++misses;
        }
        paid_total += paid;
        slots.push_back({{"slot", i},
                         {"storer", slot.open() ? nlohmann::json(nullptr) : nlohmann::json(slot.storer.checksummed())},
                         {"next_epoch", slot.next_epoch},
                         {"collateral", format_units(slot.collateral, kDecimals)},
                         {"pool", format_units(slot.pool, kDecimals)},
                         {"proofs", proofs},
                         {"last_proven_epoch", proofs ? nlohmann::json(last_epoch) : nlohmann::json(nullptr)},
                         {"paid", format_units(paid, kDecimals)},
                         {"missed", misses}});
      }
      dj.push_back({{"deal_id", d.deal_id},
                    {"client", d.client.checksummed()},
                    {"size", d.size},
                    {"replicas", d.replicas},
                    {"segment_root", to_hex(d.segment_root)},
                    {"endowment", format_units(d.endowment, kDecimals)},
                    {"paid", format_units(paid_total, kDecimals)},
                    {"slots", slots}});
    }
    if (o->json) {
      print_json({{"cid", cid.to_string()}, {"current_epoch", epoch}, {"deals", dj}});
      return;
    }
    if (deals.empty()) {
      std::cout << "no deal stores " << cid.to_string() << " on this chain (open one with `dgrid store put FILE`)" << std::endl;
      throw CLI::RuntimeError(1);
    }
    std::cout << cid.to_string() << "  (current epoch " << epoch << ")\n";
    for (const auto& d : dj) {
      std::cout << "  deal " << d["deal_id"].get<uint64_t>() << ": " << human_bytes(d["size"].get<uint64_t>()) << ", "
                << d["replicas"].get<uint32_t>() << " replicas, endowment " << d["endowment"].get<std::string>() << " dUSD, paid out "
                << d["paid"].get<std::string>() << " dUSD\n";
      for (const auto& sl : d["slots"]) {
        std::cout << "    slot " << sl["slot"].get<uint32_t>() << ": ";
        if (sl["storer"].is_null()) {
          std::cout << "OPEN (waiting for a storer; pool " << sl["pool"].get<std::string>() << " dUSD)";
        } else {
          std::cout << sl["storer"].get<std::string>() << ", " << sl["proofs"].get<uint64_t>() << " proofs";
          if (!sl["last_proven_epoch"].is_null()) std::cout << " (last epoch " << sl["last_proven_epoch"].get<uint64_t>() << ")";
          std::cout << ", paid " << sl["paid"].get<std::string>() << " dUSD, next due epoch " << sl["next_epoch"].get<uint64_t>()
                    << ", collateral " << sl["collateral"].get<std::string>() << " dUSD";
        }
        if (sl["missed"].get<uint64_t>() > 0) std::cout << ", " << sl["missed"].get<uint64_t>() << " missed proof(s) slashed";
        std::cout << "\n";
      }
    }
    std::cout.flush();
  });
}

void register_deal_commands(CLI::App* store_cmd) {
  register_put(store_cmd);
  register_status(store_cmd);
}

void register_store(CLI::App& app) {
  auto* cmd = app.add_subcommand("store", "Content-addressed storage: CIDs, deals, uploads and downloads");
  cmd->require_subcommand(1);
  register_cid(cmd);
  register_get(cmd);
  register_export(cmd);
  register_import(cmd);
  register_deal_commands(cmd);
}

const CommandRegistrar kRegistrar{"store", register_store};

}  // namespace
}  // namespace dgrid::cli
