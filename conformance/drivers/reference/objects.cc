#include "objects.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "errors.h"
#include "mpipc/errors.h"
#include "mpipc/serialization.h"
#include "mpipc/wait.h"

namespace mpipc_driver {

using mpipc::Value;

// What a Connection's send()/recv() carry: a Value, or a table function (non-null `function`).
struct Transit {
  Value value;
  FunctionPtr function;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& value;
    ar& function;
  }
};

void Object::Close() noexcept {
  try {
    if (queue) {
      queue->cancel_join_thread();
      queue->close();
    }
    if (simple) simple->close();
    if (conn) conn->close();
    if (listener) listener->close();
  } catch (const std::exception&) {  // best effort, as the Python driver
  }
}

Item Table::Get(const std::string& name) const {
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find(name);
  if (it == items_.end()) throw ProtocolError("no object '" + name + "' in this actor");
  return it->second;
}

void Table::Bind(const std::string& name, Item item) {
  if (name.empty()) throw ProtocolError("a handle is a non-empty string");
  const std::lock_guard<std::mutex> lock(mu_);
  items_[name] = std::move(item);
}

std::optional<std::string> Table::NameOf(const ObjectPtr& obj) const {
  const std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kv : items_) {
    const auto* o = std::get_if<ObjectPtr>(&kv.second);
    if (o != nullptr && *o == obj) return kv.first;
  }
  return std::nullopt;
}

std::map<std::string, Item> Table::Snapshot() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return items_;
}

int Table::CloseAll() {
  std::map<std::string, Item> items;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    items.swap(items_);
  }
  int closed = 0;
  for (auto& kv : items) {
    if (auto* o = std::get_if<ObjectPtr>(&kv.second)) {
      (*o)->Close();
      ++closed;
    }
  }
  return closed;
}

const std::map<std::string, std::vector<std::string>>& Methods() {
  static const auto* const kMethods = [] {
    const std::vector<std::string> queue = {
        "cancel_join_thread", "close",       "empty", "full",       "get",
        "get_nowait",         "join_thread", "put",   "put_nowait", "qsize"};
    std::vector<std::string> joinable = queue;
    joinable.insert(joinable.end(), {"join", "task_done"});
    std::sort(joinable.begin(), joinable.end());
    return new std::map<std::string, std::vector<std::string>>{
        {"Queue", queue},
        {"JoinableQueue", joinable},
        {"SimpleQueue", {"close", "empty", "get", "put"}},
        {"Connection",
         {"close", "fileno", "poll", "recv", "recv_bytes", "recv_bytes_into", "send",
          "send_bytes"}},
        {"Listener", {"accept", "close"}},
    };
  }();
  return *kMethods;
}

const std::map<std::string, std::vector<std::string>>& Attributes() {
  static const auto* const kAttributes = new std::map<std::string, std::vector<std::string>>{
      {"Connection", {"closed", "readable", "writable"}},
      {"Listener", {"address", "last_accepted"}},
  };
  return *kAttributes;
}

const std::vector<std::string>& CreateKinds() {
  static const auto* const kKinds = new std::vector<std::string>{
      "Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Listener", "Client"};
  return *kKinds;
}

namespace {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kQueue:
      return "Queue";
    case Kind::kJoinableQueue:
      return "JoinableQueue";
    case Kind::kSimpleQueue:
      return "SimpleQueue";
    case Kind::kConnection:
      return "Connection";
    case Kind::kListener:
      return "Listener";
  }
  return "?";
}

std::string ItemTypeName(const Item& item) {
  if (const auto* v = std::get_if<Value>(&item)) return std::string(v->type_name());
  if (std::holds_alternative<FunctionPtr>(item)) return "function";
  return KindName(std::get<ObjectPtr>(item)->kind);
}

