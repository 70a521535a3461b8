// The client side of dgrid storage (DESIGN §9), shared by `dgrid store`, storers repairing a
// slot and providers loading models by CID: finding storers, fetching a DAG by CID from any
// of them (every block verified, bad sources skipped), uploading a file to a storer, and the
// deal operations on StorageMarket.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/u256.hpp"
#include "crypto/secp256k1.hpp"
#include "eth/bindings.hpp"
#include "store/blockstore.hpp"
#include "store/segments.hpp"

namespace dgrid::node {

class ChainContext;

// bytes done, bytes total (0 when unknown).
using TransferProgress = std::function<void(uint64_t done, uint64_t total)>;

// An active registry provider that runs a storer: its metadata JSON has "storage": URL.
struct StorerEndpoint {
  crypto::Address address;
  std::string url;  // base URL of its storer service
};
Result<std::vector<StorerEndpoint>> discover_storers(eth::RpcClient& rpc, const eth::Deployment& d);

// Fetches the DAG of `root` into `bs` from the first source that serves it (CAR over
// GET /ipfs/{cid}?format=car, streamed, every block verified before it is stored), falling
// back to the next source on any error (a source sending a wrong block is dropped), then pins
// the root. Already-present blocks are not fetched again. Errc::unavailable naming every
// source's failure when none could serve it.
Result<void> fetch_dag(store::Blockstore& bs, const store::Cid& root, const std::vector<std::string>& source_urls,
                       const TransferProgress& progress = {});

// Uploads a file to one storer: its blocks re-derived from the file (no local copy) and sent
// as CAR batches (POST /dgrid/v1/store/blocks, X-Dgrid-Auth signed by `key`), then
// POST /dgrid/v1/store/pins/{cid} which the storer accepts only when the DAG is complete and a
// deal for the CID exists whose client is the signer. Sends no blocks when the storer
// already holds the object pinned (HEAD /ipfs/{cid}); otherwise every block goes out and the
// storer skips writing those it has. A fresh deal the storer has not seen yet (403 no_deal) is
// retried for 30 s.
Result<void> upload_file(const std::filesystem::path& file, const store::Cid& root, const std::string& storer_url,
                         const crypto::PrivateKey& key, const TransferProgress& progress = {});

// A BlockGetter over storers' trustless-gateway API: GET {url}/ipfs/{cid}?format=raw per block,
// each verified against its CID; a source that fails or sends wrong bytes is skipped and the
// next one tried (sources keep their order; the last good one is tried first next time).
// Thread-safe. Errc::unavailable naming each source's failure when none has the block.
store::BlockGetter http_block_getter(std::vector<std::string> source_urls);

// Downloads the UnixFS file `root` from storers to `out` without a local blockstore copy:
// blocks are fetched one by one (http_block_getter) and verified, bytes written to a
// temporary file beside `out` that is renamed into place only when complete, so a failure
// leaves no partial file. Returns the file size.
Result<uint64_t> fetch_file(const store::Cid& root, const std::vector<std::string>& source_urls,
                            const std::filesystem::path& out, const TransferProgress& progress = {});

// ---- storing a file: open a deal and upload (`dgrid store put`, the demo)

struct PutOptions {
  uint32_t replicas = 2;
  u256 endowment = 0;                      // what openDeal pulls (market::quote_endowment)
  std::vector<std::string> storer_urls;    // tried in order for the upload
  std::chrono::milliseconds wait_claims{0};  // wait until every slot is claimed (0: do not wait)
};
struct PutResult {
  uint64_t deal_id = 0;
  uint64_t opened_block = 0;
  std::string uploaded_to;
  std::vector<eth::StorageSlot> slots;  // as last read (empty when not waiting)
  uint32_t claimed = 0;
};
struct PutEvents {
  std::function<void(const std::string&)> step;  // one line per step
  // Upload progress to one storer: (url, bytes done, bytes total).
  std::function<void(const std::string&, uint64_t, uint64_t)> upload;
};
// Opens the deal for `summary` (checking the balance first), uploads the file to the first
// storer that accepts it (the others fetch it from that one), then waits for claims. The
// deal stays open when every upload fails: the error says so and how to retry.
Result<PutResult> put_file(ChainContext& chain, const std::filesystem::path& file, const store::ContentSummary& summary,
                           const PutOptions& options, const PutEvents& events = {});

// The CID of a local file under the unixfs-v1-2025 profile (one streaming read, no keccak).
Result<store::Cid> file_cid(const std::filesystem::path& file);

// A local copy of content `cid` at DIR/<cid>: an existing file is re-hashed and kept only if
// its CID matches (else replaced); a missing one is fetched from `source_urls` with
// fetch_file. How providers load models named by content id. Returns the path.
Result<std::filesystem::path> ensure_content_file(const store::Cid& cid, const std::filesystem::path& dir,
                                                  const std::vector<std::string>& source_urls,
                                                  const TransferProgress& progress = {});

}  // namespace dgrid::node
