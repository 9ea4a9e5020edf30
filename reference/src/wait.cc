#include "mpipc/wait.h"

#include <errno.h>
#include <poll.h>

#include <string>

#include "mpipc/sys.h"

namespace mpipc {

int Waitable::fileno() const {
  if (conn_ != nullptr) return conn_->fileno();
  if (fd_ < 0) throw ValueError("Invalid file descriptor: " + std::to_string(fd_));
  return fd_;
}

std::vector<Waitable> wait(std::span<const Waitable> objects, std::optional<double> timeout) {
  std::vector<struct pollfd> fds;
  fds.reserve(objects.size());
  for (const Waitable& w : objects) {
    const int fd = w.fileno();
    for (const struct pollfd& p : fds) {
      if (p.fd == fd) throw ValueError("fd " + std::to_string(fd) + " is already registered");
    }
    fds.push_back({fd, POLLIN, 0});
  }
  const int r = sys::Poll(fds.data(), fds.size(), sys::DeadlineAfter(timeout));
  if (r < 0) throw OSErrorFromErrno(errno);
  std::vector<Waitable> ready;
  for (size_t i = 0; i < fds.size() && r > 0; ++i) {
    if (fds[i].revents != 0) ready.push_back(objects[i]);
  }
  return ready;
}

}  // namespace mpipc
