// Block-by-block retrieval from storers (store_client.hpp: http_block_getter, fetch_file).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>

#include "net/http_client.hpp"
#include "node/store_client.hpp"

namespace dgrid::node {
namespace {

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

struct HttpBlockSource {
  std::vector<std::string> urls;
  net::HttpClient http;
  std::mutex mu;
  size_t preferred = 0;  // the source that answered last

  Result<Bytes> get(const store::Cid& cid) {
    size_t first;
    {
      std::lock_guard lock(mu);
      first = preferred;
    }
    std::string failures;
    for (size_t k = 0; k < urls.size(); ++k) {
      const size_t i = (first + k) % urls.size();
      net::ClientRequest req;
      req.url = urls[i] + "/ipfs/" + cid.to_string() + "?format=raw";
      req.headers.emplace_back("accept", "application/vnd.ipld.raw");
      req.timeout = std::chrono::seconds(60);
      auto resp = http.request(req);
      std::string why;
      if (!resp) {
        why = resp.error().message;
      } else if (resp->status != 200) {
        why = "HTTP " + std::to_string(resp->status);
      } else if (resp->body.size() > store::kMaxBlockSize) {
        why = "block larger than " + std::to_string(store::kMaxBlockSize) + " bytes";
      } else if (!cid.matches(as_bytes(resp->body))) {
        why = "sent bytes that do not hash to the CID (dropped)";
      } else {
        std::lock_guard lock(mu);
        preferred = i;
        const auto* p = reinterpret_cast<const uint8_t*>(resp->body.data());
        return Bytes(p, p + resp->body.size());
      }
      failures += (failures.empty() ? "" : "; ") + urls[i] + ": " + why;
    }
    if (urls.empty()) return fail(Errc::unavailable, "block " + cid.to_string() + ": no storer to fetch it from");
    return fail(Errc::unavailable, "block " + cid.to_string() + " not available: " + failures);
  }
};

}  // namespace

store::BlockGetter http_block_getter(std::vector<std::string> source_urls) {
  auto src = std::make_shared<HttpBlockSource>();
  for (auto& u : source_urls) src->urls.push_back(trim_slash(std::move(u)));
  return [src](const store::Cid& cid) { return src->get(cid); };
}

Result<uint64_t> fetch_file(const store::Cid& root, const std::vector<std::string>& source_urls,
                            const std::filesystem::path& out, const TransferProgress& progress) {
  auto reader = store::FileReader::open(http_block_getter(source_urls), root, store::FileReader::Verify::by_getter);
  if (!reader) return std::unexpected(reader.error().context("fetching " + root.to_string()));
  const uint64_t total = reader->size();
  std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
  std::mt19937_64 rng(std::random_device{}());
  const auto tmp = dir / ("." + out.filename().string() + ".part-" + std::to_string(rng() % 1'000'000'000));
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  if (!f) return fail(Errc::io, "cannot write " + tmp.string());
  uint64_t done = 0;
  bool write_failed = false;
  auto r = reader->read(0, total, [&](ByteView piece) {
    f.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
    if (!f) {
      write_failed = true;
      return false;
    }
    done += piece.size();
    if (progress) progress(done, total);
    return true;
  });
  f.close();
  auto cleanup = [&] {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  };
  if (!r) {
    cleanup();
    return std::unexpected(r.error().context("fetching " + root.to_string()));
  }
  if (write_failed || !f || done != total) {
    cleanup();
    return fail(Errc::io, "writing " + out.string() + " failed after " + std::to_string(done) + " of " +
                              std::to_string(total) + " bytes (disk full?)");
  }
  // Durable before it becomes visible under its final name.
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    cleanup();
    return fail(Errc::io, "cannot move the download into " + out.string() + ": " + ec.message());
  }
  return total;
}

Result<store::Cid> file_cid(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::io, "cannot read " + file.string());
  store::FileImporter importer([](const store::Cid&, ByteView) -> Result<void> { return {}; });
  std::vector<char> buf(4 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    if (auto r = importer.update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), n)); !r) return std::unexpected(r.error());
  }
  if (in.bad()) return fail(Errc::io, "reading " + file.string() + " failed");
  auto res = importer.finish();
  if (!res) return std::unexpected(res.error());
  return res->root;
}

Result<std::filesystem::path> ensure_content_file(const store::Cid& cid, const std::filesystem::path& dir,
                                                  const std::vector<std::string>& source_urls,
                                                  const TransferProgress& progress) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  const auto path = dir / cid.to_v1().to_string();
  if (std::filesystem::exists(path, ec)) {
    auto have = file_cid(path);
    if (have && *have == cid.to_v1()) return path;
    // A damaged or foreign file under this name: never serve it, fetch a good copy.
    std::filesystem::remove(path, ec);
  }
  auto got = fetch_file(cid, source_urls, path, progress);
  if (!got) return std::unexpected(got.error());
  return path;
}

}  // namespace dgrid::node
