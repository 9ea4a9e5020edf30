#include "catalogue.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#ifndef MPIPC_SOURCE_DIR_DEFAULT
#define MPIPC_SOURCE_DIR_DEFAULT "."
#endif

namespace mpipc::conformance {

namespace {

std::string Str(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Catalogue Catalogue::Load(const std::string& clauses_dir) {
  Catalogue cat;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(clauses_dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (files.empty()) throw std::runtime_error("no clause files in " + clauses_dir);
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.contains("clauses")) {
      throw std::runtime_error("cannot read clause file " + path.string());
    }
    cat.version_ = Str(doc, "catalogue_version");
    for (const auto& c : doc["clauses"]) {
      Clause clause;
      clause.id = Str(c, "id");
      clause.area = Str(c, "area");
      clause.title = Str(c, "title");
      clause.rule = Str(c, "rule");
      clause.level = Str(c, "level");
      clause.platform = Str(c, "platform");
      if (auto v = c.find("versions"); v != c.end()) {
        clause.min_version = Str(*v, "min");
        clause.max_version = Str(*v, "max");
      }
      if (auto e = c.find("exception"); e != c.end()) {
        ClauseException ex;
        ex.type = Str(*e, "type");
        if (auto m = e->find("message"); m != e->end() && m->is_string()) {
          ex.message = m->get<std::string>();
        }
        if (auto m = Str(*e, "message_match"); !m.empty()) ex.match = m;
        clause.exception = ex;
      }
      if (!cat.index_.emplace(clause.id, cat.clauses_.size()).second) {
        throw std::runtime_error("duplicate clause " + clause.id);
      }
      cat.clauses_.push_back(std::move(clause));
    }
  }
  return cat;
}

const Catalogue& Catalogue::Default() {
  static const Catalogue cat = [] {
    const char* env = std::getenv("MPIPC_SOURCE_DIR");
    const std::string root = env != nullptr && *env != '\0' ? env : MPIPC_SOURCE_DIR_DEFAULT;
    return Load(root + "/spec/clauses");
  }();
  return cat;
}

const Clause* Catalogue::Find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &clauses_[it->second];
}

const Clause& Catalogue::Get(const std::string& id) const {
  const Clause* c = Find(id);
  if (c == nullptr) throw std::out_of_range("no clause " + id + " in the catalogue");
  return *c;
}

int CompareVersions(const std::string& a, const std::string& b) {
  std::istringstream sa(a);
  std::istringstream sb(b);
  std::string pa;
  std::string pb;
  while (std::getline(sa, pa, '.') && std::getline(sb, pb, '.')) {
    int x = std::atoi(pa.c_str());
    int y = std::atoi(pb.c_str());
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

bool GlobMatch(const std::string& pattern, const std::string& text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string::npos;
  size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace mpipc::conformance
