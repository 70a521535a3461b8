// The node's durable state in one SQLite file (DATA_DIR/node.db): sender credit and holds,
// replay protection and winning tickets, receipts, gateway jobs, disputes, counters and the
// chain follower's cursors. Every mutation is one transaction: a crash at any instant loses
// nothing that was acknowledged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/u256.hpp"
#include "crypto/address.hpp"
#include "node/sqlite.hpp"

namespace dgrid::node {

using crypto::Address;

struct PendingTicket {
  int64_t id = 0;
  std::string json;  // the signed ticket as received (tickets-on-the-wire form)
  uint64_t expiration_block = 0;
  uint32_t attempts = 0;  // failed redemption attempts so far
};

struct TicketCounts {
  uint64_t pending = 0;
  uint64_t redeemed = 0;
  uint64_t failed = 0;
};

enum class SpotCheck { none, pending, match, mismatch, error };
std::string_view spot_check_name(SpotCheck s) noexcept;
Result<SpotCheck> parse_spot_check(std::string_view text);

// A job the gateway routed to a provider (gateway side).
struct JobRecord {
  Hash32 job_id{};
  Address provider;
  Hash32 model{};
  Bytes request;  // the canonical request encoding (input of the job)
  std::optional<Hash32> output_hash;
  u256 cost = 0;
  SpotCheck spot_check = SpotCheck::none;
  std::optional<u256> dispute_id;
};

struct DisputeRecord {
  u256 id = 0;
  std::string role;  // "challenger", "juror", "provider", ...
  std::string json;  // the owner's progress record
  bool open = true;
};

// StorageMarket as a storer sees it (node/storer_deals.hpp keeps these from the events).
struct StorageDealRecord {
  uint64_t id = 0;
  Address client;
  Bytes cid;  // binary CIDv1 (the declared bytes when they do not parse as a CID)
  Hash32 segment_root{};
  uint64_t size = 0;
  uint32_t replicas = 0;
  u256 endowment = 0;
  uint64_t opened_block = 0;
  std::optional<std::string> rejected;  // why this storer will never claim it
};

struct StorageSlotRecord {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  std::optional<Address> storer;  // empty while open
  uint64_t next_epoch = 0;
  u256 collateral = 0;
  bool reopened = false;  // opened again after a storer left or was slashed
  // Chain position of the event this row reflects.
  uint64_t ev_block = 0;
  uint64_t ev_index = 0;
};

struct StorageProofRecord {
  uint64_t deal_id = 0;
  uint32_t slot = 0;
  uint64_t epoch = 0;
  Address storer;
  uint64_t segment_index = 0;
  u256 payment = 0;
  Hash32 tx_hash{};
  uint64_t block = 0;
};

// Thread-safe: one connection guarded by a mutex; every call is one transaction.
class NodeState {
 public:
  // Opens (creating when missing) DATA_DIR/node.db, migrates the schema, and releases every
  // credit hold left by a previous run: a job that was interrupted produced no receipt, so
  // its sender is not charged.
  static Result<std::unique_ptr<NodeState>> open(const std::filesystem::path& data_dir,
                                                 const DbOptions& options = {});
  const std::filesystem::path& path() const noexcept { return path_; }
  // Holds released at open (crash recovery).
  uint64_t holds_released_at_open() const noexcept { return holds_released_at_open_; }

  // ---- Credit (provider side), in token base units per sender (ticket signer) ----
  Result<u256> credit(const Address& sender);
  // Records a ticket by its digest and credits its expected value to the sender, storing it
  // for redemption (status pending) when winning_ticket_json is set. Errc::already_exists
  // "ticket already used" when the digest was seen before, even in an earlier run. Returns
  // the new balance.
  Result<u256> add_ticket(const Address& sender, const Hash32& digest, const u256& ev,
                          const std::optional<std::string>& winning_ticket_json,
                          uint64_t expiration_block);
  // Moves `amount` from the sender's balance into a new hold; Errc::failed_precondition
  // "insufficient credit: have X, need Y" when the balance is short. Returns the hold id.
  Result<uint64_t> hold(const Address& sender, const u256& amount);
  // Charges `charge` (<= the held amount) and refunds the rest; the hold is gone after.
  Result<void> settle(uint64_t hold_id, const u256& charge);
  // Refunds the whole hold.
  Result<void> release(uint64_t hold_id);
  // Forgets replay digests of tickets that expired before `block`: they cannot be accepted
  // again anyway, as acceptance checks expiry. Returns how many were removed.
  Result<uint64_t> prune_seen_tickets(uint64_t block);

