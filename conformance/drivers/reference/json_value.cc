#include "json_value.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "mpipc/errors.h"

namespace mpipc_driver {

using mpipc::Value;

namespace {

// nlohmann SAX handler that builds the DOM and marks integers beyond int64 (BigInt below).
class DomBuilder {
 public:
  Json& root() { return root_; }

  bool null() { return Put(nullptr) != nullptr; }
  bool boolean(bool b) { return Put(b) != nullptr; }
  bool number_integer(Json::number_integer_t i) { return Put(i) != nullptr; }
  bool number_unsigned(Json::number_unsigned_t u) {
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Put(BigInt(std::to_string(u))) != nullptr;
    }
    return Put(static_cast<int64_t>(u)) != nullptr;
  }
  bool number_float(Json::number_float_t f, const std::string& text) {
    if (text.find_first_of(".eE") == std::string::npos) {  // an integer too large for 64 bits
      return Put(BigInt(text)) != nullptr;
    }
    return Put(f) != nullptr;
  }
  bool string(std::string& s) { return Put(std::move(s)) != nullptr; }
  bool binary(Json::binary_t& b) { return Put(Json::binary(std::move(b))) != nullptr; }
  bool start_object(std::size_t /*n*/) {
    stack_.push_back(Put(Json::object()));
    return true;
  }
  bool key(std::string& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*n*/) {
    stack_.push_back(Put(Json::array()));
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const Json::exception& e) {
    throw ProtocolError(std::string("not a JSON line: ") + e.what());
  }

 private:
  // An integer beyond int64, kept as a JSON binary holding its digits: JSON text cannot contain
  // a binary value, so a request cannot forge one.
  static Json BigInt(const std::string& digits) {
    return Json::binary(Json::binary_t::container_type(digits.begin(), digits.end()));
  }

  // Stores v where the parser is; returns its address (stable while it is being filled).
  Json* Put(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }

  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
};

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The single "$tag" key of a tagged object, or ProtocolError.
const std::string& TagOf(const Json& j) {
  if (j.size() != 1 || j.begin().key().empty() || j.begin().key()[0] != '$') {
    throw ProtocolError("a value object has exactly one key starting with '$': " + j.dump());
  }
  return j.begin().key();
}

Operand ToOperand(Item item) {
  if (auto* v = std::get_if<Value>(&item)) return std::move(*v);
  if (auto* f = std::get_if<FunctionPtr>(&item)) return std::move(*f);
  throw Unsupported("an object cannot be the argument of a function in the reference driver");
}

Item FromOperand(Operand op) {
  if (auto* v = std::get_if<Value>(&op)) return std::move(*v);
  return std::get<FunctionPtr>(std::move(op));
}

}  // namespace

Json ParseLine(std::string_view line) {
  DomBuilder builder;
  Json::sax_parse(line, &builder);
  return std::move(builder.root());
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(data[i]) << 16) |
                       (static_cast<uint8_t>(data[i + 1]) << 8) | static_cast<uint8_t>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < data.size()) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<uint8_t>(data[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) throw ProtocolError("$bytes: base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      size_t d = 0;
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++pad;
      } else if (pad > 0 || (d = kAlphabet.find(c)) == std::string_view::npos) {
        throw ProtocolError("$bytes: invalid base64");
      }
      n = (n << 6) | static_cast<uint32_t>(c == '=' ? 0 : d);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

Item DecodeItem(const Json& j, const HandleLookup& lookup) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value();
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return Value(j.get<int64_t>());  // ParseLine marks larger ones
    case Json::value_t::number_float:
      return Value(j.get<double>());
    case Json::value_t::string:
      return Value(j.get<std::string>());  // ValueError if not UTF-8 (nlohmann checked it)
    case Json::value_t::array: {
      mpipc::List list;
      list.reserve(j.size());
      for (const Json& x : j) list.push_back(ValueFromJson(x, lookup));
      return Value(std::move(list));
    }
    case Json::value_t::binary: {  // ParseLine's mark of an integer beyond int64
      const auto& digits = j.get_binary();
      throw Unsupported("int " + std::string(digits.begin(), digits.end()) +
                        " is beyond int64 (the reference's Value has no big integers)");
    }
    case Json::value_t::object:
      break;
    default:
      throw ProtocolError("not a protocol value: " + j.dump());
  }
  const std::string& tag = TagOf(j);
  const Json& body = j.begin().value();
  if (tag == "$bytes") {
    if (!body.is_string()) throw ProtocolError("$bytes needs a base64 string");
    return Value(mpipc::Bytes{Base64Decode(body.get_ref<const std::string&>())});
  }
  if (tag == "$tuple") {
    if (!body.is_array()) throw ProtocolError("$tuple needs a list");
    std::vector<Value> items;
    for (const Json& x : body) items.push_back(ValueFromJson(x, lookup));
    return Value(mpipc::Tuple(std::move(items)));
  }
  if (tag == "$dict") {
    if (!body.is_array()) throw ProtocolError("$dict needs a list of pairs");
    mpipc::Dict dict;
    for (const Json& pair : body) {
      if (!pair.is_array() || pair.size() != 2) {
        throw ProtocolError("$dict entries are [key, value] pairs");
      }
      dict.insert_or_assign(ValueFromJson(pair[0], lookup), ValueFromJson(pair[1], lookup));
    }
    return Value(std::move(dict));
  }
  if (tag == "$float") {
    const std::string s = body.is_string() ? body.get<std::string>() : "";
    if (s == "nan") return Value(std::numeric_limits<double>::quiet_NaN());
    if (s == "inf") return Value(std::numeric_limits<double>::infinity());
    if (s == "-inf") return Value(-std::numeric_limits<double>::infinity());
    throw ProtocolError("$float is one of nan, inf, -inf");
  }
  if (tag == "$function") {
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      throw ProtocolError("$function needs {\"name\": ...}");
    }
    std::optional<Operand> arg;
    if (body.contains("arg")) arg = ToOperand(DecodeItem(body["arg"], lookup));
    return MakeFunction(body["name"].get<std::string>(), arg);
  }
  if (tag == "$handle") {
    if (!body.is_string()) throw ProtocolError("$handle needs a name");
    return lookup(body.get<std::string>());
  }
  throw ProtocolError("unknown tag '" + tag + "'");
}

