#include "actor.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "errors.h"
#include "mpipc/connection.h"
#include "mpipc/process.h"
#include "worker_pool.h"

namespace mpipc_driver {

void Output::Write(const std::string& line) {
  const std::string data = line + "\n";
  const std::lock_guard<std::mutex> lock(mu_);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the suite is gone; nothing left to tell it
    done += static_cast<size_t>(n);
  }
}

void Output::Sync() { const std::lock_guard<std::mutex> lock(mu_); }

struct ActorRecord {
  std::string name;
  std::unique_ptr<mpipc::Process> process;
  std::shared_ptr<mpipc::Connection> channel;  // main's end
  std::mutex send_mu;

  std::mutex mu;  // guards the fields below
  std::condition_variable reaped_cv;
  bool reaped = false;
  std::optional<int> exitcode;
  std::set<std::string> pending;  // ids in flight, as JSON text
};

namespace {

DriverError ActorDied(const std::string& message) { return {"ActorDied", message}; }

// The child's side: serve requests until EOF or $exit. Never returns into the caller's stack
// frames beyond Process's (which ends the process).
void ServeActor(mpipc::Connection& channel, std::map<std::string, Item> items) {
  auto table = std::make_shared<Table>(std::move(items));
  auto send_mu = std::make_shared<std::mutex>();
  // Never destroyed: its threads outlive this function (the process ends without joining them).
  auto* const workers = new WorkerPool;
  for (;;) {
    std::string line;
    try {
      line = channel.recv_bytes();
    } catch (const std::exception&) {
      return;  // main is gone
    }
    Json req;
    try {
      req = ParseLine(line);
    } catch (const std::exception&) {
      continue;  // main only forwards lines it parsed
    }
    if (req.value("op", "") == "$exit") {
      const int code = req.value("exitcode", 0);
      if (code != 0) throw mpipc::SystemExit(code);
      return;
    }
    workers->Submit([table, send_mu, &channel, r = std::move(req)]() mutable {
      const std::string response = ExecuteObjectOp(r, *table);
      // Let go of the table before answering: once main has the answer it may send $exit, and
      // the objects must then be ServeActor's alone, so that returning finalises them (a
      // Listener's private directory goes away, L-DEFAULT-ADDR).
      table.reset();
      const std::lock_guard<std::mutex> lock(*send_mu);
      try {
        channel.send_bytes(response);
      } catch (const std::exception&) {  // main is gone
      }
    });
  }
}

Json ExitcodeJson(const std::optional<int>& code) { return code ? Json(*code) : Json(nullptr); }

}  // namespace

Json Actors::Spawn(const std::string& name, const Table& main_table) {
  if (name.empty() || name == "main") throw ProtocolError("actor name '" + name + "' is taken");
  auto a = std::make_shared<ActorRecord>();
  a->name = name;
  {
    const std::lock_guard<std::mutex> fork_lock(fork_mu_);
    std::vector<int> foreign = {out_.fd(), in_fd_};
    {
      const std::lock_guard<std::mutex> lock(mu_);
      for (const auto& other : actors_) {
        if (other->name == name) throw ProtocolError("actor name '" + name + "' is taken");
        if (!other->channel->closed()) foreign.push_back(other->channel->fileno());
      }
    }
    auto ends = mpipc::Pipe();
    a->channel = std::make_shared<mpipc::Connection>(std::move(ends.first));
    mpipc::Connection theirs = std::move(ends.second);
    foreign.push_back(a->channel->fileno());
    std::map<std::string, Item> items = main_table.Snapshot();
    // The target runs only in the child, where this stack frame stays alive until _exit.
    a->process = std::make_unique<mpipc::Process>(
        [&theirs, &foreign, &items] {
          for (const int fd : foreign) ::close(fd);
          ServeActor(theirs, std::move(items));
        },
        "mpipc-actor-" + name);
    a->process->start();
    theirs.close();
  }
  {
    const std::lock_guard<std::mutex> lock(mu_);
    actors_.push_back(a);
  }
  std::thread([this, a] { Pump(a); }).detach();
  return {{"actor", name}, {"pid", *a->process->pid()}};
}

