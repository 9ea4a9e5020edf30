// Fuzz target: the pure frame-header codec (mpipc/framing.h) against an independent reading of
// the grammar (frame_oracle.h). The input is a byte stream of frames; each header is offered to
// DecodeHeader cut at input-chosen points (a stream split anywhere), and must report kNeedMore
// until complete, then exactly the oracle's length and header size, or kNegativeLength.
// Canonical headers must round-trip through EncodeHeader. Allocation-free and fast.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "frame_oracle.h"
#include "fuzz_input.h"
#include "mpipc/framing.h"

namespace {

using mpipc::framing::DecodeHeader;
using mpipc::framing::DecodeStatus;
using mpipc::fuzz::Check;
using mpipc::fuzz::OracleDecode;
using mpipc::fuzz::OracleHeader;

std::span<const unsigned char> Span(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Checks DecodeHeader on `s` cut to `cut` bytes against the oracle on the same bytes.
void CheckPrefix(std::string_view s, size_t cut) {
  const std::string_view prefix = s.substr(0, cut);
  const OracleHeader want = OracleDecode(prefix);
  const mpipc::framing::DecodeResult got = DecodeHeader(Span(prefix));
  switch (want.status) {
    case OracleHeader::kTruncated:
      Check(got.status == DecodeStatus::kNeedMore, "a cut header must need more");
      Check(got.header_size == (prefix.size() < 4 ? 4 : want.header_size),
            "kNeedMore must say how long the header is");
      Check(got.header_size > prefix.size(), "kNeedMore with the header already there");
      break;
    case OracleHeader::kNegative:
      Check(got.status == DecodeStatus::kNegativeLength, "a length below -1 must be rejected");
      Check(got.raw_length == want.raw, "raw_length");
      break;
    case OracleHeader::kComplete:
      Check(got.status == DecodeStatus::kOk, "a complete header must decode");
      Check(got.length == want.length, "length");
      Check(got.header_size == want.header_size, "header_size");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mpipc::fuzz::FuzzInput in(data, size);
  // The first byte seeds the cut points; the rest is the stream.
  uint8_t seed = in.Byte();
  const std::string_view stream = in.Rest();
  size_t pos = 0;
  while (pos < stream.size()) {
    const std::string_view s = stream.substr(pos);
    // Two cut points inside (or past) the header, chosen from the stream itself.
    seed = static_cast<uint8_t>(seed * 33 + 7);
    CheckPrefix(s, seed % 14);
    CheckPrefix(s, s.size() < 12 ? s.size() : 12);
    const OracleHeader h = OracleDecode(s);
    if (h.status != OracleHeader::kComplete) break;
    // Round trip: EncodeHeader(n) reproduces canonical headers (a long header is canonical iff
    // its length needs it), and decodes back to n in every case.
    const mpipc::framing::Header enc = mpipc::framing::EncodeHeader(h.length);
    const bool canonical = h.header_size == 4 || h.length > mpipc::framing::kMaxShortLength;
    if (canonical) Check(enc.view() == s.substr(0, h.header_size), "EncodeHeader round trip");
    const mpipc::framing::DecodeResult back = DecodeHeader(Span(enc.view()));
    Check(back.status == DecodeStatus::kOk && back.length == h.length, "decode(encode(n)) == n");
    // Skip the payload; a length beyond the stream ends it (truncated payload).
    if (h.length > s.size() - h.header_size) break;
    pos += h.header_size + static_cast<size_t>(h.length);
  }
  return 0;
}