Value ValueFromJson(const Json& j, const HandleLookup& lookup) {
  Item item = DecodeItem(j, lookup);
  if (auto* v = std::get_if<Value>(&item)) return std::move(*v);
  throw Unsupported(std::holds_alternative<FunctionPtr>(item)
                        ? "a function inside a container or queue: mpipc::Value cannot hold it"
                        : "an object inside a container or queue: mpipc::Value cannot hold it");
}

Json ValueToJson(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      return nullptr;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int();
    case Value::Kind::kFloat: {
      const double f = v.as_float();
      if (std::isnan(f)) return Json{{"$float", "nan"}};
      if (std::isinf(f)) return Json{{"$float", f > 0 ? "inf" : "-inf"}};
      return f;  // nlohmann writes the shortest round-trip form, with ".0" when integral
    }
    case Value::Kind::kStr:
      return v.as_str();
    case Value::Kind::kBytes:
      return Json{{"$bytes", Base64Encode(v.as_bytes().data)}};
    case Value::Kind::kList: {
      Json out = Json::array();
      for (const Value& x : v.as_list()) out.push_back(ValueToJson(x));
      return out;
    }
    case Value::Kind::kTuple: {
      Json items = Json::array();
      for (const Value& x : v.as_tuple().items) items.push_back(ValueToJson(x));
      return Json{{"$tuple", std::move(items)}};
    }
    case Value::Kind::kDict: {
      Json pairs = Json::array();
      for (const auto& kv : v.as_dict()) {
        pairs.push_back(Json::array({ValueToJson(kv.first), ValueToJson(kv.second)}));
      }
      return Json{{"$dict", std::move(pairs)}};
    }
  }
  return nullptr;
}

Json EncodeItem(const Item& item, const HandleName& name) {
  if (const auto* v = std::get_if<Value>(&item)) return ValueToJson(*v);
  if (const auto* f = std::get_if<FunctionPtr>(&item)) {
    Json desc = {{"name", (*f)->name()}};
    if (std::optional<Operand> arg = (*f)->arg()) {
      desc["arg"] = EncodeItem(FromOperand(std::move(*arg)), name);
    }
    return Json{{"$function", std::move(desc)}};
  }
  const ObjectPtr& obj = std::get<ObjectPtr>(item);
  if (std::optional<std::string> n = name(obj)) return Json{{"$handle", *n}};
  return Json{{"$opaque", {{"type", "object"}, {"repr", "<unbound object>"}}}};
}

namespace {

Json Simple(const std::string& type, const std::string& message) {
  Json err = {{"type", type}, {"message", nullptr}, {"args", Json::array()}};
  if (!message.empty()) {
    err["message"] = message;
    err["args"].push_back(message);
  }
  return err;
}

}  // namespace

Json ErrorObject(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const DriverError& x) {
    return Simple(x.type(), x.what());
  } catch (const mpipc::BufferTooShort& x) {
    return Json{{"type", "BufferTooShort"},
                {"message", nullptr},
                {"args", Json::array({ValueToJson(mpipc::Bytes{x.message()})})}};
  } catch (const mpipc::AuthenticationError& x) {
    return Simple("AuthenticationError", x.what());
  } catch (const mpipc::ProcessError& x) {
    return Simple("ProcessError", x.what());
  } catch (const mpipc::OSError& x) {
    Json err = Simple(std::string(x.python_name()), x.message());
    if (x.errnum() != 0) {
      err["errno"] = x.errnum();
      err["args"] = Json::array({x.errnum(), x.message()});
    } else {
      err["errno"] = nullptr;
    }
    return err;
  } catch (const mpipc::EOFError& x) {
    return Simple("EOFError", x.what());
  } catch (const mpipc::ValueError& x) {
    return Simple("ValueError", x.what());
  } catch (const mpipc::TypeError& x) {
    return Simple("TypeError", x.what());
  } catch (const mpipc::AssertionError& x) {
    return Simple("AssertionError", x.what());
  } catch (const mpipc::Empty&) {
    return Simple("Empty", "");
  } catch (const mpipc::Full&) {
    return Simple("Full", "");
  } catch (const mpipc::SerializationError& x) {
    return Simple("PicklingError", x.what());  // call sites that decode say UnpicklingError
  } catch (const std::exception& x) {
    return Simple("RuntimeError", x.what());
  } catch (...) {
    return Simple("RuntimeError", "unknown exception");
  }
}

// Messages may quote peer bytes: never let invalid UTF-8 make a line unwritable.
constexpr auto kReplace = Json::error_handler_t::replace;

std::string OkLine(const Json& id, const Json& result) {
  return Json{{"id", id}, {"ok", true}, {"result", result}}.dump(-1, ' ', false, kReplace);
}

std::string ErrorLine(const Json& id, const std::exception_ptr& e) {
  return Json{{"id", id}, {"ok", false}, {"error", ErrorObject(e)}}.dump(-1, ' ', false, kReplace);
}

}  // namespace mpipc_driver
