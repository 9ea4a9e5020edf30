#include "mpipc/serialization.h"

// Boost's archive implementation templates, instantiated for HardenedIArchive as Boost's own
// library instantiates them for binary_iarchive.
#include <boost/archive/archive_exception.hpp>
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>
#include <boost/serialization/void_cast.hpp>
#include <cstdint>
#include <ios>
#include <string>

namespace mpipc::serialization_internal {

// What HardenedIArchive adds to Boost's binary_iarchive. libboost_serialization 1.74
// (basic_iarchive.cpp) uses several values read from the input as indices into its class and
// object tables or to pick the class it allocates, checking them only with asserts that release
// builds compile out; a hostile class id made load_pointer index its class table out of bounds
// (fuzz/README.md, finding 4). Every such value is checked here, when Boost reads it through the
// load_override members and before Boost uses it; a failed check throws archive_exception
// (input_stream_error), which Deserialize reports as SerializationError("cannot deserialize
// object: ..."). The contract, for N classes and M tracked objects loaded so far:
//  * a string's or a collection's length is at most the bytes left in the input;
//  * a pointer's class id is -1 (null), or a known id below N whose class can be loaded through a
//    pointer, or exactly N: a new class, named by an exported name this archive can load (for a
//    polymorphic or abstract pointee; else Boost dereferences a null serializer) or else the
//    pointer's own type, and not one already in the table (else Boost's registration returns the
//    old id and Boost indexes its table at N);
//  * an object id (tracked classes) is a back reference below M to an object of the same class
//    (else Boost hands out an object of another class as this one), or exactly M, a new object;
//  * the object a pointer gets derives from the pointer's type (Boost checks this only once the
//    object is built, then leaks it);
//  * a std::unique_ptr gets an object created through a pointer (not a member or a local), loaded
//    completely (not one of its own ancestors), that nothing else owns; a shared_ptr an object
//    created through a pointer that no unique_ptr owns. A hostile back reference could otherwise
//    make two owners free one object. Raw pointers get the class checks only.
// Version numbers and tracking flags are values to Boost, not indices, and are not checked.
// When a load_pointer fails, the object Boost allocated for it is destroyed once constructed
// (unless a shared_ptr inside it already owns it) and the pointer is reset to null, so a failed
// load leaks nothing and leaves no dangling pointer (an object whose custom load_construct_data
// fails before constructing it leaks its raw memory); the archive then refuses any other object.
// HardenedIArchive's class and object tables mirror Boost's: same order, hence the same ids.

namespace {

using boost::archive::archive_exception;
using boost::archive::detail::basic_iserializer;
using boost::archive::detail::basic_pointer_iserializer;

[[noreturn]] void Reject(const std::string& why) {
  throw archive_exception(archive_exception::input_stream_error, why.c_str());
}

// At most 40 bytes of a class name from the input, non-printable bytes as '?'.
std::string Printable(const char* name) {
  std::string out;
  for (; *name != '\0' && out.size() < 40; ++name) {
    out += (*name >= 0x20 && *name < 0x7f) ? *name : '?';
  }
  return out;
}

}  // namespace

void HardenedIArchive::check_length(uint64_t n) {
  const std::streamsize avail = input_.in_avail();
  if (avail < 0 || n > static_cast<uint64_t>(avail)) {
    throw boost::archive::archive_exception(boost::archive::archive_exception::input_stream_error,
                                            "a length exceeds the bytes left in the input");
  }
}

void HardenedIArchive::load(std::string& s) {
  std::size_t n = 0;
  Base::load(n);
  check_length(n);
  s.resize(n);
  if (n > 0) load_binary(s.data(), n);
}

void HardenedIArchive::load_override(boost::serialization::collection_size_type& t) {
  Base::load_override(t);
  check_length(static_cast<uint64_t>(t));
}

void HardenedIArchive::CheckUsable() const {
  if (failed_) Reject("the archive already failed");
}

int HardenedIArchive::RegisterClass(const basic_iserializer& bis) {
  const auto it = class_ids_.lower_bound(&bis);
  if (it != class_ids_.end() && !class_ids_.key_comp()(&bis, it->first)) return it->second;
  const int id = static_cast<int>(classes_.size());
  class_ids_.emplace_hint(it, &bis, id);
  classes_.push_back(&bis);
  return id;
}

void HardenedIArchive::RegisterNewClass(Frame& f, const basic_iserializer& bis) {
  const auto it = class_ids_.find(&bis);
  if (it != class_ids_.end()) {
    Reject("new class id " + std::to_string(f.class_id) + " names known class id " +
           std::to_string(it->second));
  }
  RegisterClass(bis);
}

void HardenedIArchive::ExpectPointer(const Eti* eti) {
  pending_pointer_.eti = eti;
  pending_pointer_.owner = (pending_owner_.eti != nullptr && *pending_owner_.eti == *eti)
                               ? pending_owner_.owner
                               : Owner::kNone;
  pending_owner_ = {};
}

void HardenedIArchive::load_override(boost::archive::class_id_type& t) {
  Base::load_override(t);
  if (frames_.empty() || !frames_.back().pointer || frames_.back().class_id != kUnread) {
    Reject("a class id where none is expected");
  }
  Frame& f = frames_.back();
  const int id = static_cast<int_least16_t>(t);
  const int known = static_cast<int>(classes_.size());
  if (id == kNullPointer) {
    f.class_id = id;
    return;
  }
  if (id >= 0 && id < known) {
    if (classes_[id]->get_bpis_ptr() == nullptr) {
      Reject("class id " + std::to_string(id) + " names a class not loaded through pointers");
    }
    f.class_id = id;
    return;
  }
  if (id != known) {
    Reject("class id " + std::to_string(id) + " is neither a known one (below " +
           std::to_string(known) + ") nor the next new one");
  }
  f.class_id = id;
  // As Boost decides: a new class is named in the input unless the pointee type is concrete and
  // not polymorphic, in which case it is that type.
  if (f.static_bpis != nullptr && !f.static_bpis->get_basic_serializer().is_polymorphic()) {
    RegisterNewClass(f, f.static_bpis->get_basic_serializer());
  } else {
    f.awaiting_name = true;
  }
}

void HardenedIArchive::load_override(boost::archive::class_name_type& t) {
  Base::load_override(t);
  if (frames_.empty() || !frames_.back().awaiting_name) {
    Reject("a class name where none is expected");
  }
  Frame& f = frames_.back();
  f.awaiting_name = false;
  const char* name = static_cast<char*>(t);
  const Eti* eti = name[0] != '\0' ? Eti::find(name) : nullptr;
  if (eti == nullptr) Reject("unregistered class name \"" + Printable(name) + "\"");
  const basic_pointer_iserializer* bpis = f.finder != nullptr ? f.finder(*eti) : nullptr;
  if (bpis == nullptr) {
    Reject("class \"" + Printable(name) + "\" cannot be loaded through a pointer");
  }
  RegisterNewClass(f, bpis->get_basic_serializer());
}

void HardenedIArchive::load_override(boost::archive::object_id_type& t) {
  Base::load_override(t);
  if (frames_.empty() || frames_.back().class_id < 0 || frames_.back().back_reference >= 0 ||
      frames_.back().new_object >= 0) {
    Reject("an object id where none is expected");
  }
  Frame& f = frames_.back();
  const uint64_t id = static_cast<uint_least32_t>(t);
  const uint64_t known = objects_.size();
  if (id < known) {
    const Object& o = objects_[id];
    if (o.dead) Reject("object id " + std::to_string(id) + " refers to an object that failed");
    if (o.class_id != f.class_id) {
      Reject("object id " + std::to_string(id) + " has class id " + std::to_string(o.class_id) +
             ", not " + std::to_string(f.class_id));
    }
    f.back_reference = static_cast<int64_t>(id);
  } else if (id == known) {
    objects_.push_back(Object{f.class_id, f.pointer});
    f.new_object = static_cast<int64_t>(id);
  } else {
    Reject("object id " + std::to_string(id) + " is neither a loaded one (below " +
           std::to_string(known) + ") nor the next new one");
  }
}

void HardenedIArchive::register_basic_serializer(const basic_iserializer& bis) {
  CheckUsable();
  RegisterClass(bis);
  basic_iarchive::register_basic_serializer(bis);
}

void HardenedIArchive::load_object(void* t, const basic_iserializer& bis) {
  CheckUsable();
  const int class_id = RegisterClass(bis);
  // The first object load at the address a pending load_pointer allocated, of its class, is that
  // object's own: it has been constructed.
  if (!frames_.empty()) {
    Frame& p = frames_.back();
    if (p.pointer && p.back_reference < 0 && p.class_id == class_id && *p.target == t) {
      p.constructed = true;
    }
  }
  Frame f;
  f.class_id = class_id;
  frames_.push_back(f);
  try {
    basic_iarchive::load_object(t, bis);
  } catch (...) {
    failed_ = true;
    if (frames_.back().new_object >= 0) objects_[frames_.back().new_object].dead = true;
    frames_.pop_back();
    throw;
  }
  if (frames_.back().new_object >= 0) objects_[frames_.back().new_object].complete = true;
  frames_.pop_back();
}

const basic_pointer_iserializer* HardenedIArchive::load_pointer(
    void*& t, const basic_pointer_iserializer* bpis, Finder finder) {
  CheckUsable();
  Frame f;
  f.pointer = true;
  f.static_bpis = bpis;
  f.finder = finder;
  f.expected = pending_pointer_.eti;
  f.owner = pending_pointer_.owner;
  f.target = &t;
  pending_pointer_ = {};
  t = nullptr;  // Boost sets it only for a null pointer, a back reference or a new object
  frames_.push_back(f);
  const basic_pointer_iserializer* loaded = nullptr;
  try {
    loaded = basic_iarchive::load_pointer(t, bpis, finder);
    Frame& g = frames_.back();
    if (g.new_object >= 0) objects_[g.new_object].complete = true;
    if (t != nullptr) CheckPointee(g, loaded, t);
  } catch (...) {
    failed_ = true;
    const Frame& g = frames_.back();
    bool shared = false;
    if (g.new_object >= 0) {
      Object& o = objects_[g.new_object];
      o.dead = true;
      shared = o.owner == Owner::kShared;
    }
    if (t != nullptr && g.back_reference < 0) {  // Boost allocated it for this pointer
      if (g.constructed && !shared) classes_[g.class_id]->destroy(t);
      t = nullptr;
    }
    frames_.pop_back();
    throw;
  }
  frames_.pop_back();
  return loaded;
}

void HardenedIArchive::CheckPointee(Frame& f, const basic_pointer_iserializer* loaded, void* t) {
  if (loaded != f.static_bpis && f.expected != nullptr &&
      boost::serialization::void_upcast(loaded->get_eti(), *f.expected, t) == nullptr) {
    Reject("a pointer's object is of a class not derived from the pointer's type");
  }
  if (f.owner == Owner::kNone) return;
  const int64_t id = f.back_reference >= 0 ? f.back_reference : f.new_object;
  if (id < 0) return;  // untracked and just created: nothing else can refer to it
  Object& o = objects_[id];
  if (!o.on_heap) Reject("a smart pointer refers to an object not created through a pointer");
  if (f.owner == Owner::kUnique) {
    if (!o.complete || o.owner != Owner::kNone) {
      Reject("a unique_ptr refers to an object already owned or still loading");
    }
    o.owner = Owner::kUnique;
  } else {
    if (o.owner == Owner::kUnique) Reject("a shared_ptr refers to an object a unique_ptr owns");
    o.owner = Owner::kShared;
  }
}

}  // namespace mpipc::serialization_internal

namespace boost::archive {
template class basic_binary_iprimitive<mpipc::serialization_internal::HardenedIArchive,
                                       std::istream::char_type, std::istream::traits_type>;
template class basic_binary_iarchive<mpipc::serialization_internal::HardenedIArchive>;
template class binary_iarchive_impl<mpipc::serialization_internal::HardenedIArchive,
                                    std::istream::char_type, std::istream::traits_type>;
template class detail::archive_serializer_map<mpipc::serialization_internal::HardenedIArchive>;
}  // namespace boost::archive
