// A plain, obviously-correct reading of the framing grammar (wire-protocol.md §2.2), written
// independently of reference/src/framing.cc so that the frame targets can compare against it.
//
//   frame  = short | long
//   short  = int32-be n, n >= 0, then n payload bytes
//   long   = FF FF FF FF, uint64-be n, then n payload bytes
//   a 4-byte value below -1 is a negative length (the reference rejects it; CPython reads b'')
//
// Header-only, stateless.

#ifndef MPIPC_FUZZ_FRAME_ORACLE_H_
#define MPIPC_FUZZ_FRAME_ORACLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mpipc::fuzz {

struct OracleHeader {
  enum Status { kComplete, kTruncated, kNegative } status = kTruncated;
  size_t header_size = 0;  // 4 or 12 once known (kComplete, kNegative; kTruncated after 4 bytes)
  uint64_t length = 0;
  int32_t raw = 0;
};

inline OracleHeader OracleDecode(std::string_view s) {
  OracleHeader h;
  if (s.size() < 4) return h;
  const auto b = [&](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(s[i])); };
  const uint32_t u = static_cast<uint32_t>((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3));
  h.raw = static_cast<int32_t>(u);
  h.header_size = 4;
  if (u < 0x80000000U) {
    h.status = OracleHeader::kComplete;
    h.length = u;
    return h;
  }
  if (u != 0xFFFFFFFFU) {
    h.status = OracleHeader::kNegative;
    return h;
  }
  h.header_size = 12;
  if (s.size() < 12) return h;
  for (size_t i = 4; i < 12; ++i) h.length = (h.length << 8) | b(i);
  h.status = OracleHeader::kComplete;
  return h;
}

}  // namespace mpipc::fuzz

#endif  // MPIPC_FUZZ_FRAME_ORACLE_H_
