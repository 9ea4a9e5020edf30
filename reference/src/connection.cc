#include "mpipc/connection.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "mpipc/framing.h"
#include "mpipc/sys.h"

namespace mpipc {

namespace {

// A payload buffer's address space is taken up front only up to this size; beyond it, it grows as
// bytes arrive. Its pages are written once, by read(2) (ResizeForRead), so what a hostile length
// header costs in memory is the bytes the peer really sends, plus at most this much address space.
constexpr uint64_t kEagerAllocation = uint64_t{64} << 20;

// Resizes `s` to `n` bytes (keeping its first s.size()) and calls `fill(s.data())`, which writes
// the new bytes and must not throw. Under C++23 (connection.cc is compiled so where the compiler
// can) the new bytes are not zero-filled first: for a large message that memset would cost about
// as much as the read itself, and would commit the pages a hostile header announced.
template <typename Fill>
void ResizeForRead(std::string& s, size_t n, Fill fill) {
#if defined(__cpp_lib_string_resize_and_overwrite)
  // The size passed to the operation is ignored: libstdc++ 12 passes the new capacity there,
  // which can exceed n.
  s.resize_and_overwrite(n, [&fill, n](char* p, size_t /*capacity*/) {
    fill(p);
    return n;
  });
#else
  s.resize(n);
  fill(s.data());
#endif
}

[[noreturn]] void ThrowErrno() { throw OSErrorFromErrno(errno); }

[[noreturn]] void ThrowEofInMessage() { throw OSError("got end of file during message"); }

}  // namespace

Connection::Connection(int fd, bool readable, bool writable) {
  if (fd < 0) throw ValueError("invalid handle");
  if (!readable && !writable) {
    throw ValueError("at least one of `readable` and `writable` must be True");
  }
  fd_ = fd;
  readable_ = readable;
  writable_ = writable;
  struct stat st {};
  is_socket_ = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

Connection::~Connection() { close(); }

Connection::Connection(Connection&& other) noexcept
    : fd_(other.fd_.exchange(-1)),
      readable_(other.readable_),
      writable_(other.writable_),
      is_socket_(other.is_socket_),
      max_message_size_(other.max_message_size_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_.exchange(-1);
    readable_ = other.readable_;
    writable_ = other.writable_;
    is_socket_ = other.is_socket_;
    max_message_size_ = other.max_message_size_;
  }
  return *this;
}

int Connection::fileno() const {
  if (fd_ < 0) throw OSError("handle is closed");
  return fd_;
}

void Connection::close() noexcept {
  const int fd = fd_.exchange(-1);
  if (fd >= 0) sys::Close(fd);
}

int Connection::release() noexcept { return fd_.exchange(-1); }

void Connection::check_readable() const {
  if (fd_ < 0) throw OSError("handle is closed");
  if (!readable_) throw OSError("connection is write-only");
}

void Connection::check_writable() const {
  if (fd_ < 0) throw OSError("handle is closed");
  if (!writable_) throw OSError("connection is read-only");
}

void Connection::send_bytes(std::span<const std::byte> buffer, int64_t offset,
                            std::optional<int64_t> size) {
  check_writable();
  const auto n = static_cast<int64_t>(buffer.size());
  if (offset < 0) throw ValueError("offset is negative");
  if (n < offset) throw ValueError("buffer length < offset");
  int64_t count;
  if (!size) {
    count = n - offset;
  } else {
    count = *size;
    if (count < 0) throw ValueError("size is negative");
    if (offset + count > n) throw ValueError("buffer length < offset + size");
  }
  const framing::Header header = framing::EncodeHeader(static_cast<uint64_t>(count));
  struct iovec iov[2];
  iov[0].iov_base = const_cast<unsigned char*>(header.bytes.data());
  iov[0].iov_len = header.size;
  iov[1].iov_base = const_cast<std::byte*>(buffer.data() + offset);
  iov[1].iov_len = static_cast<size_t>(count);
  if (sys::WriteAll(fd_, iov, count > 0 ? 2 : 1, is_socket_) != 0) ThrowErrno();
}

void Connection::bad_message_length(const std::string& message) {
  if (writable_) {
    readable_ = false;
  } else {
    close();
  }
  throw OSError(message);
}

uint64_t Connection::read_header() {
  unsigned char buf[framing::kLongHeaderSize];
  ssize_t got = sys::ReadExact(fd_, buf, framing::kShortHeaderSize);
  if (got < 0) ThrowErrno();
  if (got == 0) throw EOFError();
  if (got < static_cast<ssize_t>(framing::kShortHeaderSize)) ThrowEofInMessage();
  framing::DecodeResult r = framing::DecodeHeader({buf, framing::kShortHeaderSize});
  if (r.status == framing::DecodeStatus::kNeedMore) {
    got = sys::ReadExact(fd_, buf + framing::kShortHeaderSize,
                         framing::kLongHeaderSize - framing::kShortHeaderSize);
    if (got < 0) ThrowErrno();
    if (got < static_cast<ssize_t>(framing::kLongHeaderSize - framing::kShortHeaderSize)) {
      ThrowEofInMessage();
    }
    r = framing::DecodeHeader({buf, framing::kLongHeaderSize});
  }
  if (r.status == framing::DecodeStatus::kNegativeLength) {
    bad_message_length("bad message length: negative length " + std::to_string(r.raw_length));
  }
  return r.length;
}

std::string Connection::read_payload(uint64_t n) {
  std::string out;
  uint64_t got = 0;
  int error = 0;  // errno of a failed read, or -1 for end of file
  while (got < n) {
    // Grow geometrically past kEagerAllocation; once the peer has really sent a quarter of what
    // it announced, take the whole size at once (at most 4x the bytes received).
    const uint64_t size = got == 0       ? std::min(n, kEagerAllocation)
                          : got >= n / 4 ? n
                                         : std::min(n, got * 2);
    ResizeForRead(out, static_cast<size_t>(size), [this, &got, &error, size](char* p) {
      while (got < size) {
        const ssize_t r = sys::Read(fd_, p + got, static_cast<size_t>(size - got));
        if (r <= 0) {
          error = r == 0 ? -1 : errno;
          return;
        }
        got += static_cast<uint64_t>(r);
      }
    });
    if (error == -1) ThrowEofInMessage();
    if (error != 0) throw OSErrorFromErrno(error);
  }
  return out;
}

std::string Connection::recv_bytes(std::optional<int64_t> maxlength) {
  check_readable();
  if (maxlength && *maxlength < 0) throw ValueError("negative maxlength");
  const uint64_t n = read_header();
  if (maxlength && n > static_cast<uint64_t>(*maxlength)) bad_message_length("bad message length");
  if (n > max_message_size_) {
    bad_message_length("bad message length: " + std::to_string(n) +
                       " bytes exceeds max_message_size " + std::to_string(max_message_size_));
  }
  return read_payload(n);
}

size_t Connection::recv_bytes_into(std::span<std::byte> buffer, int64_t offset) {
  check_readable();
  if (offset < 0) throw ValueError("negative offset");
  if (static_cast<uint64_t>(offset) > buffer.size()) throw ValueError("offset too large");
  const uint64_t n = read_header();
  // The cap applies whether or not the message fits (D-MAX-MESSAGE).
  if (n > max_message_size_) {
    bad_message_length("bad message length: " + std::to_string(n) +
                       " bytes exceeds max_message_size " + std::to_string(max_message_size_));
  }
  const uint64_t room = buffer.size() - static_cast<uint64_t>(offset);
  if (n <= room) {
    // Fits: read straight into the caller's buffer.
    if (n > 0) {
      const ssize_t r = sys::ReadExact(fd_, buffer.data() + offset, static_cast<size_t>(n));
      if (r < 0) ThrowErrno();
      if (static_cast<uint64_t>(r) < n) ThrowEofInMessage();
    }
    return static_cast<size_t>(n);
  }
  throw BufferTooShort(read_payload(n));
}

bool Connection::poll(std::optional<double> timeout) {
  check_readable();
  struct pollfd p {};
  p.fd = fd_;
  p.events = POLLIN;
  const int r = sys::Poll(&p, 1, sys::DeadlineAfter(timeout));
  if (r < 0) ThrowErrno();
  return r > 0;
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) ThrowErrno();
    return {Connection(fds[0], true, true), Connection(fds[1], true, true)};
  }
  if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno();
  return {Connection(fds[0], true, false), Connection(fds[1], false, true)};
}

}  // namespace mpipc
