#include "mpipc/framing.h"

namespace mpipc::framing {

Header EncodeHeader(uint64_t length) noexcept {
  Header h;
  if (length > kMaxShortLength) {
    for (size_t i = 0; i < 4; ++i) h.bytes[i] = 0xFF;
    for (size_t i = 0; i < 8; ++i) {
      h.bytes[4 + i] = static_cast<unsigned char>(length >> (56 - 8 * i));
    }
    h.size = kLongHeaderSize;
  } else {
    for (size_t i = 0; i < 4; ++i) h.bytes[i] = static_cast<unsigned char>(length >> (24 - 8 * i));
    h.size = kShortHeaderSize;
  }
  return h;
}

DecodeResult DecodeHeader(std::span<const unsigned char> data) noexcept {
  if (data.size() < kShortHeaderSize) return {DecodeStatus::kNeedMore, 0, kShortHeaderSize, 0};
  uint32_t u = 0;
  for (size_t i = 0; i < 4; ++i) u = (u << 8) | data[i];
  const auto raw = static_cast<int32_t>(u);
  if (raw >= 0) return {DecodeStatus::kOk, static_cast<uint64_t>(raw), kShortHeaderSize, raw};
  if (raw != -1) return {DecodeStatus::kNegativeLength, 0, kShortHeaderSize, raw};
  if (data.size() < kLongHeaderSize) return {DecodeStatus::kNeedMore, 0, kLongHeaderSize, raw};
  uint64_t n = 0;
  for (size_t i = 4; i < kLongHeaderSize; ++i) n = (n << 8) | data[i];
  return {DecodeStatus::kOk, n, kLongHeaderSize, raw};
}

}  // namespace mpipc::framing
