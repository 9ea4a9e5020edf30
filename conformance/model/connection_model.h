// mpipc::model::ConnectionModel: a pure, deterministic model of the two Connection ends that
// multiprocessing.Pipe() returns, used by one thread (semantics.md §1.A–1.H; spec/clauses/
// pipe.json, connection.json, send_bytes.json, recv_bytes.json, recv_bytes_into.json, poll.json,
// eof.json).
//
// Ends are numbered as Pipe() returns them: 0 is conn1, 1 is conn2. A duplex pipe has two
// readable and writable ends; a simplex pipe (Pipe(duplex=False)) has a read-only end 0 and a
// write-only end 1. Messages are byte strings (std::string); boundaries are kept, including
// empty messages. Each call returns an Outcome (outcome.h).
//
// Exact: argument validation and its order (closed before direction, CONN-CHECK-ORDER; then the
// send_bytes/recv_bytes/recv_bytes_into argument checks, in CPython's order); every message
// text; FIFO delivery per direction; EOFError() once the peer is closed and its messages are
// drained; poll() true iff a message or EOF is pending; BrokenPipeError(32, 'Broken pipe') when
// sending to a closed peer (POSIX socketpair/pipe, CONN-SEND-EPIPE); the state after an overlong
// message (CONN-RB-MAXLEN: a writable end stops being readable, a read-only end is closed).
//
// Relaxed: a duplex end closed while messages to it were still unread (including the payload of
// an overlong message) resets the socket on Linux (AF_UNIX as for TCP, CONN-EOF-RESET): once the
// other end has drained what was sent to it, its next receive raises
// ConnectionResetError(104, 'Connection reset by peer') once, then EOFError(). The model predicts
// the reset and allows EOFError (other kernels); either way the reset is then spent.
//
// Would-block: a receive with nothing pending and the peer open; a send that would bring the
// bytes in flight in that direction (messages plus their 4- or 12-byte headers) above
// `capacity`. The capacity is a conservative stand-in for the OS buffer (64 KiB for a Linux
// pipe; a socketpair holds more): a send predicted to would-block *may* block, so do not issue
// it. Not modelled: pickled send()/recv(), partial messages (CONN-EOF-MIDMESSAGE needs a raw
// writer), buffers with itemsize > 1, read-only target buffers, several processes.
//
// BufferTooShort carries the whole message as its only argument (CONN-RBI-SHORT): the model puts
// those bytes in Error::message. OSError subclasses with an errno carry the errno in
// Error::errnum and the strerror text in Error::message.
//
// Thread-safety: none; a model is a plain value used by one thread.

#ifndef MPIPC_CONFORMANCE_MODEL_CONNECTION_MODEL_H_
#define MPIPC_CONFORMANCE_MODEL_CONNECTION_MODEL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "outcome.h"

namespace mpipc::model {

// What recv_bytes_into() returns (the message length) and the buffer's contents afterwards.
struct RecvIntoResult {
  int64_t nbytes = 0;
  std::string buffer;
  friend bool operator==(const RecvIntoResult&, const RecvIntoResult&) = default;
};

class ConnectionModel {
 public:
  using Bytes = std::string;
  static constexpr size_t kDefaultCapacity = 65536;

  explicit ConnectionModel(bool duplex = true, size_t capacity = kDefaultCapacity)
      : duplex_(duplex), capacity_(capacity) {
    ends_[0] = End{false, true, duplex};
    ends_[1] = End{false, duplex, true};
  }

  bool duplex() const { return duplex_; }
  // Properties of end `e` (0 or 1). readable/writable survive close()
  // (CONN-PROPS.close-keeps-flags) but readable turns false after an overlong message on a writable
  // end.
  bool closed(int e) const { return ends_[Index(e)].closed; }
  bool readable(int e) const { return ends_[Index(e)].readable; }
  bool writable(int e) const { return ends_[Index(e)].writable; }
  // Messages sent to end `e` and not yet received.
  const std::deque<Bytes>& pending(int e) const { return inbox_[Index(e)]; }

