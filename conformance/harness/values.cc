#include "values.h"

#include <cmath>
#include <stdexcept>

namespace mpipc::conformance {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

int B64Index(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string Unbase64(std::string_view in) {
  if (in.size() % 4 != 0) throw std::invalid_argument("base64 length not a multiple of 4");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      if (in[i + k] == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        v[k] = B64Index(in[i + k]);
        if (v[k] < 0 || pad > 0) throw std::invalid_argument("bad base64");
      }
    }
    uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(w >> 16);
    if (pad < 2) out += static_cast<char>((w >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(w & 0xff);
  }
  return out;
}

const Json& Tagged(const Json& v, const char* tag) {
  if (!v.is_object() || v.size() != 1 || !v.contains(tag)) {
    throw std::invalid_argument(std::string("expected a ") + tag + " value, got " + v.dump());
  }
  return v.at(tag);
}

}  // namespace

Json Bytes(std::string_view data) { return Json{{"$bytes", Base64(data)}}; }

std::string PatternString(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + seed * 7 + (i >> 8)) & 0xff);
  return s;
}

Json PatternBytes(size_t n, unsigned seed) { return Bytes(PatternString(n, seed)); }

Json Tuple(std::vector<Json> items) { return Json{{"$tuple", Json(std::move(items))}}; }

Json Dict(std::vector<std::pair<Json, Json>> items) {
  Json pairs = Json::array();
  for (auto& kv : items) pairs.push_back(Json::array({std::move(kv.first), std::move(kv.second)}));
  return Json{{"$dict", std::move(pairs)}};
}

Json Float(double x) {
  if (std::isnan(x)) return Json{{"$float", "nan"}};
  if (std::isinf(x)) return Json{{"$float", x > 0 ? "inf" : "-inf"}};
  return Json(x);
}

Json Function(const std::string& name, std::optional<Json> arg) {
  Json body{{"name", name}};
  if (arg) body["arg"] = *arg;
  return Json{{"$function", std::move(body)}};
}

Json Handle(const std::string& name) { return Json{{"$handle", name}}; }

Json InetAddress(const std::string& host, int port) { return Tuple({host, port}); }

std::string AsBytes(const Json& v) {
  const Json& b = Tagged(v, "$bytes");
  if (!b.is_string()) throw std::invalid_argument("$bytes is not a string");
  return Unbase64(b.get<std::string>());
}

bool IsBytes(const Json& v) { return v.is_object() && v.size() == 1 && v.contains("$bytes"); }

bool IsFunction(const Json& v) { return v.is_object() && v.size() == 1 && v.contains("$function"); }

std::vector<Json> AsTuple(const Json& v) { return Tagged(v, "$tuple").get<std::vector<Json>>(); }

}  // namespace mpipc::conformance
