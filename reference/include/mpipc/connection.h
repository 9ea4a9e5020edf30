// mpipc::Connection: one end of a message-oriented byte stream, the C++ twin of Python's
// multiprocessing.connection.Connection (semantics.md §1.B–1.H, wire-protocol.md §2.2).
//
// A Connection owns one file descriptor (a socket or a pipe end) and closes it on destruction.
// It is move-only. Messages are framed exactly as CPython frames them, so a Connection talks to a
// Python Connection on the other end of the same socket or pipe.
//
// API mapping (Python -> C++):
//   send_bytes(buf, offset=0, size=None)  send_bytes(bytes, offset = 0, size = nullopt); offset and
//                                         size count bytes (CONN-SB-UNITS) and are signed so that
//                                         CPython's negative-value errors are reproduced.
//   recv_bytes(maxlength=None) -> bytes   recv_bytes(maxlength = nullopt) -> std::string (bytes)
//   recv_bytes_into(buf, offset=0)        recv_bytes_into(writable bytes, offset = 0) -> size_t
//   poll(timeout=0.0)                     poll(timeout = 0.0); nullopt blocks; <= 0 does not wait
//   send(obj) / recv()                    send(const T&) / recv<T>(), Boost.Serialization payloads
//                                         (serialization.h), not pickles
//   readable/writable/closed, fileno()    readable()/writable()/closed(), fileno()
//
// Every I/O method checks "closed" first, then direction, then its arguments, then does I/O, and
// raises the same exception types and messages as CPython (errors.h). Beyond CPython, every
// Connection has a maximum accepted message size (max_message_size(), default
// kDefaultMaxMessageSize): a longer incoming length is rejected before any payload is read. A
// payload buffer takes address space up front for at most 64 MiB and grows beyond that only as
// bytes arrive, and its pages are first written by the read itself (no zero-fill), so a hostile
// length header cannot make us commit more memory than the data the peer really sent, nor reserve
// more than the cap.
//
// Thread- and process-safety: like CPython's, a Connection is not safe for concurrent use of the
// same direction by two threads or processes (CONN-NOT-THREADSAFE); one reader and one writer at
// a time on a duplex connection are fine. close() from another thread does not wake a blocked
// recv (CONN-CLOSE-XTHREAD). Blocking: send_bytes blocks while the OS buffer is full, recv_*
// block until a whole message arrives; neither has a timeout (use poll() or wait() first).
//
// Writes never raise SIGPIPE: sockets use MSG_NOSIGNAL; pipe writes block SIGPIPE for the
// calling thread unless the process already ignores it. A write to a closed peer raises
// OSError(EPIPE, "Broken pipe"), i.e. Python's BrokenPipeError.

#ifndef MPIPC_CONNECTION_H_
#define MPIPC_CONNECTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "mpipc/errors.h"
#include "mpipc/serialization.h"

namespace mpipc {

class Connection {
 public:
  // 1 GiB. Raise it with set_max_message_size() to receive larger messages (up to 2^64-1).
  static constexpr uint64_t kDefaultMaxMessageSize = uint64_t{1} << 30;

  // A closed Connection (closed() is true); only useful as a move target.
  Connection() = default;
  // Takes ownership of `fd`. Throws ValueError('invalid handle') for fd < 0 and
  // ValueError('at least one of `readable` and `writable` must be True') when both are false.
  explicit Connection(int fd, bool readable = true, bool writable = true);
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool closed() const noexcept { return fd_ < 0; }
  // Not changed by close() (CONN-PROPS); readable() becomes false after a bad message length on a
  // writable connection (CONN-RB-MAXLEN).
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  // The descriptor; OSError('handle is closed') once closed.
  int fileno() const;
  // Idempotent.
  void close() noexcept;
  // Gives up ownership of the descriptor without closing it; the Connection becomes closed.
  int release() noexcept;

  uint64_t max_message_size() const noexcept { return max_message_size_; }
  void set_max_message_size(uint64_t n) noexcept { max_message_size_ = n; }