// The arguments of one call bound to a Python signature: params[i] is the i-th parameter name.
class Args {
 public:
  Args(const Json& req, const Table& table, const std::string& fname,
       const std::vector<const char*>& params, size_t required)
      : values_(params.size()) {
    const Json args = req.value("args", Json::array());
    const Json kwargs = req.value("kwargs", Json::object());
    if (!args.is_array() || !kwargs.is_object()) {
      throw ProtocolError("args must be a list and kwargs an object");
    }
    const HandleLookup lookup = [&table](const std::string& n) { return table.Get(n); };
    if (args.size() > params.size()) {
      throw mpipc::TypeError(fname + "() takes " + std::to_string(params.size()) +
                             " positional arguments but " + std::to_string(args.size()) +
                             " were given");
    }
    for (size_t i = 0; i < args.size(); ++i) values_[i] = DecodeItem(args[i], lookup);
    for (const auto& kv : kwargs.items()) {
      auto it = std::find_if(params.begin(), params.end(),
                             [&kv](const char* p) { return kv.key() == p; });
      if (it == params.end()) {
        throw mpipc::TypeError(fname + "() got an unexpected keyword argument '" + kv.key() + "'");
      }
      const auto i = static_cast<size_t>(it - params.begin());
      if (values_[i]) {
        throw mpipc::TypeError(fname + "() got multiple values for argument '" + kv.key() + "'");
      }
      values_[i] = DecodeItem(kv.value(), lookup);
    }
    for (size_t i = 0; i < required; ++i) {
      if (!values_[i]) {
        throw mpipc::TypeError(fname + "() missing required argument: '" + params[i] + "'");
      }
    }
  }

  // The i-th argument, or nullptr when it was not given (its Python default applies).
  const Item* get(size_t i) const { return values_[i] ? &*values_[i] : nullptr; }

 private:
  std::vector<std::optional<Item>> values_;
};

const Value* AsValue(const Item* item) { return item ? std::get_if<Value>(item) : nullptr; }

bool Truthy(const Item* item, bool dflt) {
  if (item == nullptr) return dflt;
  const Value* v = AsValue(item);
  if (v == nullptr) return true;
  switch (v->kind()) {
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v->as_bool();
    case Value::Kind::kInt:
      return v->as_int() != 0;
    case Value::Kind::kFloat:
      return v->as_float() != 0.0;
    case Value::Kind::kStr:
      return !v->as_str().empty();
    case Value::Kind::kBytes:
      return !v->as_bytes().data.empty();
    case Value::Kind::kList:
      return !v->as_list().empty();
    case Value::Kind::kTuple:
      return !v->as_tuple().items.empty();
    case Value::Kind::kDict:
      return !v->as_dict().empty();
  }
  return true;
}

// A timeout in seconds: None -> nullopt (no limit).
std::optional<double> Seconds(const Item* item, std::optional<double> dflt) {
  if (item == nullptr) return dflt;
  const Value* v = AsValue(item);
  if (v != nullptr && v->is_none()) return std::nullopt;
  if (v != nullptr && v->is_float()) return v->as_float();
  if (v != nullptr && v->is_int()) return static_cast<double>(v->as_int());
  if (v != nullptr && v->is_bool()) return v->as_bool() ? 1.0 : 0.0;
  throw mpipc::TypeError("'" + ItemTypeName(*item) +
                         "' object cannot be interpreted as a number of seconds");
}

int64_t Int(const Item* item, int64_t dflt) {
  if (item == nullptr) return dflt;
  const Value* v = AsValue(item);
  if (v != nullptr && v->is_int()) return v->as_int();
  if (v != nullptr && v->is_bool()) return v->as_bool() ? 1 : 0;
  throw mpipc::TypeError("'" + ItemTypeName(*item) +
                         "' object cannot be interpreted as an integer");
}

// A queue's maxsize, converted as Python's Queue.__init__ does: `maxsize <= 0` is evaluated
// first (a non-number fails that comparison; a float <= 0 means unbounded), then the semaphore
// needs an integer (Q-CTOR.type).
int64_t Maxsize(const Item* item) {
  const Value* v = AsValue(item);
  if (item != nullptr && (v == nullptr || !(v->is_int() || v->is_bool() || v->is_float()))) {
    throw mpipc::TypeError("'<=' not supported between instances of '" + ItemTypeName(*item) +
                           "' and 'int'");
  }
  if (v != nullptr && v->is_float()) {
    if (v->as_float() <= 0) return 0;
    throw mpipc::TypeError("'float' object cannot be interpreted as an integer");
  }
  return Int(item, 0);
}

