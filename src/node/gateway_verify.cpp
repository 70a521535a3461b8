// Trust but verify: every receipt is checked and stored, and a fraction of jobs is
// re-executed on a different provider (or a local copy of the model); a different output
// hash, confirmed by a third execution where one is possible, becomes a dispute
// (gateway_dispute.cpp). DESIGN §7.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "crypto/keccak.hpp"
#include "crypto/sha256.hpp"
#include "infer/engine.hpp"
#include "market/canonical.hpp"
#include "node/gateway_impl.hpp"
#include "node/provider.hpp"

namespace dgrid::node {

// ---------------------------------------------------------------------------------------
// Receipts

Result<VerifiedJob> Gateway::Impl::accept_receipt(const nlohmann::json& receipt_json, const nlohmann::json& request_hex,
                                                  const crypto::Address& expected_provider, const Hash32& expected_model,
                                                  std::optional<uint64_t> expected_seed, const market::Price& price,
                                                  ReceiptUse use) {
  auto fail_counted = [this](Errc c, std::string msg) -> Result<VerifiedJob> {
    stats.receipts_invalid++;
    metrics.receipts_invalid.inc();
    return fail(c, std::move(msg));
  };
  auto sr = market::receipt_from_json(receipt_json);
  if (!sr) return fail_counted(sr.error().code, "receipt: " + sr.error().message);
  const market::Receipt& r = sr->receipt;
  if (auto v = market::verify_receipt_signature(*sr); !v) return fail_counted(v.error().code, "receipt: " + v.error().message);
  if (r.provider != expected_provider) {
    return fail_counted(Errc::permission_denied, "receipt names provider " + r.provider.checksummed() +
                                                     " but the job ran on " + expected_provider.checksummed());
  }
  if (r.chain_id != chain.chain_id() || sr->verifying_contract != chain.deployment().disputes) {
    return fail_counted(Errc::invalid_argument, "receipt is for another chain or Disputes contract");
  }
  if (!request_hex.is_string()) return fail_counted(Errc::malformed, "dgrid_request must be a 0x-hex string");
  auto request = from_hex(request_hex.get<std::string>());
  if (!request) return fail_counted(Errc::malformed, "dgrid_request: " + request.error().message);
  if (crypto::keccak256(*request) != r.input_hash) {
    return fail_counted(Errc::invalid_argument, "receipt input_hash is not keccak256(dgrid_request)");
  }
  auto canonical = market::decode_canonical(*request);
  if (!canonical) return fail_counted(canonical.error().code, "dgrid_request: " + canonical.error().message);
  if (canonical->model != expected_model || r.model != expected_model) {
    return fail_counted(Errc::invalid_argument, "receipt is for model " + to_hex(r.model) + ", not the requested " +
                                                    to_hex(expected_model));
  }
  if (expected_seed && canonical->seed != *expected_seed) {
    return fail_counted(Errc::invalid_argument, "the provider ran seed " + std::to_string(canonical->seed) +
                                                    " instead of the gateway's " + std::to_string(*expected_seed));
  }
  if (r.prompt_tokens != canonical->prompt.size() || r.completion_tokens > canonical->max_tokens) {
    return fail_counted(Errc::invalid_argument, "receipt token counts do not fit its request");
  }
  u256 fair = market::job_cost(price, r.prompt_tokens, r.completion_tokens);
  if (r.cost > fair) {
    return fail_counted(Errc::invalid_argument, "receipt charges " + to_dec(r.cost) + " but the advertised price gives " +
                                                    to_dec(fair));
  }

  VerifiedJob v{*sr, std::move(*request), std::move(*canonical)};
  if (use == ReceiptUse::verify_only) return v;
  JobRecord job;
  job.job_id = r.job_id;
  job.provider = r.provider;
  job.model = r.model;
  job.request = v.request;
  job.output_hash = r.output_hash;
  job.cost = r.cost;
  bool check = use == ReceiptUse::store_and_maybe_check &&
               market::should_spot_check(spot_policy, r.job_id, spot_secret, r.cost);
  job.spot_check = check ? SpotCheck::pending : SpotCheck::none;
  if (auto p = state.put_receipt_and_job(market::receipt_to_json(*sr).dump(), job); !p) {
    return fail(p.error().code, "storing the receipt and job: " + p.error().message);
  }
  stats.receipts_stored++;
  stats.prompt_tokens += r.prompt_tokens;
  stats.completion_tokens += r.completion_tokens;
  metrics.receipts.inc();
  metrics.tokens.with({"prompt"}).inc(static_cast<double>(r.prompt_tokens));
  metrics.tokens.with({"completion"}).inc(static_cast<double>(r.completion_tokens));
  {
    std::lock_guard lock(stats.mu);
    auto& pp = stats.providers[r.provider];
    pp.jobs++;
    pp.tokens += r.prompt_tokens + r.completion_tokens;
    pp.cost += r.cost;
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// Spot checks

void Gateway::Impl::index_local_models() {
  if (options.verify_model_dir.empty()) return;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(options.verify_model_dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".gguf") local_paths.push_back(e.path());
  }
  if (ec) spdlog::warn("gateway: cannot list verify_model_dir {}: {}", options.verify_model_dir.string(), ec.message());
}

Result<std::optional<Hash32>> Gateway::Impl::reexecute_local(const market::CanonicalRequest& req) {
  std::shared_ptr<const infer::Model> model;
  {
    std::lock_guard lock(local_mu);
    // Model ids are content hashes: hash each local file once (keccak-256 and SHA-256, as
    // either may name a model), lazily, on the checker thread.
    for (const auto& path : local_paths) {
      if (local_hashed.contains(path)) continue;
      local_hashed.insert(path);
      std::ifstream in(path, std::ios::binary);
      crypto::Keccak256 k;
      crypto::Sha256 s;
      std::vector<char> buf(1 << 20);
      while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        ByteView b(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(in.gcount()));
        k.update(b);
        s.update(b);
      }
      local_files[k.finalize()] = path;
      local_files[s.finalize()] = path;
    }
    auto it = local_files.find(req.model);
    if (it == local_files.end()) return std::optional<Hash32>{};
    auto& slot = local_models[req.model];
    if (!slot) {
      auto loaded = infer::Model::load(it->second);
      if (!loaded) return fail(loaded.error().code, "loading " + it->second.string() + ": " + loaded.error().message);
      slot = *loaded;
    }
    model = slot;
  }
  infer::GenerateRequest g = to_generate_request(req);
  auto session = model->new_session();
  auto out = session->generate(g);
  if (!out) return fail(out.error().code, "local re-execution: " + out.error().message);
  return std::optional<Hash32>{out->output_hash};
}

Result<Reexecution> Gateway::Impl::reexecute_remote(const JobRecord& job, const market::CanonicalRequest& req,
                                                    std::vector<crypto::Address> exclude) {
  std::string last_error = "no other live provider serves model " + to_hex(job.model);
  bool refreshed = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::mt19937_64 pick(random_u64());
    auto d = book.route(job.model, req.prompt.size(), req.max_tokens, exclude, pick);
    if (!d.chosen) break;
    exclude.push_back(*d.chosen);
    auto p = provider(*d.chosen);
    const ModelOffer* offer = p ? p->offer(job.model) : nullptr;
    if (!offer) continue;
    const market::Price price = offer->price;
    auto pay = prepare_payment(*p, market::max_job_cost(price, req.prompt.size(), req.max_tokens), false);
    if (!pay) {
      last_error = pay.error().message;
      continue;
    }
    const std::string path = "/dgrid/v1/execute";
    const std::string body = nlohmann::json{{"request", to_hex(job.request)}}.dump();
    net::ClientRequest r;
    r.method = "POST";
    r.url = p->url + path;
    r.body = body;
    r.headers = paid_headers("POST", path, body, *pay);
    r.timeout = std::chrono::milliseconds(600'000);
    auto t0 = Clock::now();
    book.begin(p->address);
    auto resp = http.request(r);
    if (resp && resp->status == 402 && resp->body.find("stale_ticket_params") != std::string::npos && !refreshed) {
      // The provider rotated its ticket parameters (after a winning ticket): re-read /info
      // and give it one more try.
      settle_payment(*pay, std::nullopt, true);
      book.success(p->address, std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 0);
      poll_info(p->address);
      refreshed = true;
      exclude.pop_back();
      --attempt;
      continue;
    }
    if (!resp || resp->status != 200) {
      last_error = p->address.checksummed() + ": " + (resp ? "HTTP " + std::to_string(resp->status) + " " + resp->body : resp.error().message);
      book.failure(p->address, last_error);
      settle_payment(*pay, std::nullopt, true);
      continue;
    }
    auto j = nlohmann::json::parse(resp->body, nullptr, false);
    Result<VerifiedJob> v = fail(Errc::malformed, "execute answer is not a JSON object with dgrid_receipt and dgrid_request");
    if (j.is_object() && j.contains("dgrid_receipt") && j.contains("dgrid_request")) {
      // The checker's own job is paid and stored like any other, but not checked in turn.
      v = accept_receipt(j["dgrid_receipt"], j["dgrid_request"], p->address, job.model, req.seed, price,
                         ReceiptUse::store_only);
    }
    if (v && v->canonical != req) v = fail(Errc::invalid_argument, "the checker ran a different request");
    if (!v) {
      last_error = p->address.checksummed() + ": " + v.error().message;
      book.failure(p->address, last_error);
      settle_payment(*pay, std::nullopt, true);
      continue;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    book.success(p->address, ms / 2, ms / 2 / std::max<double>(1, static_cast<double>(v->receipt.receipt.completion_tokens)));
    settle_payment(*pay, v->receipt.receipt.cost, false);
    spdlog::info("gateway: spot check of job {} ({}) re-executed by {}", to_hex(job.job_id), job.provider.checksummed(),
                 p->address.checksummed());
    return Reexecution{v->receipt.receipt.output_hash, p->address, v->receipt.receipt.job_id};
  }
  return fail(Errc::unavailable, last_error);
}

Result<Reexecution> Gateway::Impl::reexecute(const JobRecord& job, const market::CanonicalRequest& req,
                                             std::vector<crypto::Address> exclude) {
  auto local = reexecute_local(req);
  if (local && *local) return Reexecution{**local, std::nullopt, std::nullopt};
  if (!local) spdlog::warn("gateway: {}", local.error().message);
  return reexecute_remote(job, req, std::move(exclude));
}

void Gateway::Impl::run_spot_check(JobRecord job) {
  auto req = market::decode_canonical(job.request);
  if (!req || !job.output_hash) {
    job.spot_check = SpotCheck::error;
    (void)state.update_job(job);
    return;
  }
  auto theirs = reexecute(job, *req, {job.provider});
  if (!theirs) {
    // Nobody could check it now: try again on later passes, give up after a while.
    uint32_t& n = spot_attempts[job.job_id];
    if (++n < 20) {
      spot_retry_at[job.job_id] = Clock::now() + options.check_interval * (1u << std::min<uint32_t>(n, 6));
      spdlog::debug("gateway: spot check of {} postponed: {}", to_hex(job.job_id), theirs.error().message);
      return;
    }
    spdlog::warn("gateway: spot check of job {} abandoned: {}", to_hex(job.job_id), theirs.error().message);
    job.spot_check = SpotCheck::error;
    stats.spot_errors++;
    metrics.spot_checks.with({"error"}).inc();
    (void)state.update_job(job);
    return;
  }
  spot_attempts.erase(job.job_id);
  spot_retry_at.erase(job.job_id);
  stats.spot_checks++;
  if (theirs->output_hash != *job.output_hash && theirs->by) {
    // Two providers disagree and either may be lying: ask a third party (our own engine or
    // another provider) before putting a bond on it. If it sides with the job's provider,
    // the checker was wrong and nobody is disputed.
    auto third = reexecute(job, *req, {job.provider, *theirs->by});
    if (third && third->output_hash == *job.output_hash) {
      spdlog::warn("gateway: spot check of job {}: checker {} disagreed but a third execution confirms {}", to_hex(job.job_id),
                   theirs->by->checksummed(), job.provider.checksummed());
      book.begin(*theirs->by);  // (failure() ends a request; this one already ended well)
      book.failure(*theirs->by, "wrong answer to a spot check");
      // The checker signed a receipt for its wrong answer: that is as disputable as any job.
      if (theirs->job_id) {
        stats.spot_mismatches++;
        metrics.spot_checks.with({"mismatch"}).inc();
        if (auto r = record_dispute_intent(*theirs->job_id, third->output_hash); !r) {
          spdlog::error("gateway: recording a dispute intent: {}", r.error().message);
        }
      }
      theirs = third;
    } else if (!third) {
      bool third_exists = false;
      for (const auto& e : book.endpoints(job.model)) {
        third_exists = third_exists || (e.address != job.provider && e.address != *theirs->by);
      }
      if (!third_exists) {
        // Nobody else serves the model: only the jury can tell who is right, and the bond is
        // the price of finding out.
        spdlog::info("gateway: spot check of job {}: no third party serves the model; the jury will decide", to_hex(job.job_id));
      } else {
        // A third party exists but could not run it now (busy, rotated ticket parameters, ...):
        // never put a bond on an unconfirmed disagreement (the checker may be the liar); try
        // the whole check again later, as when no checker was available at all.
        spdlog::info("gateway: spot check of job {}: no third execution to confirm the mismatch yet ({})",
                     to_hex(job.job_id), third.error().message);
        stats.spot_checks--;
        uint32_t& n = spot_attempts[job.job_id];
        if (++n < 20) {
          spot_retry_at[job.job_id] = Clock::now() + options.check_interval * (1u << std::min<uint32_t>(n, 6));
          return;
        }
        spdlog::warn("gateway: spot check of job {} abandoned: the mismatch could not be confirmed", to_hex(job.job_id));
        job.spot_check = SpotCheck::error;
        stats.spot_errors++;
        metrics.spot_checks.with({"error"}).inc();
        (void)state.update_job(job);
        return;
      }
    }
  }
  const Hash32 their_hash = theirs->output_hash;
  if (their_hash == *job.output_hash) {
    job.spot_check = SpotCheck::match;
    stats.spot_matches++;
    metrics.spot_checks.with({"match"}).inc();
    if (auto r = state.update_job(job); !r) spdlog::warn("gateway: recording spot check: {}", r.error().message);
    return;
  }
  spdlog::warn("gateway: spot check MISMATCH for job {}: provider {} says {}, re-execution gives {}", to_hex(job.job_id),
               job.provider.checksummed(), to_hex(*job.output_hash), to_hex(their_hash));
  stats.spot_mismatches++;
  metrics.spot_checks.with({"mismatch"}).inc();
  // Record the intent to dispute before the job's status changes, so a crash in between
  // leaves the job pending (checked again) rather than a mismatch nobody disputes.
  if (auto r = record_dispute_intent(job.job_id, their_hash); !r) {
    spdlog::error("gateway: recording a dispute intent: {}", r.error().message);
    return;
  }
  job.spot_check = SpotCheck::mismatch;
  if (auto r = state.update_job(job); !r) spdlog::warn("gateway: recording spot check: {}", r.error().message);
}

void Gateway::Impl::check_once() {
  // The checker thread and a direct caller (tests, an operator command) take turns.
  std::lock_guard pass(check_mu);
  auto jobs = state.jobs_to_check(64);
  if (!jobs) {
    spdlog::warn("gateway: reading jobs to check: {}", jobs.error().message);
  } else {
    auto now = Clock::now();
    for (auto& j : *jobs) {
      {
        std::lock_guard lock(loop_mu);
        if (stopping) return;
      }
      auto it = spot_retry_at.find(j.job_id);
      if (it != spot_retry_at.end() && it->second > now) continue;
      run_spot_check(std::move(j));
    }
  }
  advance_disputes();
}

}  // namespace dgrid::node
