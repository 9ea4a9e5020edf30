// Tests of the frame codec (framing.h) and of how Connection decodes hand-made byte streams
// (wire-protocol.md §2.2; semantics.md CONN-EOF-MIDMESSAGE, CONN-RB-MAXLEN).
//
// In the style of LevelDB's log_test.cc: the codec is checked against golden vectors, then frames
// are built byte by byte, written raw into one end of a socketpair or pipe (the peer's descriptor
// taken with release()), cut, corrupted or closed early, and the receiving Connection's reaction
// is checked exactly.

#include "mpipc/framing.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "test_support.h"

namespace mpipc {
namespace {

using framing::DecodeHeader;
using framing::DecodeResult;
using framing::DecodeStatus;
using framing::EncodeHeader;
using framing::kLongHeaderSize;
using framing::kShortHeaderSize;
using testing_support::Bytes;
using testing_support::DrainSocket;
using testing_support::ThrowsExactly;

// ---------------------------------------------------------------------------------------------
// Helpers.

// The bytes of `s` in hex, space-separated, as the wire-protocol.md tables show them.
std::string Hex(std::string_view s) { return testing_support::Hex(s, " "); }

std::span<const unsigned char> AsUnsigned(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// The 4-byte big-endian header CPython writes for a (possibly negative) int32 length.
std::string ShortHeader(int32_t n) {
  const auto u = static_cast<uint32_t>(n);
  return Bytes({static_cast<int>(u >> 24), static_cast<int>((u >> 16) & 0xff),
                static_cast<int>((u >> 8) & 0xff), static_cast<int>(u & 0xff)});
}

// The 12-byte escape header for a 64-bit length.
std::string LongHeader(uint64_t n) {
  std::string s = Bytes({0xff, 0xff, 0xff, 0xff});
  for (int shift = 56; shift >= 0; shift -= 8) s.push_back(static_cast<char>((n >> shift) & 0xff));
  return s;
}

// One Connection plus the raw descriptor of its peer, to which tests write hand-made bytes.
struct RawPeer {
  explicit RawPeer(bool duplex = true) {
    Connection r, w;
    std::tie(r, w) = Pipe(duplex);
    conn = std::move(r);
    peer_fd = w.release();
  }
  ~RawPeer() { ClosePeer(); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t w = ::write(peer_fd, bytes.data(), bytes.size());
      ASSERT_GT(w, 0) << "write: " << errno;
      bytes.remove_prefix(static_cast<size_t>(w));
    }
  }
  void ClosePeer() {
    if (peer_fd >= 0) ::close(std::exchange(peer_fd, -1));
  }

  Connection conn;
  int peer_fd = -1;
};

// Reads exactly n raw bytes from fd (blocking).
std::string ReadRaw(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

// ---------------------------------------------------------------------------------------------
// EncodeHeader: golden vectors of wire-protocol.md §2.2.

TEST(EncodeHeader, GoldenZero) {
  const framing::Header h = EncodeHeader(0);
  EXPECT_EQ(h.size, kShortHeaderSize);
  EXPECT_EQ(Hex(h.view()), "00 00 00 00");
}

TEST(EncodeHeader, GoldenTwo) { EXPECT_EQ(Hex(EncodeHeader(2).view()), "00 00 00 02"); }

TEST(EncodeHeader, GoldenSingleWriteLimitAndAbove) {
  EXPECT_EQ(Hex(EncodeHeader(16384).view()), "00 00 40 00");
  EXPECT_EQ(Hex(EncodeHeader(16385).view()), "00 00 40 01");
}

TEST(EncodeHeader, GoldenLargestShortLength) {
  const framing::Header h = EncodeHeader(0x7FFFFFFF);
  EXPECT_EQ(h.size, kShortHeaderSize);
  EXPECT_EQ(Hex(h.view()), "7f ff ff ff");
}

TEST(EncodeHeader, GoldenTwoPow31UsesEscape) {
  const framing::Header h = EncodeHeader(uint64_t{1} << 31);
  EXPECT_EQ(h.size, kLongHeaderSize);
  EXPECT_EQ(Hex(h.view()), "ff ff ff ff 00 00 00 00 80 00 00 00");
}

TEST(EncodeHeader, GoldenLongLengths) {
  EXPECT_EQ(Hex(EncodeHeader((uint64_t{1} << 31) + 16).view()),
            "ff ff ff ff 00 00 00 00 80 00 00 10");
  EXPECT_EQ(Hex(EncodeHeader(uint64_t{0x0102030405060708}).view()),
            "ff ff ff ff 01 02 03 04 05 06 07 08");
  EXPECT_EQ(Hex(EncodeHeader(UINT64_MAX).view()), "ff ff ff ff ff ff ff ff ff ff ff ff");
}

// The bytes a Connection really puts on the wire (send_bytes(b'hi') -> 00 00 00 02 68 69).
TEST(EncodeHeader, ConnectionWritesGoldenFrames) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("hi");
  EXPECT_EQ(Hex(ReadRaw(b.fileno(), 6)), "00 00 00 02 68 69");
  a.send_bytes("");
  EXPECT_EQ(Hex(ReadRaw(b.fileno(), 4)), "00 00 00 00");
  a.send_bytes(std::string(16385, 'x'));
  EXPECT_EQ(Hex(ReadRaw(b.fileno(), 4)), "00 00 40 01");
  EXPECT_EQ(ReadRaw(b.fileno(), 16385), std::string(16385, 'x'));
  EXPECT_TRUE(DrainSocket(b.fileno()).empty());
}

// ---------------------------------------------------------------------------------------------
// DecodeHeader.

TEST(DecodeHeader, NeedMoreInsideShortHeader) {
  const std::string hdr = ShortHeader(5);
  for (size_t n = 0; n < kShortHeaderSize; ++n) {
    const DecodeResult r = DecodeHeader(AsUnsigned(std::string_view(hdr).substr(0, n)));
    EXPECT_EQ(r.status, DecodeStatus::kNeedMore) << n << " bytes";
    EXPECT_EQ(r.header_size, kShortHeaderSize) << n << " bytes";
  }
}

TEST(DecodeHeader, NeedMoreInsideLongHeader) {
  const std::string hdr = LongHeader(5);
  for (size_t n = kShortHeaderSize; n < kLongHeaderSize; ++n) {
    const DecodeResult r = DecodeHeader(AsUnsigned(std::string_view(hdr).substr(0, n)));
    EXPECT_EQ(r.status, DecodeStatus::kNeedMore) << n << " bytes";
    EXPECT_EQ(r.header_size, kLongHeaderSize) << n << " bytes";
  }
}

TEST(DecodeHeader, ShortLengths) {
  for (int32_t n : {0, 1, 2, 255, 256, 16384, 65536, 0x7FFFFFFE, 0x7FFFFFFF}) {
    const DecodeResult r = DecodeHeader(AsUnsigned(ShortHeader(n)));
    EXPECT_EQ(r.status, DecodeStatus::kOk) << n;
    EXPECT_EQ(r.length, static_cast<uint64_t>(n));
    EXPECT_EQ(r.header_size, kShortHeaderSize);
  }
}

TEST(DecodeHeader, BigEndianByteOrder) {
  const DecodeResult r = DecodeHeader(AsUnsigned(Bytes({0x01, 0x02, 0x03, 0x04})));
  EXPECT_EQ(r.status, DecodeStatus::kOk);
  EXPECT_EQ(r.length, 0x01020304u);
  const DecodeResult l =
      DecodeHeader(AsUnsigned(Bytes({0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8})));
  EXPECT_EQ(l.status, DecodeStatus::kOk);
  EXPECT_EQ(l.length, uint64_t{0x0102030405060708});
  EXPECT_EQ(l.header_size, kLongHeaderSize);
}

TEST(DecodeHeader, TrailingPayloadBytesAreIgnored) {
  const DecodeResult r = DecodeHeader(AsUnsigned(ShortHeader(2) + "hi" + ShortHeader(7)));
  EXPECT_EQ(r.status, DecodeStatus::kOk);
  EXPECT_EQ(r.length, 2u);
  EXPECT_EQ(r.header_size, kShortHeaderSize);
  const DecodeResult l = DecodeHeader(AsUnsigned(LongHeader(3) + "abc"));
  EXPECT_EQ(l.status, DecodeStatus::kOk);
  EXPECT_EQ(l.length, 3u);
  EXPECT_EQ(l.header_size, kLongHeaderSize);
}

TEST(DecodeHeader, NegativeLengthMinusTwo) {
  const DecodeResult r = DecodeHeader(AsUnsigned(Bytes({0xff, 0xff, 0xff, 0xfe})));
  EXPECT_EQ(r.status, DecodeStatus::kNegativeLength);
  EXPECT_EQ(r.raw_length, -2);
}

TEST(DecodeHeader, NegativeLengthInt32Min) {
  const DecodeResult r = DecodeHeader(AsUnsigned(Bytes({0x80, 0x00, 0x00, 0x00})));
  EXPECT_EQ(r.status, DecodeStatus::kNegativeLength);
  EXPECT_EQ(r.raw_length, INT32_MIN);
}

TEST(DecodeHeader, NegativeLengthIsReportedWithoutTheLongForm) {
  // Only -1 escapes to the 12-byte form; -2 is decided after 4 bytes.
  const DecodeResult r = DecodeHeader(AsUnsigned(ShortHeader(-2) + std::string(8, '\0')));
  EXPECT_EQ(r.status, DecodeStatus::kNegativeLength);
  EXPECT_EQ(r.header_size, kShortHeaderSize);
}

TEST(DecodeHeader, LongFormSmallLengthAccepted) {
  const DecodeResult r = DecodeHeader(AsUnsigned(LongHeader(5)));
  EXPECT_EQ(r.status, DecodeStatus::kOk);
  EXPECT_EQ(r.length, 5u);
  EXPECT_EQ(r.header_size, kLongHeaderSize);
}

TEST(DecodeHeader, RoundTrip) {
  for (uint64_t n :
       {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{255}, uint64_t{16384}, uint64_t{0x7FFFFFFE},
        uint64_t{0x7FFFFFFF}, uint64_t{0x80000000}, uint64_t{0x80000001}, uint64_t{0xFFFFFFFF},
        uint64_t{1} << 32, uint64_t{1} << 62, UINT64_MAX - 1, UINT64_MAX}) {
    const framing::Header h = EncodeHeader(n);
    const DecodeResult r = DecodeHeader({h.bytes.data(), h.size});
    EXPECT_EQ(r.status, DecodeStatus::kOk) << n;
    EXPECT_EQ(r.length, n);
    EXPECT_EQ(r.header_size, h.size) << n;
    EXPECT_EQ(h.size, n > 0x7FFFFFFF ? kLongHeaderSize : kShortHeaderSize) << n;
    // Every proper prefix needs more.
    for (size_t k = 0; k < h.size; ++k) {
      EXPECT_EQ(DecodeHeader({h.bytes.data(), k}).status, DecodeStatus::kNeedMore) << n << " " << k;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connection-level byte surgery: CONN-EOF-MIDMESSAGE.

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedShortHeader) {
  for (size_t n = 1; n < kShortHeaderSize; ++n) {
    RawPeer p;
    p.Write(ShortHeader(5).substr(0, n));
    p.ClosePeer();
    EXPECT_TRUE(
        ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"))
        << n << " header bytes";
  }
}

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedShortHeaderSimplex) {
  for (size_t n = 1; n < kShortHeaderSize; ++n) {
    RawPeer p(/*duplex=*/false);
    p.Write(ShortHeader(5).substr(0, n));
    p.ClosePeer();
    EXPECT_TRUE(
        ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"))
        << n << " header bytes";
  }
}

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedPayload) {
  for (size_t n = 0; n < 5; ++n) {
    RawPeer p;
    p.Write(ShortHeader(5) + std::string("hello").substr(0, n));
    p.ClosePeer();
    EXPECT_TRUE(
        ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"))
        << n << " payload bytes";
  }
}

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedPayloadRecvBytesInto) {
  for (size_t n = 0; n < 5; ++n) {
    RawPeer p;
    p.Write(ShortHeader(5) + std::string("hello").substr(0, n));
    p.ClosePeer();
    std::vector<char> buf(16);
    EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes_into(buf); },
                                       "got end of file during message"))
        << n << " payload bytes";
  }
}

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedLongHeader) {
  const std::string hdr = LongHeader(5);
  for (size_t n = kShortHeaderSize; n < kLongHeaderSize; ++n) {
    RawPeer p;
    p.Write(hdr.substr(0, n));
    p.ClosePeer();
    EXPECT_TRUE(
        ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"))
        << n << " header bytes";
  }
}

TEST(FramingSurgery, CONN_EOF_MIDMESSAGE_TruncatedPayloadAfterLongHeader) {
  RawPeer p;
  p.Write(LongHeader(5) + "hel");
  p.ClosePeer();
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"));
}

TEST(FramingSurgery, CONN_EOF_CleanEndBetweenFramesIsEOFError) {
  RawPeer p;
  p.Write(ShortHeader(2) + "hi");
  p.ClosePeer();
  EXPECT_EQ(p.conn.recv_bytes(), "hi");
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { p.conn.recv_bytes(); }, ""));
}

