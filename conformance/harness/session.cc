#include "session.h"

#include <stdexcept>

namespace mpipc::conformance {

namespace {
std::unique_ptr<Session>& SessionSlot() {
  static std::unique_ptr<Session> session;
  return session;
}
}  // namespace

Session& CurrentSession() {
  if (!SessionSlot()) throw std::logic_error("no conformance session installed");
  return *SessionSlot();
}

void InstallSession(std::unique_ptr<Session> session) { SessionSlot() = std::move(session); }

Session::Session(SessionOptions options) : options_(std::move(options)) {}

Driver& Session::driver() {
  if (driver_ && driver_->alive()) return *driver_;
  driver_.reset();
  ++restarts_;
  auto d = std::make_unique<Driver>(options_.argv, options_.stderr_log);
  Response r = d->Request({{"op", "hello"}, {"protocol", 1}}, options_.limit);
  if (!r.ok) throw DriverCrashed("driver refused hello: " + r.error.ToString());
  if (!r.result.is_object() || r.result.value("protocol", 0) != 1) {
    throw DriverCrashed("driver does not speak protocol 1: " + r.result.dump());
  }
  hello_ = r.result;
  driver_ = std::move(d);
  return *driver_;
}

const Json& Session::hello() {
  driver();
  return hello_;
}

std::string Session::name() {
  if (!options_.target_name.empty()) return options_.target_name;
  return hello().value("name", std::string("unnamed"));
}

std::string Session::language() { return hello().value("language", std::string()); }
std::string Session::language_version() { return hello().value("language_version", std::string()); }
std::string Session::implementation() { return hello().value("implementation", std::string()); }

bool Session::FunctionsTravel(const std::string& kind) {
  const Json& caps = hello().value("capabilities", Json::object());
  auto ft = caps.find("functions_travel");
  if (ft == caps.end() || !ft->is_object()) return false;
  return ft->value(kind, false);
}

bool Session::Reset() {
  if (!driver_ || !driver_->alive()) {
    driver_.reset();
    return false;
  }
  try {
    Response r = driver_->Request({{"op", "close_all"}}, options_.limit);
    if (r.ok) return true;
  } catch (const std::exception&) {
    // Fall through: a driver that cannot clean up is replaced.
  }
  Discard();
  return false;
}

void Session::Discard() {
  if (driver_) driver_->Kill();
  driver_.reset();
}

}  // namespace mpipc::conformance