  // send_bytes(buf, offset=0, size=None) on end `e` (CONN-SB-VALIDATE and its order).
  Outcome<None> send_bytes(int e, const Bytes& buf, int64_t offset = 0,
                           std::optional<int64_t> size = std::nullopt) {
    const End& self = ends_[Index(e)];
    if (self.closed) return Outcome<None>::Raise(OSErr(msg::kHandleClosed));
    if (!self.writable) return Outcome<None>::Raise(OSErr(msg::kReadOnly));
    const auto n = static_cast<int64_t>(buf.size());
    if (offset < 0) return Outcome<None>::Raise(ValueErr(msg::kOffsetNegative));
    if (n < offset) return Outcome<None>::Raise(ValueErr(msg::kBufferLtOffset));
    if (!size) {
      size = n - offset;
    } else if (*size < 0) {
      return Outcome<None>::Raise(ValueErr(msg::kSizeNegative));
    } else if (offset + *size > n) {
      return Outcome<None>::Raise(ValueErr(msg::kBufferLtOffsetSize));
    }
    const int peer = 1 - e;
    if (ends_[peer].closed) {
      Error broken = MakeError("BrokenPipeError", std::string(msg::kBrokenPipe));
      broken.errnum = 32;  // EPIPE
      return Outcome<None>::Raise(std::move(broken));
    }
    const size_t wire = WireSize(static_cast<size_t>(*size));
    if (in_flight_[peer] + wire > capacity_) return Outcome<None>::WouldBlock();
    inbox_[peer].push_back(buf.substr(static_cast<size_t>(offset), static_cast<size_t>(*size)));
    in_flight_[peer] += wire;
    return Outcome<None>::Value({});
  }

  // recv_bytes(maxlength=None) on end `e` (CONN-RB-NEG, CONN-RB-MAXLEN and its .*-state clauses).
  Outcome<Bytes> recv_bytes(int e, std::optional<int64_t> maxlength = std::nullopt) {
    if (auto err = CheckReadable(e)) return Outcome<Bytes>::Raise(*err);
    if (maxlength && *maxlength < 0)
      return Outcome<Bytes>::Raise(ValueErr(msg::kNegativeMaxlength));
    if (auto stop = CheckPending(e)) return Convert<Bytes>(*stop);
    if (maxlength && static_cast<int64_t>(inbox_[e].front().size()) > *maxlength) {
      // The header was consumed, the payload was not: this end can no longer read.
      End& self = ends_[e];
      if (self.writable) {
        self.readable = false;
      } else {
        self.closed = true;
      }
      return Outcome<Bytes>::Raise(OSErr(msg::kBadMessageLength));
    }
    return Outcome<Bytes>::Value(Pop(e));
  }

  // recv_bytes_into(buffer, offset=0) on end `e`, where `buffer` is the target's current contents
  // (its size is the buffer size in bytes). On success returns the message length and the
  // buffer with the message copied at `offset` (CONN-RBI, CONN-RBI-OFFSET.*, CONN-RBI-SHORT).
  Outcome<RecvIntoResult> recv_bytes_into(int e, Bytes buffer, int64_t offset = 0) {
    if (auto err = CheckReadable(e)) return Outcome<RecvIntoResult>::Raise(*err);
    const auto bytesize = static_cast<int64_t>(buffer.size());
    if (offset < 0) return Outcome<RecvIntoResult>::Raise(ValueErr(msg::kNegativeOffset));
    if (offset > bytesize) return Outcome<RecvIntoResult>::Raise(ValueErr(msg::kOffsetTooLarge));
    if (auto stop = CheckPending(e)) return Convert<RecvIntoResult>(*stop);
    Bytes message = Pop(e);
    const auto size = static_cast<int64_t>(message.size());
    if (bytesize < offset + size) {
      return Outcome<RecvIntoResult>::Raise(MakeError("BufferTooShort", std::move(message)));
    }
    buffer.replace(static_cast<size_t>(offset), message.size(), message);
    return Outcome<RecvIntoResult>::Value(RecvIntoResult{size, std::move(buffer)});
  }
  // The same with a zero-filled buffer of `buffer_size` bytes.
  Outcome<RecvIntoResult> recv_bytes_into(int e, size_t buffer_size, int64_t offset) {
    return recv_bytes_into(e, Bytes(buffer_size, '\0'), offset);
  }

