// The message framing of multiprocessing.connection (wire-protocol.md §2.2), byte-identical to
// CPython's `Connection._send_bytes` / `_recv_bytes`.
//
//   n <= 2^31-1:  [n: 4-byte big-endian signed] [payload]
//   n >  2^31-1:  [FF FF FF FF] [n: 8-byte big-endian unsigned] [payload]
//
// This header holds the pure, allocation-free part: encoding a header and decoding one from bytes
// already in memory. Reading frames from a descriptor lives in Connection. Everything here is
// stateless and thread-safe.
//
// Deliberate difference from CPython: a 4-byte length that is negative but not -1 is an error
// (kNegativeLength), where CPython silently reads it as an empty message (spec/deviations.md).

#ifndef MPIPC_FRAMING_H_
#define MPIPC_FRAMING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace mpipc::framing {

inline constexpr size_t kShortHeaderSize = 4;
inline constexpr size_t kLongHeaderSize = 12;  // FF FF FF FF + 8-byte length
inline constexpr uint64_t kMaxShortLength = 0x7FFFFFFF;
// CPython sends header and payload in one write up to this payload size (bpo-20540).
inline constexpr size_t kSingleWriteLimit = 16384;

// An encoded header: 4 or 12 bytes.
struct Header {
  std::array<unsigned char, kLongHeaderSize> bytes{};
  size_t size = 0;
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), size}; }
};

// The header CPython writes for a payload of `length` bytes.
Header EncodeHeader(uint64_t length) noexcept;

enum class DecodeStatus {
  kOk,              // header complete; `length` and `header_size` are set
  kNeedMore,        // the bytes end inside the header; `header_size` says how many it needs
  kNegativeLength,  // a 4-byte length < -1 (CPython would read an empty message)
};

struct DecodeResult {
  DecodeStatus status;
  uint64_t length = 0;     // payload length, when kOk
  size_t header_size = 0;  // 4 or 12 when kOk or kNeedMore (the size known so far)
  int32_t raw_length = 0;  // the signed 4-byte value, when kNegativeLength
};

// Decodes the header at the start of `data`.
DecodeResult DecodeHeader(std::span<const unsigned char> data) noexcept;

}  // namespace mpipc::framing

#endif  // MPIPC_FRAMING_H_
