// NodeState on real SQLite files: credit, holds, replay protection across reopen, crash
// recovery of holds, concurrent holds, kill -9 safety, and the other tables.
#include "node/state.hpp"

#include <gtest/gtest.h>

#include "support/test_env.hpp"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

namespace dgrid::node {
namespace {

using test::TempDir;

Address addr(uint8_t tag) {
  Address a;
  a.bytes.fill(tag);
  return a;
}

Hash32 digest(uint64_t n) {
  Hash32 h{};
  for (int i = 0; i < 8; ++i) h[31 - i] = static_cast<uint8_t>(n >> (8 * i));
  h[0] = 0xd1;
  return h;
}

std::unique_ptr<NodeState> open_state(const std::filesystem::path& dir) {
  auto s = NodeState::open(dir);
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? std::move(*s) : nullptr;
}

TEST(SqliteTest, StatementsBindAndReadEveryType) {
  TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  ASSERT_TRUE(db) << db.error().to_string();
  ASSERT_TRUE(db->exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)"));
  auto ins = db->prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(ins) << ins.error().to_string();
  Bytes blob{0, 1, 2, 0xff};
  ins->bind(1, int64_t{-42}).bind(2, "text").bind(3, ByteView(blob)).bind(4, std::nullopt);
  ASSERT_TRUE(ins->run());
  ins->reset();
  ins->bind(1, int64_t{1}).bind(2, "").bind(3, ByteView()).bind(4, "x");
  ASSERT_TRUE(ins->run());

  auto sel = db->prepare("SELECT i, s, b, n FROM t ORDER BY rowid");
  ASSERT_TRUE(sel);
  ASSERT_TRUE(*sel->step());
  EXPECT_EQ(sel->column_int64(0), -42);
  EXPECT_EQ(sel->column_text(1), "text");
  EXPECT_EQ(sel->column_blob(2), blob);
  EXPECT_TRUE(sel->is_null(3));
  ASSERT_TRUE(*sel->step());
  EXPECT_FALSE(sel->is_null(2)) << "an empty blob must not become NULL";
  EXPECT_TRUE(sel->column_blob(2).empty());
  EXPECT_FALSE(*sel->step());
}

TEST(SqliteTest, ErrorsCarrySqliteMessage) {
  TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  ASSERT_TRUE(db);
  auto bad = db->prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos) << bad.error().message;
  auto two = db->prepare("SELECT 1; SELECT 2");
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message.find("one statement"), std::string::npos);

  ASSERT_TRUE(db->exec("CREATE TABLE u (k TEXT PRIMARY KEY)"));
  ASSERT_TRUE(db->exec("INSERT INTO u VALUES ('a')"));
  auto dup = db->exec("INSERT INTO u VALUES ('a')");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("UNIQUE"), std::string::npos) << dup.error().message;

  auto range = db->prepare("SELECT ?1");
  ASSERT_TRUE(range);
  range->bind(5, int64_t{1});
  auto r = range->step();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("parameter 5"), std::string::npos) << r.error().message;

  auto missing = Db::open(dir.path() / "no" / "such" / "dir.db");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("dir.db"), std::string::npos) << missing.error().message;
}

TEST(SqliteTest, TransactionRollsBackUnlessCommitted) {
  TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER)"));
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  }
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (2)"));
    ASSERT_TRUE(tx->commit());
  }
  auto s = db->prepare("SELECT group_concat(v) FROM t");
  ASSERT_TRUE(*s->step());
  EXPECT_EQ(s->column_text(0), "2");
}

TEST(SqliteTest, MigrationsRunOnceAndRefuseNewerFiles) {
  TempDir dir;
  auto path = dir.path() / "t.db";
  std::vector<std::string_view> v1 = {"CREATE TABLE a (x)"};
  std::vector<std::string_view> v2 = {"CREATE TABLE a (x)", "CREATE TABLE b (y)"};
  {
    auto db = Db::open(path);
    ASSERT_TRUE(db->migrate(v1));
    EXPECT_EQ(*db->user_version(), 1);
    ASSERT_TRUE(db->migrate(v1)) << "re-running is a no-op";
    ASSERT_TRUE(db->migrate(v2));
    EXPECT_EQ(*db->user_version(), 2);
  }
  auto db = Db::open(path);
  auto r = db->migrate(v1);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("newer"), std::string::npos) << r.error().message;

  // A failing migration leaves the previous version intact.
  std::vector<std::string_view> broken = {"CREATE TABLE a (x)", "CREATE TABLE b (y)", "CREATE TABLE a (z)"};
  auto bad = db->migrate(broken);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("schema version 3"), std::string::npos) << bad.error().message;
  EXPECT_EQ(*db->user_version(), 2);
}