std::optional<int64_t> OptInt(const Item* item) {
  const Value* v = AsValue(item);
  if (item == nullptr || (v != nullptr && v->is_none())) return std::nullopt;
  return Int(item, 0);
}

// What a queue can carry: a Value.
const Value& Payload(const Item* item) {
  if (const Value* v = AsValue(item)) return *v;
  throw Unsupported("a " + ItemTypeName(*item) +
                    " cannot go through a queue of mpipc::Value in the reference driver");
}

// Python's `address_type` and `is_abstract_socket_namespace` (multiprocessing.connection): a
// tuple is AF_INET, a str starting with two backslashes AF_PIPE (not recognized off Windows), any
// other str or a bytes starting with NUL AF_UNIX; other bytes are a ValueError, other types a
// TypeError.
const char kPipeNotRecognized[] = "Family AF_PIPE is not recognized.";

std::optional<mpipc::Address> ToAddress(const Item* item) {
  const Value* v = AsValue(item);
  if (item == nullptr || (v != nullptr && v->is_none())) return std::nullopt;
  if (v != nullptr && v->is_tuple() && v->as_tuple().items.size() == 2 &&
      v->as_tuple().items[0].is_str() && v->as_tuple().items[1].is_int()) {
    const int64_t port = v->as_tuple().items[1].as_int();
    if (port < 0 || port > 65535) throw DriverError("OverflowError", "port must be 0-65535.");
    return mpipc::Address::Inet(v->as_tuple().items[0].as_str(), static_cast<uint16_t>(port));
  }
  if (v != nullptr && v->is_str() && v->as_str().rfind("\\\\", 0) == 0) {
    throw mpipc::ValueError(kPipeNotRecognized);
  }
  const std::string* path = nullptr;
  if (v != nullptr && v->is_str()) path = &v->as_str();
  if (v != nullptr && v->is_bytes()) {
    if (v->as_bytes().data.empty() || v->as_bytes().data[0] != '\0') {
      throw mpipc::ValueError("address type of " + v->repr() + " unrecognized");
    }
    path = &v->as_bytes().data;
  }
  if (path != nullptr) {
    if (!path->empty() && (*path)[0] == '\0') return mpipc::Address::Abstract(path->substr(1));
    return mpipc::Address::Unix(*path);
  }
  throw mpipc::TypeError("address type of " + (v ? v->repr() : ItemTypeName(*item)) +
                         " unrecognized");
}

// Abstract names read back as bytes, as Python's getsockname() reports them.
Value FromAddress(const mpipc::Address& a) {
  if (a.family == mpipc::Family::kInet) return mpipc::Tuple{a.host, int64_t{a.port}};
  if (a.abstract) return mpipc::Bytes{std::string(1, '\0') + a.path};
  return a.path;
}

// Python's `_validate_family` and `arbitrary_address`: AF_PIPE is not recognized off Windows; any
// other unknown family is "unrecognized" when no address is given.
std::optional<mpipc::Family> ToFamily(const Item* item, bool has_address) {
  const Value* v = AsValue(item);
  if (item == nullptr || (v != nullptr && v->is_none())) return std::nullopt;
  if (v != nullptr && v->is_str() && v->as_str() == "AF_INET") return mpipc::Family::kInet;
  if (v != nullptr && v->is_str() && v->as_str() == "AF_UNIX") return mpipc::Family::kUnix;
  if (v != nullptr && v->is_str() && v->as_str() == "AF_PIPE") {
    throw mpipc::ValueError(kPipeNotRecognized);
  }
  if (!has_address) throw mpipc::ValueError("unrecognized family");
  throw mpipc::ValueError("Family " + (v ? v->repr() : ItemTypeName(*item)) +
                          " is not recognized.");
}

