// Fuzz target: Connection's frame reader (recv_bytes, recv_bytes_into) on a hostile byte stream:
// the 4-byte length, the -1 + 8-byte escape, truncation anywhere, negative lengths, maxlength and
// the configured size cap (max_message_size). The input's bytes are written raw into a pipe or a
// socketpair, the writer closes, and the reader takes frames until an error; every outcome
// (payload, exception type and message, the end's state afterwards) must be what the
// independent oracle (frame_oracle.h) and CPython's rules (semantics.md §1.E, §1.F, §1.H) say.
// No sleeps, no blocking: all bytes are buffered before the first read (input <= 64 KiB).

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frame_oracle.h"
#include "fuzz_input.h"
#include "mpipc/connection.h"
#include "mpipc/errors.h"

namespace {

using mpipc::fuzz::Check;
using mpipc::fuzz::OracleDecode;
using mpipc::fuzz::OracleHeader;

constexpr size_t kMaxStream = 60000;  // below the 64 KiB pipe buffer: writes never block

// What one receive call did: a payload, or an exception's Python name and message.
struct Result {
  bool ok = false;
  std::string payload;  // ok: the message; BufferTooShort: the message it carries
  std::string type;
  std::string message;
};

Result Capture(const std::function<std::string()>& call) {
  Result r;
  try {
    r.payload = call();
    r.ok = true;
  } catch (const mpipc::BufferTooShort& e) {
    r.type = "BufferTooShort";
    r.payload = e.message();
  } catch (const mpipc::OSError& e) {
    r.type = std::string(e.python_name());
    r.message = e.message();
  } catch (const mpipc::EOFError& e) {
    r.type = "EOFError";
    r.message = e.what();
  } catch (const mpipc::ValueError& e) {
    r.type = "ValueError";
    r.message = e.what();
  }
  return r;
}

const std::string kEofInMessage = "got end of file during message";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mpipc::fuzz::FuzzInput in(data, size);
  const bool duplex = in.Bool();
  const uint8_t cap_choice = in.Byte();
  // The cap (max_message_size) is small (0-127 bytes) or 64 KiB, above any input, so that long
  // lengths exercise the truncation path. Not the 1 GiB default: Connection allocates up to
  // 64 MiB eagerly for an announced length (kEagerAllocation), which would make each such input
  // cost a 64 MiB memset (fuzz/README.md).
  const uint64_t limit = cap_choice >= 128 ? uint64_t{cap_choice} - 128 : uint64_t{1} << 16;
  const size_t nops = in.Below(8) + 1;
  struct Op {
    bool into;
    std::optional<int64_t> maxlength;  // recv_bytes
    size_t bufsize;                    // recv_bytes_into
    int64_t offset;
  };
  std::vector<Op> ops;
  for (size_t i = 0; i < nops; ++i) {
    Op op{};
    op.into = in.Bool();
    const uint8_t m = in.Byte();
    if (m >= 0xF0)
      op.maxlength = -static_cast<int64_t>(m & 0x0F) - 1;
    else if (m >= 0x80)
      op.maxlength = m - 0x80;
    op.bufsize = in.Below(200);
    op.offset = in.Range(-2, 202);
    ops.push_back(op);
  }
  std::string_view stream = in.Rest();
  if (stream.size() > kMaxStream) stream = stream.substr(0, kMaxStream);

  int fds[2];
  if (duplex) {
    Check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
  } else {
    Check(pipe2(fds, O_CLOEXEC) == 0, "pipe");
  }
  const int wfd = fds[1];
  size_t off = 0;
  while (off < stream.size()) {
    const ssize_t w = write(wfd, stream.data() + off, stream.size() - off);
    Check(w > 0, "write into the test pipe");
    off += static_cast<size_t>(w);
  }
  close(wfd);
  mpipc::Connection conn(fds[0], true, duplex);
  conn.set_max_message_size(limit);

  size_t pos = 0;
  for (const Op& op : ops) {
    // What the oracle expects from the bytes left.
    const std::string_view s = stream.substr(pos);
    Result want;
    bool consumed_header = false;
    const bool closed_before = conn.closed();
    const bool readable_before = conn.readable();
    if (closed_before) {
      want = {false, "", "OSError", "handle is closed"};
    } else if (!readable_before) {
      want = {false, "", "OSError", "connection is write-only"};
    } else if (!op.into && op.maxlength && *op.maxlength < 0) {
      want = {false, "", "ValueError", "negative maxlength"};
    } else if (op.into && op.offset < 0) {
      want = {false, "", "ValueError", "negative offset"};
    } else if (op.into && static_cast<uint64_t>(op.offset) > op.bufsize) {
      want = {false, "", "ValueError", "offset too large"};
    } else {
      const OracleHeader h = OracleDecode(s);
      if (s.empty()) {
        want = {false, "", "EOFError", ""};
      } else if (h.status == OracleHeader::kTruncated) {
        want = {false, "", "OSError", kEofInMessage};
      } else if (h.status == OracleHeader::kNegative) {
        want = {false, "", "OSError",
                "bad message length: negative length " + std::to_string(h.raw)};
        consumed_header = true;
      } else {
        consumed_header = true;
        const uint64_t avail = s.size() - h.header_size;
        const bool too_long_for_max =
            !op.into && op.maxlength && h.length > static_cast<uint64_t>(*op.maxlength);
        if (too_long_for_max) {
          want = {false, "", "OSError", "bad message length"};
        } else if (h.length > limit) {
          want = {false, "", "OSError",
                  "bad message length: " + std::to_string(h.length) +
                      " bytes exceeds max_message_size " + std::to_string(limit)};
        } else if (h.length > avail) {
          want = {false, "", "OSError", kEofInMessage};
        } else {
          const std::string payload(s.substr(h.header_size, static_cast<size_t>(h.length)));
          const bool fits = !op.into || h.length <= op.bufsize - static_cast<uint64_t>(op.offset);
          want =
              fits ? Result{true, payload, "", ""} : Result{false, payload, "BufferTooShort", ""};
          pos += h.header_size + static_cast<size_t>(h.length);
        }
      }
    }
    std::vector<unsigned char> buffer(op.bufsize, 0xAB);
    const Result got = Capture([&]() -> std::string {
      if (!op.into) return conn.recv_bytes(op.maxlength);
      const size_t n = conn.recv_bytes_into(buffer, op.offset);
      return std::string(reinterpret_cast<const char*>(buffer.data()) + op.offset, n);
    });
    Check(got.ok == want.ok && got.type == want.type && got.message == want.message &&
              got.payload == want.payload,
          [&] {
            return "recv outcome: got " + got.type + "('" + got.message + "') want " + want.type +
                   "('" + want.message + "')";
          });
    if (want.type == "BufferTooShort") {
      for (unsigned char c : buffer) Check(c == 0xAB, "BufferTooShort must leave the buffer alone");
    }
    // CONN-RB-MAXLEN state: a writable end stops reading, a read-only end is closed.
    const bool bad_length =
        want.type == "OSError" && want.message.rfind("bad message length", 0) == 0;
    if (bad_length && !closed_before && readable_before) {
      Check(consumed_header, "bad length after a header");
      if (duplex) {
        Check(!conn.closed() && !conn.readable() && conn.writable(), "duplex end stops reading");
      } else {
        Check(conn.closed(), "read-only end is closed");
      }
    }
    if (!got.ok && got.type != "BufferTooShort" && !bad_length) {
      // EOF and truncation end the stream for good; argument errors leave it where it was.
      if (got.type != "ValueError") break;
    }
  }
  return 0;
}