TEST(NodeStateTest, CreditHoldSettleReleaseArithmetic) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  const Address alice = addr(0xa1), bob = addr(0xb0);
  EXPECT_EQ(*st->credit(alice), 0);
  EXPECT_EQ(*st->add_ticket(alice, digest(1), 1000, std::nullopt, 100), 1000);
  EXPECT_EQ(*st->add_ticket(alice, digest(2), 500, std::nullopt, 100), 1500);
  EXPECT_EQ(*st->credit(bob), 0);

  auto h1 = st->hold(alice, 1200);
  ASSERT_TRUE(h1) << h1.error().to_string();
  EXPECT_EQ(*st->credit(alice), 300);
  auto short_hold = st->hold(alice, 301);
  ASSERT_FALSE(short_hold);
  EXPECT_EQ(short_hold.error().code, Errc::failed_precondition);
  EXPECT_EQ(short_hold.error().message, "insufficient credit: have 300, need 301");

  auto over = st->settle(*h1, 1201);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::invalid_argument);
  EXPECT_EQ(*st->credit(alice), 300) << "a refused settle changes nothing";

  ASSERT_TRUE(st->settle(*h1, 700));
  EXPECT_EQ(*st->credit(alice), 800);
  auto again = st->settle(*h1, 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::not_found);

  auto h2 = st->hold(alice, 800);
  ASSERT_TRUE(h2);
  EXPECT_EQ(*st->credit(alice), 0);
  ASSERT_TRUE(st->release(*h2));
  EXPECT_EQ(*st->credit(alice), 800);
  EXPECT_FALSE(st->release(*h2));

  auto h3 = st->hold(bob, 0);
  ASSERT_TRUE(h3) << "a zero hold is allowed";
  ASSERT_TRUE(st->settle(*h3, 0));
}

TEST(NodeStateTest, AmountsBeyond64BitsAreExact) {
  TempDir dir;
  const u256 big = (u256(1) << 255) + 12345;
  {
    auto st = open_state(dir.path());
    ASSERT_TRUE(st);
    EXPECT_EQ(*st->add_ticket(addr(1), digest(1), big, std::nullopt, 1), big);
    auto h = st->hold(addr(1), big - 5);
    ASSERT_TRUE(h);
    ASSERT_TRUE(st->settle(*h, big - 10));
  }
  auto st = open_state(dir.path());
  EXPECT_EQ(*st->credit(addr(1)), 10);  // 5 never held + 5 refunded
}

TEST(NodeStateTest, ReplayRejectedAcrossReopen) {
  TempDir dir;
  {
    auto st = open_state(dir.path());
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->add_ticket(addr(1), digest(7), 10, std::nullopt, 50));
    auto dup = st->add_ticket(addr(1), digest(7), 10, std::nullopt, 50);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, Errc::already_exists);
    EXPECT_NE(dup.error().message.find("ticket already used"), std::string::npos);
  }
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  auto dup = st->add_ticket(addr(2), digest(7), 10, std::string("{}"), 50);
  ASSERT_FALSE(dup) << "replay protection must survive a restart";
  EXPECT_EQ(dup.error().code, Errc::already_exists);
  EXPECT_EQ(*st->credit(addr(1)), 10);
  EXPECT_EQ(*st->credit(addr(2)), 0) << "a replay credits nothing";
  EXPECT_EQ(st->ticket_counts()->pending, 0u) << "a replay stores nothing";

  // Pruning forgets only digests of tickets expired before the given block.
  ASSERT_TRUE(st->add_ticket(addr(1), digest(8), 1, std::nullopt, 100));
  EXPECT_EQ(*st->prune_seen_tickets(60), 1u);
  EXPECT_FALSE(st->add_ticket(addr(1), digest(8), 1, std::nullopt, 100));
}

