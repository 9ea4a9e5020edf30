#include "history.h"

#include <map>
#include <sstream>

namespace mpipc::conformance::history {

std::string ToString(const Item& item) {
  return "(" + std::to_string(item.producer) + ", " + std::to_string(item.seq) + ")";
}

Json ItemValue(const Item& item) {
  return Json{{"$tuple", Json::array({item.producer, item.seq})}};
}

std::optional<Item> ParseItem(const Json& value) {
  if (!value.is_object() || value.size() != 1 || !value.contains("$tuple")) return std::nullopt;
  const Json& t = value["$tuple"];
  if (!t.is_array() || t.size() != 2) return std::nullopt;
  if (!t[0].is_number_integer() || !t[1].is_number_integer()) return std::nullopt;
  return Item{t[0].get<int64_t>(), t[1].get<int64_t>()};
}

void History::RecordPut(const Item& item, PutStatus status) {
  std::lock_guard<std::mutex> lock(mu_);
  puts_.push_back({item, status});
}

void History::RecordGet(const std::string& consumer, const Json& value) {
  std::lock_guard<std::mutex> lock(mu_);
  gets_.push_back({consumer, value});
}

std::vector<PutEvent> History::puts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return puts_;
}

std::vector<GetEvent> History::gets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gets_;
}

size_t History::get_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gets_.size();
}

Report Check(const std::vector<PutEvent>& puts, const std::vector<GetEvent>& gets,
             const CheckOptions& options) {
  Report report;
  report.attempted = static_cast<int64_t>(puts.size());
  std::map<Item, PutStatus> put_status;
  for (const PutEvent& p : puts) {
    put_status[p.item] = p.status;
    if (p.status == PutStatus::kAcknowledged) ++report.acknowledged;
  }

  std::map<Item, int> got_count;
  // Per consumer and producer: the item with the highest seq seen so far.
  std::map<std::pair<std::string, int64_t>, Item> last_seen;
  for (const GetEvent& g : gets) {
    ++report.received;
    const std::optional<Item> item = ParseItem(g.value);
    if (!item) {
      report.unexpected.push_back(g.value.dump());
      continue;
    }
    auto status = put_status.find(*item);
    if (status == put_status.end() || status->second == PutStatus::kFailed) {
      report.unexpected.push_back(g.value.dump());
      continue;
    }
    if (++got_count[*item] == 2) report.duplicated.push_back(*item);
    const auto key = std::make_pair(g.consumer, item->producer);
    auto last = last_seen.find(key);
    if (last == last_seen.end()) {
      last_seen.emplace(key, *item);
    } else if (item->seq < last->second.seq) {
      report.order.push_back({g.consumer, last->second, *item});
    } else {
      last->second = *item;  // equal seq: a duplicate, reported above
    }
  }
  report.distinct = static_cast<int64_t>(got_count.size());

  // The highest seq got of each producer, for the gap check.
  std::map<int64_t, int64_t> highest_got;
  for (const auto& [item, count] : got_count) {
    auto it = highest_got.find(item.producer);
    if (it == highest_got.end() || it->second < item.seq) highest_got[item.producer] = item.seq;
  }
  for (const auto& [item, status] : put_status) {
    if (status != PutStatus::kAcknowledged || got_count.count(item) != 0) continue;
    if (options.lossy_producers.count(item.producer) != 0) {
      auto it = highest_got.find(item.producer);
      if (it != highest_got.end() && it->second > item.seq) report.gaps.push_back(item);
    } else if (options.drained && options.survivors_must_arrive) {
      report.lost.push_back(item);
    }
  }
  return report;
}

namespace {

template <typename T, typename F>
void List(std::ostringstream& out, const char* what, const std::vector<T>& v, size_t max_each,
          F format) {
  if (v.empty()) return;
  out << "\n  " << v.size() << " " << what << ":";
  for (size_t i = 0; i < v.size() && i < max_each; ++i) out << " " << format(v[i]);
  if (v.size() > max_each) out << " ...";
}

}  // namespace

std::string Report::Summary(size_t max_each) const {
  std::ostringstream out;
  out << "history: " << attempted << " puts (" << acknowledged << " acknowledged), " << received
      << " gets (" << distinct << " distinct items)";
  const auto item = [](const Item& i) { return ToString(i); };
  List(out, "lost (acknowledged, never got)", lost, max_each, item);
  List(out, "gaps (lost before a later item of the same producer arrived)", gaps, max_each, item);
  List(out, "duplicated", duplicated, max_each, item);
  List(out, "unexpected values", unexpected, max_each, [](const std::string& s) { return s; });
  List(out, "order violations", order, max_each, [](const OrderViolation& o) {
    return o.consumer + " got " + ToString(o.later) + " after " + ToString(o.earlier);
  });
  return out.str();
}

}  // namespace mpipc::conformance::history