// ---------------------------------------------------------------------------------------------
// Several frames in one write, and the 64-bit escape for small lengths.

TEST(FramingSurgery, PIPE_BOUNDARIES_ConcatenatedFramesInOneWrite) {
  RawPeer p;
  p.Write(ShortHeader(1) + "a" + ShortHeader(0) + LongHeader(2) + "bc" + LongHeader(0) +
          ShortHeader(3) + "def");
  EXPECT_EQ(p.conn.recv_bytes(), "a");
  EXPECT_EQ(p.conn.recv_bytes(), "");
  EXPECT_EQ(p.conn.recv_bytes(), "bc");
  EXPECT_EQ(p.conn.recv_bytes(), "");
  EXPECT_EQ(p.conn.recv_bytes(), "def");
  EXPECT_FALSE(p.conn.poll());
}

// CPython accepts the 12-byte form for any length, so a C++ reader must too.
TEST(FramingSurgery, LongFormSmallLengthDeliversPayload) {
  RawPeer p;
  p.Write(Bytes({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5}) + "hello" + ShortHeader(1) + "!");
  EXPECT_EQ(p.conn.recv_bytes(), "hello");
  EXPECT_EQ(p.conn.recv_bytes(), "!");
}

TEST(FramingSurgery, LongFormSmallLengthRecvBytesInto) {
  RawPeer p;
  p.Write(LongHeader(5) + "hello");
  std::vector<char> buf(8, '.');
  EXPECT_EQ(p.conn.recv_bytes_into(buf, 2), 5u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "..hello.");
}