TEST(NodeStateTest, LeftoverHoldsReleasedOnReopen) {
  TempDir dir;
  {
    auto st = open_state(dir.path());
    ASSERT_TRUE(st->add_ticket(addr(1), digest(1), 100, std::nullopt, 1));
    ASSERT_TRUE(st->add_ticket(addr(2), digest(2), 50, std::nullopt, 1));
    ASSERT_TRUE(st->hold(addr(1), 60));
    ASSERT_TRUE(st->hold(addr(1), 30));
    ASSERT_TRUE(st->hold(addr(2), 50));
    auto settled = st->hold(addr(2), 0);
    ASSERT_TRUE(st->settle(*settled, 0));
    EXPECT_EQ(*st->credit(addr(1)), 10);
    EXPECT_EQ(*st->credit(addr(2)), 0);
  }  // "crash": the holds were never settled
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  EXPECT_EQ(st->holds_released_at_open(), 3u);
  EXPECT_EQ(*st->credit(addr(1)), 100);
  EXPECT_EQ(*st->credit(addr(2)), 50);
}

TEST(NodeStateTest, ConcurrentHoldsNeverOverdraw) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  const Address a = addr(9);
  ASSERT_TRUE(st->add_ticket(a, digest(1), 100, std::nullopt, 1));
  std::atomic<int> granted{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  std::mutex ids_mu;
  std::vector<uint64_t> ids;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        auto h = st->hold(a, 1);
        if (h) {
          ++granted;
          std::lock_guard lock(ids_mu);
          ids.push_back(*h);
        } else if (h.error().code == Errc::failed_precondition) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_EQ(refused.load(), 140);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(*st->credit(a), 0);
  // Settle half at full charge, release the rest, from several threads.
  threads.clear();
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < ids.size(); i += 4)
        ASSERT_TRUE(i % 2 ? st->settle(ids[i], 1) : st->release(ids[i]));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(*st->credit(a), 50);
}

TEST(NodeStateTest, WinningTicketsLifecycle) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st->add_ticket(addr(1), digest(1), 5, std::string(R"({"n":1})"), 300));
  ASSERT_TRUE(st->add_ticket(addr(1), digest(2), 5, std::string(R"({"n":2})"), 200));
  ASSERT_TRUE(st->add_ticket(addr(1), digest(3), 5, std::nullopt, 100));
  ASSERT_TRUE(st->add_ticket(addr(1), digest(4), 5, std::string(R"({"n":4})"), 400));

  auto p = st->pending_tickets(10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].json, R"({"n":2})") << "soonest expiry first";
  EXPECT_EQ((*p)[0].expiration_block, 200u);
  EXPECT_EQ((*p)[1].json, R"({"n":1})");
  EXPECT_EQ(st->pending_tickets(1)->size(), 1u);

  Hash32 tx{};
  tx[0] = 0xee;
  ASSERT_TRUE(st->mark_redeemed({(*p)[0].id, (*p)[1].id}, tx));
  ASSERT_TRUE(st->mark_failed((*p)[2].id, "rpc down", /*permanent=*/false));
  auto left = st->pending_tickets(10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].attempts, 1u);
  ASSERT_TRUE(st->mark_failed((*p)[2].id, "ticket expired", /*permanent=*/true));
  EXPECT_TRUE(st->pending_tickets(10)->empty());
  auto c = st->ticket_counts();
  EXPECT_EQ(c->pending, 0u);
  EXPECT_EQ(c->redeemed, 2u);
  EXPECT_EQ(c->failed, 1u);
  EXPECT_EQ(st->mark_failed(999, "x", true).error().code, Errc::not_found);
  EXPECT_EQ(st->mark_redeemed({999}, tx).error().code, Errc::not_found);
}

TEST(NodeStateTest, ReceiptsAreIdempotent) {
  TempDir dir;
  auto st = open_state(dir.path());
  Hash32 job{};
  job[5] = 1;
  EXPECT_FALSE(st->receipt(job)->has_value());
  ASSERT_TRUE(st->put_receipt(job, R"({"a":1})"));
  ASSERT_TRUE(st->put_receipt(job, R"({"a":1})"));
  auto diff = st->put_receipt(job, R"({"a":2})");
  ASSERT_FALSE(diff);
  EXPECT_EQ(diff.error().code, Errc::already_exists);
  EXPECT_EQ(**st->receipt(job), R"({"a":1})");
}