std::optional<std::string> ToAuthkey(const Item* item) {
  const Value* v = AsValue(item);
  if (item == nullptr || (v != nullptr && v->is_none())) return std::nullopt;
  if (v != nullptr && v->is_bytes()) return v->as_bytes().data;
  throw mpipc::TypeError("authkey should be a byte string");
}

const std::string& Name(const Json& req, const char* field) {
  auto it = req.find(field);
  if (it == req.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw ProtocolError(std::string(field) + " must be a non-empty string");
  }
  return it->get_ref<const std::string&>();
}

template <typename F>
auto Pickling(const char* type, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const mpipc::SerializationError& e) {
    throw DriverError(type, e.what());
  }
}

ObjectPtr NewConnection(mpipc::Connection c) {
  auto obj = std::make_shared<Object>();
  obj->kind = Kind::kConnection;
  obj->conn = std::make_shared<mpipc::Connection>(std::move(c));
  return obj;
}

Item Create(const Json& req, Table& table) {
  const std::string kind = req.value("kind", "");
  if (kind == "Pipe") {
    const Args a(req, table, "Pipe", {"duplex"}, 0);
    const Json& h = req.contains("handle") ? req["handle"] : Json();
    if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string()) {
      throw ProtocolError("Pipe needs handle: [name1, name2]");
    }
    auto ends = mpipc::Pipe(Truthy(a.get(0), true));
    table.Bind(h[0].get<std::string>(), NewConnection(std::move(ends.first)));
    table.Bind(h[1].get<std::string>(), NewConnection(std::move(ends.second)));
    return Value();
  }
  const std::string& handle = Name(req, "handle");
  auto obj = std::make_shared<Object>();
  if (kind == "Queue" || kind == "JoinableQueue") {
    const Args a(req, table, kind, {"maxsize"}, 0);
    const int64_t maxsize = Maxsize(a.get(0));
    if (kind == "Queue") {
      obj->kind = Kind::kQueue;
      obj->queue = std::make_shared<mpipc::Queue<Value>>(maxsize);
    } else {
      obj->kind = Kind::kJoinableQueue;
      obj->queue = std::make_shared<mpipc::JoinableQueue<Value>>(maxsize);
    }
  } else if (kind == "SimpleQueue") {
    const Args a(req, table, kind, {}, 0);
    obj->kind = Kind::kSimpleQueue;
    obj->simple = std::make_shared<mpipc::SimpleQueue<Value>>();
  } else if (kind == "Listener") {
    const Args a(req, table, kind, {"address", "family", "backlog", "authkey"}, 0);
    obj->kind = Kind::kListener;
    // The family is checked before the address; no clause pins which error wins when both are bad.
    const std::optional<mpipc::Family> family =
        ToFamily(a.get(1), AsValue(a.get(0)) != nullptr && !AsValue(a.get(0))->is_none());
    const std::optional<mpipc::Address> address = ToAddress(a.get(0));
    obj->listener = std::make_shared<mpipc::Listener>(
        address, family, static_cast<int>(Int(a.get(2), mpipc::Listener::kDefaultBacklog)),
        ToAuthkey(a.get(3)));
  } else if (kind == "Client") {
    const Args a(req, table, kind, {"address", "family", "authkey"}, 1);
    const std::optional<mpipc::Address> address = ToAddress(a.get(0));
    if (!address) throw mpipc::ValueError("address type of None unrecognized");
    const std::optional<mpipc::Family> family = ToFamily(a.get(1), true);
    std::optional<std::string> authkey;
    try {
      authkey = ToAuthkey(a.get(2));
    } catch (const mpipc::TypeError&) {
      // Python checks the key's type only once connected (CL-AUTHKEY-TYPE): connect, drop the
      // connection, then raise; an unreachable address raises its connect error instead.
      mpipc::Client(*address, family).close();
      throw;
    }
    obj = NewConnection(mpipc::Client(*address, family, authkey));
  } else {
    throw ProtocolError("unknown kind '" + kind + "'");
  }
  table.Bind(handle, obj);
  return Value();
}

