// FuzzInput: reads typed values from a fuzzer's input bytes, deterministically; and the
// exception-to-Python-name mapping the differential targets compare with.
//
// Reading past the end yields zeros / empty strings, so every input is a valid program. Used by
// the targets in fuzz/ only; header-only, not thread-safe (one object per input).

#ifndef MPIPC_FUZZ_FUZZ_INPUT_H_
#define MPIPC_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

namespace mpipc::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return (Byte() & 1) != 0; }
  // A value in [0, n) (n > 0), from one or two bytes.
  size_t Below(size_t n) {
    const size_t v = n <= 256 ? Byte() : (size_t{Byte()} << 8) | Byte();
    return v % n;
  }
  // A signed value in [lo, hi], biased towards the small edge cases by the input's own bytes.
  int64_t Range(int64_t lo, int64_t hi) {
    const auto span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Below(static_cast<size_t>(std::min<uint64_t>(span, 65536))));
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  // Up to `max` bytes, the length taken from one byte.
  std::string Bytes(size_t max) {
    const size_t n = std::min({static_cast<size_t>(Byte()), max, remaining()});
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  // Everything not read yet.
  std::string_view Rest() {
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), remaining());
    pos_ = size_;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts with a message: a broken invariant is a crash the fuzzer reports and keeps.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Checks an invariant. The message costs nothing unless it fails: pass a literal, or a callable
// returning the message when building it needs work.
inline void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}
template <typename F>
requires std::is_invocable_r_v<std::string, F>
inline void Check(bool ok, F&& describe) {
  if (!ok) Fail(describe());
}

}  // namespace mpipc::fuzz

#endif  // MPIPC_FUZZ_FUZZ_INPUT_H_