TEST(NodeStateTest, ReceiptAndJobAreStoredTogether) {
  TempDir dir;
  auto st = open_state(dir.path());
  JobRecord job;
  job.job_id = digest(7);
  job.provider = addr(3);
  job.model = digest(8);
  job.request = Bytes{9, 9};
  job.spot_check = SpotCheck::pending;
  ASSERT_TRUE(st->put_receipt_and_job(R"({"r":1})", job));
  ASSERT_TRUE(st->put_receipt_and_job(R"({"r":1})", job)) << "the same receipt again is not an error";
  EXPECT_EQ(**st->receipt(job.job_id), R"({"r":1})");
  ASSERT_TRUE(st->job(job.job_id)->has_value());
  // A different receipt for the job fails as a whole: nothing of the second call lands.
  JobRecord other = job;
  other.job_id = digest(70);
  auto clash = st->put_receipt_and_job(R"({"r":2})", job);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, Errc::already_exists);
  EXPECT_EQ(**st->receipt(job.job_id), R"({"r":1})");
  // A job whose receipt insert succeeds but whose row is new lands together with it.
  ASSERT_TRUE(st->put_receipt_and_job(R"({"r":3})", other));
  EXPECT_TRUE(st->job(other.job_id)->has_value());
  EXPECT_EQ(**st->receipt(other.job_id), R"({"r":3})");
}

TEST(NodeStateTest, JobsRoundTripAndSpotCheckQueue) {
  TempDir dir;
  auto st = open_state(dir.path());
  std::vector<JobRecord> jobs(3);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].job_id = digest(100 + i);
    jobs[i].provider = addr(static_cast<uint8_t>(i + 1));
    jobs[i].model = digest(5);
    jobs[i].request = Bytes{1, 2, static_cast<uint8_t>(i)};
    jobs[i].cost = u256(1) << 200;
    jobs[i].spot_check = i == 1 ? SpotCheck::none : SpotCheck::pending;
    ASSERT_TRUE(st->put_job(jobs[i]));
  }
  EXPECT_EQ(st->put_job(jobs[0]).error().code, Errc::already_exists);
  auto check = st->jobs_to_check(10);
  ASSERT_TRUE(check) << check.error().to_string();
  ASSERT_EQ(check->size(), 2u);
  EXPECT_EQ((*check)[0].job_id, jobs[0].job_id);
  EXPECT_EQ((*check)[1].job_id, jobs[2].job_id);
  EXPECT_EQ((*check)[0].request, jobs[0].request);
  EXPECT_EQ((*check)[0].cost, jobs[0].cost);
  EXPECT_FALSE((*check)[0].output_hash);

  jobs[0].spot_check = SpotCheck::mismatch;
  jobs[0].output_hash = digest(77);
  jobs[0].dispute_id = u256(3);
  ASSERT_TRUE(st->update_job(jobs[0]));
  auto got = st->job(jobs[0].job_id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->spot_check, SpotCheck::mismatch);
  EXPECT_EQ((*got)->output_hash, digest(77));
  EXPECT_EQ((*got)->dispute_id, u256(3));
  EXPECT_EQ(st->jobs_to_check(10)->size(), 1u);
  JobRecord unknown = jobs[0];
  unknown.job_id = digest(999);
  EXPECT_EQ(st->update_job(unknown).error().code, Errc::not_found);
  EXPECT_FALSE(st->job(unknown.job_id)->has_value());
}

TEST(NodeStateTest, DisputesOpenAndClose) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st->put_dispute(10, "juror", "{}"));
  ASSERT_TRUE(st->put_dispute(9, "challenger", R"({"s":1})"));
  EXPECT_EQ(st->put_dispute(9, "juror", "{}").error().code, Errc::already_exists);
  auto open = st->open_disputes();
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].id, 9) << "numeric order, not text order";
  ASSERT_TRUE(st->update_dispute(9, R"({"s":2})", /*open=*/false));
  EXPECT_EQ(st->open_disputes()->size(), 1u);
  auto d = st->dispute(9);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->json, R"({"s":2})");
  EXPECT_EQ((*d)->role, "challenger");
  EXPECT_FALSE((*d)->open);
  EXPECT_EQ(st->update_dispute(1, "{}").error().code, Errc::not_found);
}