Item CallQueue(Object& obj, const std::string& method, const Json& req, const Table& table) {
  mpipc::Queue<Value>& q = *obj.queue;
  const std::string& kind = KindName(obj.kind);
  if (method == "put" || method == "put_nowait") {
    const bool nowait = method == "put_nowait";
    const Args a(req, table, method,
                 nowait ? std::vector<const char*>{"obj"}
                        : std::vector<const char*>{"obj", "block", "timeout"},
                 1);
    const Value& item = Payload(a.get(0));
    Pickling("PicklingError", [&] {
      q.put(item, !nowait && Truthy(a.get(1), true), nowait ? std::nullopt : Seconds(a.get(2), {}));
    });
    return Value();
  }
  if (method == "get" || method == "get_nowait") {
    const bool nowait = method == "get_nowait";
    const Args a(req, table, method,
                 nowait ? std::vector<const char*>{} : std::vector<const char*>{"block", "timeout"},
                 0);
    return Pickling("UnpicklingError", [&] {
      return nowait ? q.get_nowait() : q.get(Truthy(a.get(0), true), Seconds(a.get(1), {}));
    });
  }
  const Args none(req, table, method, {}, 0);
  if (method == "qsize") return Value(q.qsize());
  if (method == "empty") return Value(q.empty());
  if (method == "full") return Value(q.full());
  if (method == "close") {
    q.close();
  } else if (method == "join_thread") {
    q.join_thread();
  } else if (method == "cancel_join_thread") {
    q.cancel_join_thread();
  } else if (method == "task_done" && kind == "JoinableQueue") {
    static_cast<mpipc::JoinableQueue<Value>&>(q).task_done();
  } else if (method == "join" && kind == "JoinableQueue") {
    static_cast<mpipc::JoinableQueue<Value>&>(q).join();
  }
  return Value();
}

Item CallSimpleQueue(Object& obj, const std::string& method, const Json& req, const Table& table) {
  mpipc::SimpleQueue<Value>& q = *obj.simple;
  if (method == "put") {
    const Args a(req, table, method, {"obj"}, 1);
    const Value& item = Payload(a.get(0));
    Pickling("PicklingError", [&] { q.put(item); });
    return Value();
  }
  const Args none(req, table, method, {}, 0);
  if (method == "get") return Pickling("UnpicklingError", [&] { return q.get(); });
  if (method == "empty") return Value(q.empty());
  q.close();
  return Value();
}

Item CallConnection(Object& obj, const std::string& method, const Json& req, const Table& table) {
  mpipc::Connection& c = *obj.conn;
  if (method == "send") {
    const Args a(req, table, method, {"obj"}, 1);
    Transit t;
    if (const Value* v = AsValue(a.get(0))) {
      t.value = *v;
    } else if (const auto* f = std::get_if<FunctionPtr>(a.get(0))) {
      t.function = *f;
    } else {
      throw Unsupported("a " + ItemTypeName(*a.get(0)) +
                        " cannot be sent through a Connection in the reference driver");
    }
    Pickling("PicklingError", [&] { c.send(t); });
    return Value();
  }
  if (method == "recv") {
    const Args none(req, table, method, {}, 0);
    Transit t = Pickling("UnpicklingError", [&] { return c.recv<Transit>(); });
    if (t.function) return t.function;
    return std::move(t.value);
  }
  if (method == "send_bytes") {
    const Args a(req, table, method, {"buf", "offset", "size"}, 1);
    const Value* buf = AsValue(a.get(0));
    if (buf == nullptr || !buf->is_bytes()) {
      // CPython's message comes from the memoryview() conversion (CONN-SB-TYPE).
      throw mpipc::TypeError("memoryview: a bytes-like object is required, not '" +
                             ItemTypeName(*a.get(0)) + "'");
    }
    const std::string_view data = buf->as_bytes().data;
    c.send_bytes(data, Int(a.get(1), 0), OptInt(a.get(2)));
    return Value();
  }
  if (method == "recv_bytes") {
    const Args a(req, table, method, {"maxlength"}, 0);
    return Value(mpipc::Bytes{c.recv_bytes(OptInt(a.get(0)))});
  }
  if (method == "recv_bytes_into") {
    const Args a(req, table, method, {"size", "offset"}, 1);
    const Value* size = AsValue(a.get(0));
    if (size == nullptr || !size->is_int() || size->as_int() < 0) {
      throw ProtocolError("recv_bytes_into needs [size, offset?] with size >= 0");
    }
    std::string buffer(static_cast<size_t>(size->as_int()), '\0');
    const size_t n = c.recv_bytes_into(buffer, Int(a.get(1), 0));
    return Value(mpipc::Dict{{"nbytes", n}, {"buffer", mpipc::Bytes{std::move(buffer)}}});
  }
  if (method == "poll") {
    const Args a(req, table, method, {"timeout"}, 0);
    return Value(c.poll(Seconds(a.get(0), 0.0)));
  }
  const Args none(req, table, method, {}, 0);
  if (method == "fileno") return Value(c.fileno());
  c.close();
  return Value();
}