  // ---- Winning tickets awaiting redemption ----
  // Pending tickets, soonest expiry first.
  Result<std::vector<PendingTicket>> pending_tickets(size_t limit);
  Result<void> mark_redeemed(const std::vector<int64_t>& ids, const Hash32& tx_hash);
  // permanent: the ticket can never be redeemed (status failed); otherwise counts an attempt
  // and leaves it pending for a later retry.
  Result<void> mark_failed(int64_t id, std::string_view reason, bool permanent);
  Result<TicketCounts> ticket_counts();

  // ---- Receipts ----
  // Idempotent for the same JSON; Errc::already_exists when the job has a different receipt.
  Result<void> put_receipt(const Hash32& job_id, const std::string& json);
  Result<std::optional<std::string>> receipt(const Hash32& job_id);

  // ---- Jobs (gateway side) ----
  // Errc::already_exists when the job id is known.
  Result<void> put_job(const JobRecord& job);
  // Both in one transaction (a crash leaves neither or both); a job already recorded with
  // the same receipt is not an error.
  Result<void> put_receipt_and_job(const std::string& receipt_json, const JobRecord& job);
  // Replaces every field of the job with this id; not_found when unknown.
  Result<void> update_job(const JobRecord& job);
  Result<std::optional<JobRecord>> job(const Hash32& job_id);
  // Jobs whose spot check is pending, oldest first.
  Result<std::vector<JobRecord>> jobs_to_check(size_t limit);

  // ---- Disputes (juror and challenger side) ----
  // Errc::already_exists when this dispute is recorded already.
  Result<void> put_dispute(const u256& id, std::string_view role, const std::string& json);
  Result<std::optional<DisputeRecord>> dispute(const u256& id);
  // not_found when unknown. open=false closes it (it leaves open_disputes()).
  Result<void> update_dispute(const u256& id, const std::string& json, bool open = true);
  Result<std::vector<DisputeRecord>> open_disputes();

  // ---- Generic key/value, counters, follower cursors ----
  Result<std::optional<std::string>> get(std::string_view key);
  Result<void> put(std::string_view key, std::string_view value);
  // Atomically returns the counter's current value (0 the first time) and increments it.
  Result<uint64_t> next_counter(std::string_view key);
  // The last block a follower stream fully processed; nullopt before the first.
  Result<std::optional<uint64_t>> cursor(std::string_view stream);
  Result<void> set_cursor(std::string_view stream, uint64_t block);

  // ---- Storage deals (storer side; state_storage.cpp) ----
  // Records a deal and its open slots (at the DealOpened log's position). Idempotent: a deal
  // already known is left as it is.
  Result<void> put_storage_deal(const StorageDealRecord& deal, uint64_t ev_block, uint64_t ev_index);
  Result<std::optional<StorageDealRecord>> storage_deal(uint64_t id);
  // Deals declaring exactly these CID bytes, newest first.
  Result<std::vector<StorageDealRecord>> storage_deals_for_cid(ByteView cid);
  // Not rejected deals that have at least one open slot, oldest first.
  Result<std::vector<StorageDealRecord>> storage_deals_with_open_slots();
  // Marks the deal as never to be claimed, with the reason; not_found when unknown.
  Result<void> reject_storage_deal(uint64_t id, std::string_view reason);
  // Writes the slot unless its row already reflects an event at or after (ev_block,
  // ev_index). Returns whether it was written.
  Result<bool> put_storage_slot(const StorageSlotRecord& slot);
  Result<std::vector<StorageSlotRecord>> storage_slots(uint64_t deal_id);
  // Slots held by `storer`.
  Result<std::vector<StorageSlotRecord>> storage_slots_held_by(const Address& storer);
  // Held slots whose next due epoch is before `epoch` (proofs missed, unless the rows are stale).
  Result<std::vector<StorageSlotRecord>> storage_slots_due_before(uint64_t epoch);
  // Idempotent per (deal, slot, epoch).
  Result<void> put_storage_proof(const StorageProofRecord& proof);
  // Newest first.
  Result<std::vector<StorageProofRecord>> storage_proofs(uint64_t deal_id, uint32_t slot, size_t limit);
  // Sum of the payments recorded for (deal, slot) to `storer`.
  Result<u256> storage_paid(uint64_t deal_id, uint32_t slot, const Address& storer);

  // ---- Gateway sender side: credit sent ahead to each provider ----
  Result<u256> sent_credit(const Address& provider);
  Result<u256> add_sent_credit(const Address& provider, const u256& amount);

 private:
  NodeState(Db db, std::filesystem::path path) : db_(std::move(db)), path_(std::move(path)) {}
  Result<uint64_t> release_all_holds();
  // Unlocked bodies shared by the public calls (the caller holds mu_).
  Result<void> insert_receipt(const Hash32& job_id, const std::string& json);
  Result<void> insert_job(const JobRecord& job);

  std::mutex mu_;
  Db db_;
  std::filesystem::path path_;
  uint64_t holds_released_at_open_ = 0;
};

}  // namespace dgrid::node
