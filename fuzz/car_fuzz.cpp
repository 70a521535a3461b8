// CAR v1 reader fuzzer. Properties: no crash or unbounded allocation on any input; every block
// the reader yields hashes to its CID; a CAR read cleanly to its end, written again with
// CarWriter, reads back to the same roots and blocks; the roots of any accepted header
// survive encode_car_header.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "store/car.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  using namespace dgrid::store;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto reader = CarReader::open(in);
  if (!reader) return 0;

  std::istringstream again_in(std::string(as_chars(encode_car_header(reader->roots()))));
  auto again = CarReader::open(again_in);
  if (!again || again->roots() != reader->roots()) std::abort();

  std::vector<CarReader::Block> blocks;
  bool clean = false;
  for (int i = 0; i < 10000; ++i) {
    auto b = reader->next();
    if (!b) break;
    if (!*b) {
      clean = true;
      break;
    }
    if (!(*b)->cid.matches((*b)->data)) std::abort();
    if (reader->offset() > size) std::abort();
    blocks.push_back(std::move(**b));
  }
  if (!clean) return 0;

  std::string out;
  CarWriter w(
      [&](ByteView part) {
        out.append(as_chars(part));
        return true;
      },
      reader->roots());
  for (const auto& b : blocks) w.add(b.cid, b.data);
  std::istringstream round(out);
  auto r = CarReader::open(round);
  if (!r || r->roots() != reader->roots()) std::abort();
  for (const auto& b : blocks) {
    auto got = r->next();
    if (!got || !*got || (*got)->cid != b.cid || (*got)->data != b.data) std::abort();
  }
  auto end = r->next();
  if (!end || *end) std::abort();
  return 0;
}