void Actors::Pump(const std::shared_ptr<ActorRecord>& a) {
  for (;;) {
    std::string line;
    try {
      line = a->channel->recv_bytes();
    } catch (const std::exception&) {
      break;
    }
    std::string id;
    try {
      id = ParseLine(line).value("id", Json()).dump();
    } catch (const std::exception&) {
    }
    {
      const std::lock_guard<std::mutex> lock(a->mu);
      a->pending.erase(id);
    }
    out_.Write(line);
  }
  a->process->join();
  std::set<std::string> pending;
  std::optional<int> code = a->process->exitcode();
  {
    const std::lock_guard<std::mutex> lock(a->mu);
    a->exitcode = code;
    pending.swap(a->pending);
  }
  const std::string died = "actor '" + a->name + "' exited with code " +
                           (code ? std::to_string(*code) : "None") +
                           " while the request was in flight";
  for (const std::string& id : pending) {
    out_.Write(ErrorLine(Json::parse(id), std::make_exception_ptr(ActorDied(died))));
  }
  out_.Write(
      Json{{"event", "actor_exited"}, {"actor", a->name}, {"exitcode", ExitcodeJson(code)}}.dump());
  {
    const std::lock_guard<std::mutex> lock(a->mu);
    a->reaped = true;
  }
  a->reaped_cv.notify_all();
}

std::shared_ptr<ActorRecord> Actors::Find(const std::string& name) {
  if (name == "main") throw ProtocolError("actor 'main' is the driver's own process");
  const std::lock_guard<std::mutex> lock(mu_);
  for (const auto& a : actors_) {
    if (a->name == name) return a;
  }
  throw ProtocolError("no actor '" + name + "'");
}

void Actors::Forward(const std::string& name, const Json& request_id, const std::string& line) {
  const std::shared_ptr<ActorRecord> a = Find(name);
  const std::string id = request_id.dump();
  {
    const std::lock_guard<std::mutex> lock(a->mu);
    if (a->reaped || a->exitcode) throw ActorDied("actor '" + name + "' is not running");
    a->pending.insert(id);
  }
  try {
    const std::lock_guard<std::mutex> lock(a->send_mu);
    a->channel->send_bytes(line);
  } catch (const std::exception& e) {
    {
      const std::lock_guard<std::mutex> lock(a->mu);
      a->pending.erase(id);
    }
    throw ActorDied("actor '" + name + "' is not running (" + e.what() + ")");
  }
}

Json Actors::Kill(const std::string& name) {
  const std::shared_ptr<ActorRecord> a = Find(name);
  a->process->kill();  // nothing once the child has been reaped
  std::unique_lock<std::mutex> lock(a->mu);
  a->reaped_cv.wait(lock, [&a] { return a->reaped; });
  return {{"exitcode", ExitcodeJson(a->exitcode)}};
}

Json Actors::Exit(const std::string& name, int exitcode, std::optional<double> timeout) {
  const std::shared_ptr<ActorRecord> a = Find(name);
  try {
    const std::lock_guard<std::mutex> lock(a->send_mu);
    a->channel->send_bytes(Json{{"op", "$exit"}, {"exitcode", exitcode}}.dump());
  } catch (const std::exception&) {  // already gone: join reports how it ended
  }
  return Join(name, timeout);
}

Json Actors::Join(const std::string& name, std::optional<double> timeout) {
  const std::shared_ptr<ActorRecord> a = Find(name);
  std::unique_lock<std::mutex> lock(a->mu);
  auto done = [&a] { return a->reaped; };
  if (!timeout) {
    a->reaped_cv.wait(lock, done);
  } else if (!a->reaped_cv.wait_for(lock, std::chrono::duration<double>(*timeout), done)) {
    return {{"exitcode", nullptr}};
  }
  return {{"exitcode", ExitcodeJson(a->exitcode)}};
}

Json Actors::CloseAll() {
  std::vector<std::shared_ptr<ActorRecord>> actors;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    actors.swap(actors_);
  }
  Json killed = Json::array();
  for (const auto& a : actors) {
    if (!a->process->exitcode()) {
      a->process->kill();
      killed.push_back(a->name);
    }
  }
  for (const auto& a : actors) {
    std::unique_lock<std::mutex> lock(a->mu);
    a->reaped_cv.wait(lock, [&a] { return a->reaped; });
    a->channel->close();
  }
  return killed;
}

}  // namespace mpipc_driver