TEST(FramingSurgery, CONN_RB_MAXLEN_LongFormHeader) {
  RawPeer p;
  p.Write(LongHeader(5) + "hello");
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(4); }, "bad message length"));
  EXPECT_FALSE(p.conn.readable());
}

// ---------------------------------------------------------------------------------------------
// Negative lengths: our deliberate deviation (CPython reads them as an empty message).

TEST(FramingSurgery, D_NEG_LENGTH_MinusTwoIsBadMessageLength) {
  RawPeer p;
  p.Write(ShortHeader(-2) + "rest");
  try {
    p.conn.recv_bytes();
    FAIL() << "no exception";
  } catch (const OSError& e) {
    EXPECT_EQ(typeid(e), typeid(OSError));
    EXPECT_EQ(e.code(), std::error_code());
    EXPECT_TRUE(std::string_view(e.what()).starts_with("bad message length")) << e.what();
    EXPECT_STREQ(e.what(), "bad message length: negative length -2");
  }
  // Writable end: stops being readable, like CONN-RB-MAXLEN; the rest stays unread.
  ASSERT_FALSE(p.conn.readable());
  EXPECT_TRUE(p.conn.writable());
  EXPECT_FALSE(p.conn.closed());
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "connection is write-only"));
  EXPECT_EQ(DrainSocket(p.conn.fileno()), "rest");
}