Item CallListener(Object& obj, const std::string& method, const Json& req, const Table& table) {
  const Args none(req, table, method, {}, 0);
  if (method == "accept") return NewConnection(obj.listener->accept());
  obj.listener->close();
  return Value();
}

Item GetAttr(const Object& obj, const std::string& name) {
  if (obj.kind == Kind::kConnection) {
    if (name == "closed") return Value(obj.conn->closed());
    if (name == "readable") return Value(obj.conn->readable());
    return Value(obj.conn->writable());
  }
  if (name == "address") return FromAddress(obj.listener->address());
  const auto& last = obj.listener->last_accepted();
  return last ? FromAddress(*last) : Value();
}

Json Wait(const Json& req, const Table& table) {
  const Json hs = req.value("handles", Json());
  if (!hs.is_array()) throw ProtocolError("wait needs handles: [...]");
  std::vector<mpipc::Waitable> waitables;
  for (const Json& h : hs) {
    if (!h.is_string()) throw ProtocolError("wait needs handles: [names]");
    Item item = table.Get(h.get<std::string>());
    const auto* o = std::get_if<ObjectPtr>(&item);
    const Value* fd = std::get_if<Value>(&item);
    if (o != nullptr && (*o)->kind == Kind::kConnection) {
      waitables.emplace_back(*(*o)->conn);
    } else if (o != nullptr && (*o)->kind == Kind::kListener) {
      waitables.emplace_back((*o)->listener->fileno());
    } else if (fd != nullptr && fd->is_int()) {
      // A plain descriptor (WAIT-TYPES), e.g. a bound fileno() result; mpipc::wait rejects a
      // negative one (WAIT-CLOSED.negative-fd).
      const int64_t n = fd->as_int();
      if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
        throw Unsupported("descriptor " + std::to_string(n) + " is out of range");
      }
      waitables.emplace_back(static_cast<int>(n));
    } else {
      throw Unsupported("wait on a " + ItemTypeName(item) + " is not supported");
    }
  }
  const HandleLookup lookup = [&table](const std::string& n) { return table.Get(n); };
  const Item timeout = req.contains("timeout") ? DecodeItem(req["timeout"], lookup) : Value();
  const std::vector<mpipc::Waitable> ready = mpipc::wait(waitables, Seconds(&timeout, {}));
  Json out = Json::array();
  for (size_t i = 0; i < waitables.size(); ++i) {
    if (std::find(ready.begin(), ready.end(), waitables[i]) != ready.end()) out.push_back(hs[i]);
  }
  return out;
}