  // poll() / poll(0) on end `e`: true iff a message is pending or the peer has closed
  // (CONN-POLL-EOF); never consumes (CONN-POLL-NOCONSUME); CONN-POLL-ERRORS.
  Outcome<bool> poll(int e) const {
    if (auto err = CheckReadable(e)) return Outcome<bool>::Raise(*err);
    return Outcome<bool>::Value(!inbox_[e].empty() || ends_[1 - e].closed);
  }

  // Idempotent (CONN-CLOSE). Messages this end sent stay deliverable (CONN-EOF-DRAIN).
  Outcome<None> close(int e) {
    End& self = ends_[Index(e)];
    if (!self.closed) {
      self.closed = true;
      if (duplex_ && !inbox_[e].empty()) reset_pending_[1 - e] = true;
      inbox_[e].clear();
      in_flight_[e] = 0;
    }
    return Outcome<None>::Value({});
  }

  // Bytes a message of `size` bytes occupies on the wire (framing: 4-byte header, or the -1
  // escape plus an 8-byte length above 2**31-1).
  static size_t WireSize(size_t size) { return size + (size > 0x7fffffffU ? 12 : 4); }

 private:
  struct End {
    bool closed = false;
    bool readable = true;
    bool writable = true;
  };

  static int Index(int e) { return e == 0 ? 0 : 1; }
  static Error OSErr(std::string_view m) { return MakeError("OSError", std::string(m)); }
  static Error ValueErr(std::string_view m) { return MakeError("ValueError", std::string(m)); }

  // CONN-CHECK-ORDER: closed first, then direction.
  std::optional<Error> CheckReadable(int e) const {
    const End& self = ends_[Index(e)];
    if (self.closed) return OSErr(msg::kHandleClosed);
    if (!self.readable) return OSErr(msg::kWriteOnly);
    return std::nullopt;
  }

  // Nothing pending: EOFError() if the peer is closed (CONN-EOF; a pending reset first), else
  // would-block. nullopt when a message is ready.
  std::optional<Outcome<None>> CheckPending(int e) {
    if (!inbox_[e].empty()) return std::nullopt;
    if (!ends_[1 - e].closed) return Outcome<None>::WouldBlock();
    Outcome<None> eof = Outcome<None>::Raise(MakeError("EOFError"));
    if (!std::exchange(reset_pending_[e], false)) return eof;
    Error reset = MakeError("ConnectionResetError", "Connection reset by peer");
    reset.errnum = 104;  // ECONNRESET
    return Outcome<None>::Raise(std::move(reset)).Allow(std::move(eof));
  }

  // An error outcome of CheckPending as an Outcome<R>, alternatives included.
  template <typename R>
  static Outcome<R> Convert(const Outcome<None>& stop) {
    if (stop.would_block()) return Outcome<R>::WouldBlock();
    Outcome<R> out = Outcome<R>::Raise(stop.error());
    for (const Outcome<None>& alt : stop.alternatives()) out.Allow(Outcome<R>::Raise(alt.error()));
    return out;
  }

  Bytes Pop(int e) {
    Bytes m = std::move(inbox_[e].front());
    inbox_[e].pop_front();
    in_flight_[e] -= WireSize(m.size());
    return m;
  }

  bool duplex_;
  size_t capacity_;
  std::array<End, 2> ends_;
  std::array<std::deque<Bytes>, 2> inbox_;           // inbox_[e]: messages on their way to end e
  std::array<size_t, 2> in_flight_{0, 0};            // wire bytes of inbox_[e]
  std::array<bool, 2> reset_pending_{false, false};  // end e will see ECONNRESET once drained
};

}  // namespace mpipc::model

#endif  // MPIPC_CONFORMANCE_MODEL_CONNECTION_MODEL_H_