TEST(FramingSurgery, D_NEG_LENGTH_Int32Min) {
  RawPeer p;
  p.Write(ShortHeader(INT32_MIN));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); },
                                     "bad message length: negative length -2147483648"));
  EXPECT_FALSE(p.conn.readable());
}

TEST(FramingSurgery, D_NEG_LENGTH_RecvBytesInto) {
  RawPeer p;
  p.Write(ShortHeader(-2));
  std::vector<char> buf(8, '.');
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes_into(buf); },
                                     "bad message length: negative length -2"));
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "........");
  EXPECT_FALSE(p.conn.readable());
}

TEST(FramingSurgery, D_NEG_LENGTH_SimplexReaderCloses) {
  RawPeer p(/*duplex=*/false);
  p.Write(ShortHeader(-2));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); },
                                     "bad message length: negative length -2"));
  EXPECT_TRUE(p.conn.closed());
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "handle is closed"));
}

// ---------------------------------------------------------------------------------------------
// max_message_size.

TEST(FramingSurgery, D_MAX_MESSAGE_RejectedBeforePayload) {
  RawPeer p;
  p.conn.set_max_message_size(1000);
  EXPECT_EQ(p.conn.max_message_size(), 1000u);
  const std::string payload(2000, 'p');
  p.Write(ShortHeader(2000) + payload);
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); },
                             "bad message length: 2000 bytes exceeds max_message_size 1000"));
  EXPECT_FALSE(p.conn.readable());
  EXPECT_TRUE(p.conn.writable());
  // No payload byte was read.
  EXPECT_EQ(DrainSocket(p.conn.fileno()), payload);
}