TEST(NodeStateTest, KeyValueCountersCursorsPersist) {
  TempDir dir;
  {
    auto st = open_state(dir.path());
    EXPECT_FALSE(st->get("k")->has_value());
    ASSERT_TRUE(st->put("k", "v1"));
    ASSERT_TRUE(st->put("k", "v2"));
    EXPECT_EQ(*st->next_counter("nonce/0xabc"), 0u);
    EXPECT_EQ(*st->next_counter("nonce/0xabc"), 1u);
    EXPECT_EQ(*st->next_counter("other"), 0u);
    EXPECT_FALSE(st->cursor("registry")->has_value());
    ASSERT_TRUE(st->set_cursor("registry", 42));
    EXPECT_EQ(*st->add_sent_credit(addr(3), 7), 7);
    EXPECT_EQ(*st->add_sent_credit(addr(3), 8), 15);
  }
  auto st = open_state(dir.path());
  EXPECT_EQ(**st->get("k"), "v2");
  EXPECT_EQ(*st->next_counter("nonce/0xabc"), 2u);
  EXPECT_EQ(**st->cursor("registry"), 42u);
  EXPECT_EQ(*st->sent_credit(addr(3)), 15);
  EXPECT_EQ(*st->sent_credit(addr(4)), 0);
}

TEST(NodeStateTest, ConcurrentCountersAreUnique) {
  TempDir dir;
  auto st = open_state(dir.path());
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> seen;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto v = st->next_counter("n");
        ASSERT_TRUE(v);
        std::lock_guard lock(mu);
        EXPECT_TRUE(seen.insert(*v).second) << "duplicate counter value " << *v;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(*seen.rbegin(), 199u);
}

TEST(NodeStateTest, CorruptFileIsAClearError) {
  TempDir dir;
  {
    std::ofstream f(dir.path() / "node.db", std::ios::binary);
    f << std::string(8192, 'x');
  }
  auto st = NodeState::open(dir.path());
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("node.db"), std::string::npos) << st.error().message;
}

// A child process accepts tickets as fast as it can and reports each one after add_ticket
// returned; the parent SIGKILLs it mid-stream. Every reported ticket must be there after
// reopening: the credit of acknowledged tickets survives kill -9.
TEST(NodeStateTest, KillNineLosesNoAcknowledgedTicket) {
  TempDir dir;
  { ASSERT_TRUE(open_state(dir.path())); }  // create the schema before forking
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto st = NodeState::open(dir.path());
    if (!st) ::_exit(2);
    for (uint32_t i = 0;; ++i) {
      auto r = (*st)->add_ticket(addr(1), digest(i), 1, i % 10 == 0 ? std::optional<std::string>("{}") : std::nullopt,
                                 1000);
      if (!r) ::_exit(3);
      if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
    }
  }
  ::close(fds[1]);
  uint32_t last = 0, n = 0;
  bool any = false;
  while (n < 300) {
    uint32_t v;
    ssize_t got = ::read(fds[0], &v, sizeof v);
    ASSERT_EQ(got, static_cast<ssize_t>(sizeof v)) << "child stopped early";
    last = v;
    any = true;
    ++n;
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // Drain what the child acknowledged before it died.
  uint32_t v;
  while (::read(fds[0], &v, sizeof v) == sizeof v) last = v;
  ::close(fds[0]);
  ASSERT_TRUE(any);

  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  auto credit = *st->credit(addr(1));
  EXPECT_GE(credit, u256(last) + 1) << "acknowledged tickets were lost";
  EXPECT_LE(credit, u256(last) + 2) << "at most the one in flight may have committed unreported";
  for (uint32_t i = 0; i <= last; ++i) {
    auto r = st->add_ticket(addr(1), digest(i), 1, std::nullopt, 1000);
    ASSERT_FALSE(r) << "ticket " << i << " was acknowledged but is missing after kill -9";
  }
  EXPECT_GE(st->ticket_counts()->pending, last / 10 + 1);
}

}  // namespace
}  // namespace dgrid::node
