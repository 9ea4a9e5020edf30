#include "links.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "mpipc/connection.h"
#include "mpipc/queue.h"

namespace mpipc_bench {
namespace {

// --- raw file descriptors with CPython's framing ----------------------------------------------
// A 4-byte big-endian signed length, or -1 followed by an 8-byte length for 2 GiB and more;
// header and payload leave in one writev(), as a careful hand-written sender would.

void WriteAllV(int fd, iovec* iov, int n) {
  while (n > 0) {
    const ssize_t w = writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("writev: ") + std::strerror(errno));
    }
    auto left = static_cast<size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

void ReadExact(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw std::runtime_error("read: end of stream or error");
    p += r;
    n -= static_cast<size_t>(r);
  }
}

class RawFdLink : public Link {
 public:
  explicit RawFdLink(bool socketpair) {
    int fds[2];
    const int rc = socketpair ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
                              : pipe2(fds, O_CLOEXEC);
    if (rc != 0) throw std::runtime_error("pipe/socketpair failed");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  ~RawFdLink() override {
    close(read_fd_);
    close(write_fd_);
  }
  RawFdLink(const RawFdLink&) = delete;
  RawFdLink& operator=(const RawFdLink&) = delete;

  void Send(const std::string& item) override {
    unsigned char header[12];
    size_t header_len = 4;
    const uint64_t n = item.size();
    if (n < 0x7fffffffULL) {
      for (int i = 0; i < 4; ++i) header[i] = static_cast<unsigned char>(n >> (24 - 8 * i));
    } else {
      std::memset(header, 0xff, 4);
      for (int i = 0; i < 8; ++i) header[4 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
      header_len = 12;
    }
    iovec iov[2] = {{header, header_len}, {const_cast<char*>(item.data()), item.size()}};
    WriteAllV(write_fd_, iov, item.empty() ? 1 : 2);
  }

  size_t Recv() override {
    unsigned char header[8];
    ReadExact(read_fd_, reinterpret_cast<char*>(header), 4);
    uint64_t n = (uint64_t{header[0]} << 24) | (uint64_t{header[1]} << 16) |
                 (uint64_t{header[2]} << 8) | header[3];
    if (n == 0xffffffffULL) {
      ReadExact(read_fd_, reinterpret_cast<char*>(header), 8);
      n = 0;
      for (const unsigned char b : header) n = (n << 8) | b;
    }
    // One receive buffer, reused: the cheapest thing a hand-written reader can do.
    if (buffer_.size() < n) buffer_.resize(n);
    ReadExact(read_fd_, buffer_.data(), n);
    return n;
  }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::string buffer_;
};

// --- the reference's Connection ----------------------------------------------------------------

class ConnectionLink : public Link {
 public:
  ConnectionLink(bool duplex, bool objects) : ends_(mpipc::Pipe(duplex)), objects_(objects) {}
  void Send(const std::string& item) override {
    if (objects_) {
      ends_.second.send(item);
    } else {
      ends_.second.send_bytes(item);
    }
  }
  size_t Recv() override {
    return objects_ ? ends_.first.recv<std::string>().size() : ends_.first.recv_bytes().size();
  }

 private:
  std::pair<mpipc::Connection, mpipc::Connection> ends_;  // (reader, writer)
  bool objects_;
};

// --- the reference's queues ------------------------------------------------------------------

template <typename Q>
class QueueLink : public Link {
 public:
  void Send(const std::string& item) override { q_.put(item); }
  size_t Recv() override { return q_.get().size(); }
  void Done() override {
    if constexpr (std::is_same_v<Q, mpipc::JoinableQueue<std::string>>) q_.task_done();
  }

 private:
  Q q_;
};

// --- Boost.Interprocess message_queue --------------------------------------------------------

class BoostLink : public Link {
 public:
  explicit BoostLink(size_t max_item)
      : name_("mpipc-bench-" + std::to_string(getpid()) + "-" + std::to_string(counter_++)),
        max_item_(std::max<size_t>(max_item, 1)) {
    namespace bip = boost::interprocess;
    bip::message_queue::remove(name_.c_str());
    // About as much memory as the reference's default 4 MiB ring, at least two messages.
    const size_t slots = std::clamp<size_t>((size_t{4} << 20) / max_item_, 2, 1024);
    mq_ = std::make_unique<bip::message_queue>(bip::create_only, name_.c_str(), slots, max_item_);
  }
  ~BoostLink() override {
    mq_.reset();
    boost::interprocess::message_queue::remove(name_.c_str());
  }
  BoostLink(const BoostLink&) = delete;
  BoostLink& operator=(const BoostLink&) = delete;

  void Send(const std::string& item) override { mq_->send(item.data(), item.size(), 0); }
  size_t Recv() override {
    if (buffer_.size() < max_item_) buffer_.resize(max_item_);
    boost::interprocess::message_queue::size_type got = 0;
    unsigned int priority = 0;
    mq_->receive(buffer_.data(), buffer_.size(), got, priority);
    return got;
  }

 private:
  static inline std::atomic<int> counter_{0};
  std::string name_;
  size_t max_item_;
  std::unique_ptr<boost::interprocess::message_queue> mq_;
  std::string buffer_;
};

template <typename L, typename... Args>
std::function<std::unique_ptr<Link>(size_t)> Maker(Args... args) {
  return [args...](size_t max_item) -> std::unique_ptr<Link> {
    if constexpr (std::is_constructible_v<L, size_t, Args...>) {
      return std::make_unique<L>(max_item, args...);
    } else {
      return std::make_unique<L>(args...);
    }
  };
}

}  // namespace

const std::vector<LinkKind>& AllLinkKinds() {
  static const auto* const kKinds = new std::vector<LinkKind>{
      {"ref", "Queue", true, Maker<QueueLink<mpipc::Queue<std::string>>>()},
      {"ref", "SimpleQueue", true, Maker<QueueLink<mpipc::SimpleQueue<std::string>>>()},
      {"ref", "JoinableQueue", true, Maker<QueueLink<mpipc::JoinableQueue<std::string>>>()},
      {"ref", "Bytes", false, Maker<ConnectionLink>(true, false)},
      {"ref", "Object", false, Maker<ConnectionLink>(true, true)},
      {"ref-pipe", "Bytes", false, Maker<ConnectionLink>(false, false)},
      {"raw-socketpair", "Bytes", false, Maker<RawFdLink>(true)},
      {"raw-pipe", "Bytes", false, Maker<RawFdLink>(false)},
      {"boost", "Queue", true, Maker<BoostLink>()},
  };
  return *kKinds;
}

const LinkKind& FindLinkKind(const std::string& impl, const std::string& op) {
  for (const LinkKind& k : AllLinkKinds()) {
    if (k.impl == impl && k.op == op) return k;
  }
  throw std::invalid_argument("no link kind " + impl + "/" + op);
}

}  // namespace mpipc_bench