TEST(FramingSurgery, D_MAX_MESSAGE_RecvBytesIntoShortBuffer) {
  RawPeer p;
  p.conn.set_max_message_size(1000);
  p.Write(ShortHeader(2000) + std::string(2000, 'p'));
  std::vector<char> buf(10);
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes_into(buf); },
                             "bad message length: 2000 bytes exceeds max_message_size 1000"));
  EXPECT_EQ(DrainSocket(p.conn.fileno()).size(), 2000u);
}

// The cap does not depend on the buffer: a message that would fit is still refused.
TEST(FramingSurgery, D_MAX_MESSAGE_RecvBytesIntoCapsEvenWhenMessageFits) {
  RawPeer p;
  p.conn.set_max_message_size(1000);
  const std::string payload(2000, 'p');
  p.Write(ShortHeader(2000) + payload);
  std::vector<char> buf(4096, '.');
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes_into(buf); },
                             "bad message length: 2000 bytes exceeds max_message_size 1000"));
  EXPECT_EQ(std::string(buf.begin(), buf.end()), std::string(4096, '.'));
  EXPECT_FALSE(p.conn.readable());
  EXPECT_EQ(DrainSocket(p.conn.fileno()), payload);
}

TEST(FramingSurgery, D_MAX_MESSAGE_SimplexReaderCloses) {
  RawPeer p(/*duplex=*/false);
  p.conn.set_max_message_size(1000);
  p.Write(ShortHeader(2000));
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); },
                             "bad message length: 2000 bytes exceeds max_message_size 1000"));
  EXPECT_TRUE(p.conn.closed());
}

TEST(FramingSurgery, D_MAX_MESSAGE_EqualLengthAccepted) {
  RawPeer p;
  p.conn.set_max_message_size(1000);
  p.Write(ShortHeader(1000) + std::string(1000, 'q'));
  EXPECT_EQ(p.conn.recv_bytes(), std::string(1000, 'q'));
  EXPECT_TRUE(p.conn.readable());
}

TEST(FramingSurgery, CONN_RB_MAXLEN_CheckedBeforeMaxMessageSize) {
  RawPeer p;
  p.conn.set_max_message_size(1000);
  p.Write(ShortHeader(2000));
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes(10); }, "bad message length"));
}

TEST(FramingSurgery, D_MAX_MESSAGE_DefaultIsOneGiB) {
  EXPECT_EQ(Connection::kDefaultMaxMessageSize, uint64_t{1} << 30);
  RawPeer p;
  EXPECT_EQ(p.conn.max_message_size(), uint64_t{1} << 30);
}

// A header claiming 2^62 bytes must be refused at once, not allocated.
TEST(FramingSurgery, D_MAX_MESSAGE_HostileHugeLengthThrowsPromptly) {
  RawPeer p;
  p.Write(LongHeader(uint64_t{1} << 62) + "xyz");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ThrowsExactly<OSError>(
      [&] { p.conn.recv_bytes(); },
      "bad message length: 4611686018427387904 bytes exceeds max_message_size 1073741824"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(DrainSocket(p.conn.fileno()), "xyz");
}

// With the cap lifted, the buffer still grows only as bytes arrive: a 2^62-byte claim followed by
// a few bytes and EOF ends in 'got end of file', not in bad_alloc or length_error.
TEST(FramingSurgery, D_MAX_MESSAGE_LiftedCapAllocatesOnlyWhatArrives) {
  RawPeer p;
  p.conn.set_max_message_size(UINT64_MAX);
  p.Write(LongHeader(uint64_t{1} << 62) + std::string(100, 'z'));
  p.ClosePeer();
  EXPECT_TRUE(
      ThrowsExactly<OSError>([&] { p.conn.recv_bytes(); }, "got end of file during message"));
}

TEST(FramingSurgery, D_MAX_MESSAGE_LiftedCapRecvBytesInto) {
  RawPeer p;
  p.conn.set_max_message_size(UINT64_MAX);
  p.Write(LongHeader(UINT64_MAX) + std::string(100, 'z'));
  p.ClosePeer();
  std::vector<char> buf(16, '.');
  EXPECT_TRUE(ThrowsExactly<OSError>([&] { p.conn.recv_bytes_into(buf); },
                                     "got end of file during message"));
  EXPECT_EQ(std::string(buf.begin(), buf.end()), std::string(16, '.'));
}

}  // namespace
}  // namespace mpipc