  // Sends `buffer[offset, offset + size)` as one message. Validation order and messages as CPython
  // (CONN-SB-VALIDATE); nothing is written when validation fails.
  void send_bytes(std::span<const std::byte> buffer, int64_t offset = 0,
                  std::optional<int64_t> size = std::nullopt);
  void send_bytes(std::string_view buffer, int64_t offset = 0,
                  std::optional<int64_t> size = std::nullopt) {
    send_bytes(std::as_bytes(std::span(buffer.data(), buffer.size())), offset, size);
  }
  // Any contiguous range of trivially copyable elements (vector<int>, array<float>, ...); offset
  // and size count bytes, as CPython's memoryview cast does.
  template <std::ranges::contiguous_range R>
  requires std::is_trivially_copyable_v<std::ranges::range_value_t<R>> &&
      (!std::is_convertible_v<const R&, std::string_view>)void send_bytes(
          const R& range, int64_t offset = 0, std::optional<int64_t> size = std::nullopt) {
    send_bytes(std::as_bytes(std::span(std::ranges::data(range), std::ranges::size(range))), offset,
               size);
  }

  // Receives one whole message. maxlength < 0 -> ValueError('negative maxlength'); a longer
  // message -> OSError('bad message length') and the connection stops being readable (closed if
  // it is not writable). EOFError() at a clean end of stream, OSError('got end of file during
  // message') inside a frame.
  std::string recv_bytes(std::optional<int64_t> maxlength = std::nullopt);

  // Receives one message into `buffer` at byte `offset`; returns its length. Offset errors are
  // raised before reading; a message that does not fit is consumed and raised as BufferTooShort
  // carrying it, the buffer untouched.
  size_t recv_bytes_into(std::span<std::byte> buffer, int64_t offset = 0);
  template <std::ranges::contiguous_range R>
  requires std::is_trivially_copyable_v<std::ranges::range_value_t<R>> &&
      (!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>)size_t
      recv_bytes_into(R& range, int64_t offset = 0) {
    return recv_bytes_into(
        std::as_writable_bytes(std::span(std::ranges::data(range), std::ranges::size(range))),
        offset);
  }

  // True when a byte (or end of stream) can be read. timeout in seconds: 0 (default) or negative
  // does not wait, nullopt waits forever. Consumes nothing.
  bool poll(std::optional<double> timeout = 0.0);

  // Serializes `obj` (serialization.h) and sends it as one message. A serialization error is
  // raised before anything is written.
  template <typename T>
  void send(const T& obj) {
    check_writable();
    send_bytes(Serialize(obj));
  }
  // Receives one message and deserializes it as T. An empty message raises
  // EOFError('Ran out of input') (CONN-RECV-EMPTY-FRAME); a malformed one SerializationError, with
  // the message consumed.
  template <typename T>
  T recv() {
    return Deserialize<T>(recv_bytes());
  }

 private:
  void check_readable() const;
  void check_writable() const;
  // Reads the next frame's header; returns its payload length.
  uint64_t read_header();
  // Reads exactly `n` payload bytes into a string that grows as data arrives.
  std::string read_payload(uint64_t n);
  // CPython's _bad_message_length: stop reading (close if not writable), then raise.
  [[noreturn]] void bad_message_length(const std::string& message);

  // Atomic so that close() from another thread while a receive is blocked (CONN-CLOSE-XTHREAD)
  // is not a data race; the blocked receive keeps the descriptor number it already read.
  std::atomic<int> fd_{-1};
  bool readable_ = true;
  bool writable_ = true;
  bool is_socket_ = false;
  uint64_t max_message_size_ = kDefaultMaxMessageSize;
};

// Python's Pipe(duplex=True): a connected socketpair when duplex, else pipe(2) with the first end
// readable only and the second writable only. Descriptors are close-on-exec.
std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace mpipc

#endif  // MPIPC_CONNECTION_H_
