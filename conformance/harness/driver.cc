#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace mpipc::conformance {

namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Writes all of `data`, retrying on EINTR and short writes; false if the pipe is broken.
bool WriteFully(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

ErrorInfo ParseError(const Json& e) {
  ErrorInfo info;
  if (!e.is_object()) {
    info.type = "ProtocolError";
    info.message = "malformed error object: " + e.dump();
    return info;
  }
  info.type = e.value("type", std::string("?"));
  if (auto it = e.find("message"); it != e.end() && it->is_string()) {
    info.message = it->get<std::string>();
  }
  if (auto it = e.find("args"); it != e.end()) info.args = *it;
  if (auto it = e.find("errno"); it != e.end() && it->is_number_integer()) {
    info.errno_value = it->get<int>();
  }
  return info;
}

}  // namespace

std::string ErrorInfo::ToString() const {
  std::string s = type;
  if (message) s += ": " + *message;
  if (errno_value) s += " [errno " + std::to_string(*errno_value) + "]";
  return s;
}

std::string Response::ToString() const {
  return ok ? "ok " + result.dump() : "error " + error.ToString();
}

Driver::Driver(std::vector<std::string> argv, const std::string& stderr_log)
    : argv_(std::move(argv)) {
  if (argv_.empty()) throw std::runtime_error("empty driver command");
  // A driver that dies must surface as DriverCrashed on the next request, not kill us by SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error(Errno("pipe2"));
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    throw std::runtime_error(Errno("pipe2"));
  }
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string log = stderr_log.empty() ? "/dev/null" : stderr_log;
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(Errno("fork"));
  if (pid_ == 0) {
    // Child: own process group (so Kill() reaches the driver's actors too), pipes on 0/1.
    ::setpgid(0, 0);
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err >= 0) ::dup2(err, 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    const std::string msg = "cannot exec " + argv_[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from the parent, so Kill() works even before the child runs
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
  reader_ = std::thread([this] { ReadLoop(); });
}

Driver::~Driver() {
  if (alive()) {
    try {
      Request({{"op", "shutdown"}}, 5.0);
    } catch (const std::exception&) {
      // Killed below.
    }
  }
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  // Give a clean exit a moment, then make sure nothing of the driver survives.
  for (int i = 0; i < 100 && alive(); ++i) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return dead_; });
  }
  Kill();
  if (reader_.joinable()) reader_.join();
  ::close(stdout_fd_);
}

void Driver::Kill() {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

bool Driver::alive() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !dead_;
}

std::string Driver::death_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return death_reason_;
}

std::optional<int> Driver::ActorExitcode(const std::string& actor) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = actor_exits_.find(actor);
  if (it == actor_exits_.end()) return std::nullopt;
  return it->second;
}

Driver::Pending Driver::Send(Json request) {
  Pending p;
  p.driver_ = this;
  p.slot_ = std::make_shared<Slot>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    p.id_ = next_id_++;
    slots_[p.id_] = p.slot_;
  }
  request["id"] = p.id_;
  const std::string line = request.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(write_mu_);
  if (stdin_fd_ < 0 || !WriteFully(stdin_fd_, line)) {
    // The reader will notice the death; Wait() reports it.
  }
  return p;
}

Response Driver::Request(Json request, double timeout_seconds) {
  return Send(std::move(request)).Wait(timeout_seconds);
}

Response Driver::Pending::Wait(double timeout_seconds) const {
  std::unique_lock<std::mutex> lock(driver_->mu_);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (!slot_->done) {
    if (driver_->dead_) throw DriverCrashed(driver_->death_reason_);
    if (driver_->cv_.wait_until(lock, deadline) == std::cv_status::timeout && !slot_->done) {
      if (driver_->dead_) throw DriverCrashed(driver_->death_reason_);
      throw DriverTimeout("no response to request " + std::to_string(id_) + " within " +
                          std::to_string(timeout_seconds) + " s");
    }
  }
  return slot_->response;
}

bool Driver::Pending::ArrivesWithin(double seconds) const {
  std::unique_lock<std::mutex> lock(driver_->mu_);
  driver_->cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                        [this] { return slot_->done || driver_->dead_; });
  return slot_->done;
}

void Driver::MarkDead(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dead_) {
    dead_ = true;
    death_reason_ = reason;
  }
  cv_.notify_all();
}

void Driver::ReadLoop() {
  std::string buffer;
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const size_t old_size = buffer.size();
    buffer.append(chunk, static_cast<size_t>(n));
    // Only the new bytes can hold a newline: rescanning a long partial line on every chunk
    // would make a multi-MiB response quadratic.
    if (buffer.find('\n', old_size) == std::string::npos) continue;
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buffer.data() + start, nl - start);
      if (line.empty()) continue;
      Json msg = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (msg.is_discarded() || !msg.is_object()) {
        MarkDead("driver wrote a non-protocol line: " + std::string(line.substr(0, 200)));
        continue;
      }
      if (msg.contains("event")) {
        if (msg["event"] == "actor_exited" && msg.contains("actor") && msg["actor"].is_string()) {
          std::lock_guard<std::mutex> lock(mu_);
          actor_exits_[msg["actor"].get<std::string>()] = msg.value("exitcode", 0);
          cv_.notify_all();
        }
        continue;
      }
      if (!msg.contains("id") || !msg["id"].is_number_integer()) continue;  // id:null protocol
      Response r;
      r.ok = msg.value("ok", false);
      if (r.ok) {
        r.result = msg.value("result", Json());
      } else {
        r.error = ParseError(msg.value("error", Json()));
      }
      std::lock_guard<std::mutex> lock(mu_);
      auto it = slots_.find(msg["id"].get<int64_t>());
      if (it != slots_.end()) {
        it->second->response = std::move(r);
        it->second->done = true;
        slots_.erase(it);
        cv_.notify_all();
      }
    }
    buffer.erase(0, start);
  }
  int status = 0;
  std::string reason = "driver closed its stdout";
  if (::waitpid(pid_, &status, 0) == pid_) {
    if (WIFEXITED(status)) {
      reason = "driver exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      reason = "driver killed by signal " + std::to_string(WTERMSIG(status));
    }
  }
  MarkDead(reason);
}

}  // namespace mpipc::conformance