Item Apply(const Json& req, const Table& table) {
  const HandleLookup lookup = [&table](const std::string& n) { return table.Get(n); };
  Item callee;
  if (req.contains("function")) {
    callee = DecodeItem(req["function"], lookup);
  } else if (req.contains("target") && req["target"].is_string()) {
    callee = table.Get(req["target"].get<std::string>());
  } else {
    throw ProtocolError("apply needs a bound 'target' or a 'function' value");
  }
  const auto* f = std::get_if<FunctionPtr>(&callee);
  if (f == nullptr) throw mpipc::TypeError("'" + ItemTypeName(callee) + "' object is not callable");
  const Json args = req.value("args", Json::array());
  const Json kwargs = req.value("kwargs", Json::object());
  if (!args.is_array() || !kwargs.is_object()) {
    throw ProtocolError("args must be a list and kwargs an object");
  }
  std::vector<Operand> operands;
  auto add = [&operands](Item item) {
    if (auto* v = std::get_if<Value>(&item)) {
      operands.emplace_back(std::move(*v));
    } else if (auto* fn = std::get_if<FunctionPtr>(&item)) {
      operands.emplace_back(std::move(*fn));
    } else {
      throw Unsupported("an object cannot be passed to a table function");
    }
  };
  for (const Json& a : args) add(DecodeItem(a, lookup));
  for (const auto& kv : kwargs.items()) {  // lambda x: ... takes x by keyword too
    if (kv.key() != "x" || (*f)->name() == "const" || !operands.empty()) {
      throw mpipc::TypeError("<lambda>() got an unexpected keyword argument '" + kv.key() + "'");
    }
    add(DecodeItem(kv.value(), lookup));
  }
  Operand result = (*f)->Call(operands);
  if (auto* v = std::get_if<Value>(&result)) return std::move(*v);
  return std::get<FunctionPtr>(std::move(result));
}

Json Run(const Json& req, Table& table) {
  const std::string op = req.value("op", "");
  const HandleName name = [&table](const ObjectPtr& o) { return table.NameOf(o); };
  if (op == "create") return EncodeItem(Create(req, table), name);
  if (op == "wait") return Wait(req, table);
  Item result;
  if (op == "apply") {
    result = Apply(req, table);
  } else if (op == "call" || op == "getattr") {
    if (!req.contains("target") || !req["target"].is_string()) {
      throw ProtocolError(op + " needs a 'target' name");
    }
    Item target = table.Get(req["target"].get<std::string>());
    const auto* o = std::get_if<ObjectPtr>(&target);
    const std::string kind = o != nullptr ? KindName((*o)->kind) : ItemTypeName(target);
    const std::string field = op == "call" ? "method" : "name";
    const std::string member = req.value(field, "");
    const auto& table_of = op == "call" ? Methods() : Attributes();
    auto known = table_of.find(kind);
    if (o == nullptr || known == table_of.end() ||
        std::find(known->second.begin(), known->second.end(), member) == known->second.end()) {
      throw ProtocolError("no " + std::string(op == "call" ? "method" : "attribute") + " '" +
                          member + "' on a " + kind);
    }
    Object& obj = **o;
    if (op == "getattr") return EncodeItem(GetAttr(obj, member), name);
    switch (obj.kind) {
      case Kind::kQueue:
      case Kind::kJoinableQueue:
        result = CallQueue(obj, member, req, table);
        break;
      case Kind::kSimpleQueue:
        result = CallSimpleQueue(obj, member, req, table);
        break;
      case Kind::kConnection:
        result = CallConnection(obj, member, req, table);
        break;
      case Kind::kListener:
        result = CallListener(obj, member, req, table);
        break;
    }
  } else {
    throw ProtocolError("unknown op '" + op + "'");
  }
  if (req.contains("bind") && !req["bind"].is_null()) {
    if (!req["bind"].is_string()) throw ProtocolError("bind must be a non-empty string");
    table.Bind(req["bind"].get<std::string>(), result);
  }
  return EncodeItem(result, name);
}

}  // namespace

std::string ExecuteObjectOp(const Json& req, Table& table) {
  const Json id = req.value("id", Json());
  try {
    return OkLine(id, Run(req, table));
  } catch (...) {
    return ErrorLine(id, std::current_exception());
  }
}

}  // namespace mpipc_driver
