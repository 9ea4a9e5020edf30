// Object serialization for Connection::send/recv: Boost.Serialization binary archives, our
// analogue of pickle (and, for polymorphic types sent through a base pointer, of dill).
//
// Serialize(obj) -> bytes and Deserialize<T>(bytes) -> T. Any type Boost.Serialization can save and
// load works: arithmetic types, std::string, the standard containers whose
// boost/serialization/*.hpp header is included below, and user types with a serialize() member.
//
// Polymorphic objects (the "dill carries a lambda" case). Send a std::unique_ptr<Base> or
// std::shared_ptr<Base> that points at a Derived; the receiver calls recv<std::unique_ptr<Base>>()
// and gets a Derived back, virtual functions included. For that:
//   1. Base has a virtual destructor, and every class has
//        template <class Archive> void serialize(Archive& ar, unsigned /*version*/) {
//          ar& boost::serialization::base_object<Base>(*this);  // in Derived only
//          ar& member_;
//        }
//   2. Each Derived is registered once per program, in one .cc file:
//        BOOST_CLASS_EXPORT(Derived)            // or BOOST_CLASS_EXPORT_GUID(Derived, "name")
//      (include <boost/serialization/export.hpp>). The exported name is what travels, so both
//      processes must register the class under the same name. An unregistered class raises
//      SerializationError("unregistered class ...") at send, before anything is written.
// Functions travel as such objects: a functor class deriving from a registered base, carrying its
// captured state as members (see reference/examples in later issues).
//
// Payloads are not pickles: a Python peer sees them as opaque bytes (use send_bytes/recv_bytes
// to talk to Python). Boost archives are not hardened against hostile input; only recv() objects
// from a peer you trust (after authentication or from Pipe()), as CPython's docs say of pickle.
// Hardening built in (fuzz/README.md): Deserialize reads with HardenedIArchive, Boost's binary
// input archive (the same bytes) plus checks, made before Boost acts on a value read from the
// input:
//   * every string or collection length fits in the bytes not yet read, so a hostile length cannot
//     make it allocate more than the payload's size (a collection of elements that serialize to
//     zero bytes is therefore limited to as many elements as bytes remain);
//   * every class id, class name and object id Boost reads is one it can use: a pointer's class id
//     is a known class that can be loaded through a pointer, or exactly the next new id naming a
//     class not yet seen; an object id is an object already loaded, of the same class, or exactly
//     the next new one; the object a pointer ends up at derives from the pointer's type;
//   * a std::unique_ptr owns an object nothing else owns and that was created through a pointer,
//     a std::shared_ptr / boost::shared_ptr an object created through a pointer and not owned by a
//     unique_ptr (so hostile back-references cannot make two owners free one object);
//   * an object Boost allocated for a pointer whose load then fails is destroyed, not leaked.
// Raw pointers get the class checks but no ownership checks: their lifetime is the caller's.
//
// Thread-safety: the functions are reentrant; they touch only their arguments.

#ifndef MPIPC_SERIALIZATION_H_
#define MPIPC_SERIALIZATION_H_

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/basic_iserializer.hpp>
#include <boost/archive/detail/basic_pointer_iserializer.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/extended_type_info.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/shared_ptr.hpp>
#include <boost/serialization/singleton.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/type_info_implementation.hpp>
#include <boost/serialization/unique_ptr.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <boost/shared_ptr.hpp>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mpipc/errors.h"

namespace mpipc {

namespace serialization_internal {
// Flags shared by both directions: no archive header (saves 40 bytes a message; both ends are
// mpipc of the same build), but tracking and class export stay on.
inline constexpr unsigned kArchiveFlags = boost::archive::no_header;

// binary_iarchive (the same bytes) with checks on what it reads, each made before Boost uses the
// value (see the file comment; the contract is spelled out in serialization.cc). Boost's
// templates call load_object/load_pointer/register_basic_serializer and load_override on the
// most derived archive, so the members below hide Boost's to watch every class and object Boost
// registers; they are public because Boost calls them. Member templates are instantiated in
// serialization.cc, as Boost instantiates its own archives.
class HardenedIArchive
    : public boost::archive::binary_iarchive_impl<HardenedIArchive, std::istream::char_type,
                                                  std::istream::traits_type> {
 public:
  using Base = boost::archive::binary_iarchive_impl<HardenedIArchive, std::istream::char_type,
                                                    std::istream::traits_type>;
  using Eti = boost::serialization::extended_type_info;
  using Finder = const boost::archive::detail::basic_pointer_iserializer* (*)(const Eti&);

  HardenedIArchive(std::istream& is, unsigned flags) : Base(is, flags), input_(*is.rdbuf()) {}

  // Called by Boost (hence public): every load goes through here.
  using Base::load;
  void load(std::string& s);
  template <class T>
  void load_override(T& t) {
    Base::load_override(t);
  }
  // A pointer: remember its static type (for the derivation check) and its owner, if any.
  template <class T>
  void load_override(T*& t) {
    ExpectPointer(&EtiOf<T>());
    Base::load_override(t);
    pending_pointer_ = {};
  }
  template <class T>
  void load_override(std::unique_ptr<T>& t) {
    OwnerScope owner(*this, Owner::kUnique, &EtiOf<T>());
    Base::load_override(t);
  }
  template <class T>
  void load_override(std::shared_ptr<T>& t) {
    OwnerScope owner(*this, Owner::kShared, &EtiOf<T>());
    Base::load_override(t);
  }
  template <class T>
  void load_override(boost::shared_ptr<T>& t) {
    OwnerScope owner(*this, Owner::kShared, &EtiOf<T>());
    Base::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& t);
  void load_override(boost::archive::class_id_type& t);
  void load_override(boost::archive::class_name_type& t);
  void load_override(boost::archive::object_id_type& t);

  void register_basic_serializer(const boost::archive::detail::basic_iserializer& bis);
  void load_object(void* t, const boost::archive::detail::basic_iserializer& bis);
  const boost::archive::detail::basic_pointer_iserializer* load_pointer(
      void*& t, const boost::archive::detail::basic_pointer_iserializer* bpis, Finder finder);

 private:
  enum class Owner : uint8_t { kNone, kUnique, kShared };

  // Sets the owner of the next pointer of type `eti` loaded in this scope.
  class OwnerScope {
   public:
    OwnerScope(HardenedIArchive& ar, Owner owner, const Eti* eti) : ar_(ar) {
      ar_.pending_owner_ = {owner, eti};
    }
    ~OwnerScope() { ar_.pending_owner_ = {}; }
    OwnerScope(const OwnerScope&) = delete;
    OwnerScope& operator=(const OwnerScope&) = delete;

   private:
    HardenedIArchive& ar_;
  };

  // Orders serializers by class, as Boost's class table does.
  struct SerializerLess {
    bool operator()(const boost::archive::detail::basic_iserializer* a,
                    const boost::archive::detail::basic_iserializer* b) const {
      return *a < *b;
    }
  };
  // What Boost's object table holds (ids are indices).
  struct Object {
    int class_id;
    bool on_heap;  // created by load_pointer, not a subobject or local
    bool complete = false;
    bool dead = false;  // its load failed
    Owner owner = Owner::kNone;
  };
  // One load_object or load_pointer in progress; the ids Boost reads belong to the innermost.
  struct Frame {
    bool pointer = false;
    int class_id = kUnread;
    // load_pointer only:
    const boost::archive::detail::basic_pointer_iserializer* static_bpis = nullptr;
    Finder finder = nullptr;
    const Eti* expected = nullptr;  // the pointer's static type, when known
    Owner owner = Owner::kNone;
    void** target = nullptr;  // the pointer Boost writes
    bool awaiting_name = false;
    bool constructed = false;  // the object Boost allocated has been constructed
    int64_t back_reference = -1;
    // both:
    int64_t new_object = -1;
  };
  static constexpr int kUnread = -2;
  static constexpr int kNullPointer = -1;

  template <class T>
  static const Eti& EtiOf() {
    return boost::serialization::singleton<typename boost::serialization::type_info_implementation<
        std::remove_const_t<T>>::type>::get_const_instance();
  }

  // Throws boost::archive::archive_exception when `n` exceeds the bytes left.
  void check_length(uint64_t n);
  void ExpectPointer(const Eti* eti);
  int RegisterClass(const boost::archive::detail::basic_iserializer& bis);
  void RegisterNewClass(Frame& f, const boost::archive::detail::basic_iserializer& bis);
  void CheckPointee(Frame& f, const boost::archive::detail::basic_pointer_iserializer* loaded,
                    void* t);
  void CheckUsable() const;

  std::streambuf& input_;
  // Boost's class table (id = index in classes_) and object table (id = index in objects_).
  std::map<const boost::archive::detail::basic_iserializer*, int, SerializerLess> class_ids_;
  std::vector<const boost::archive::detail::basic_iserializer*> classes_;
  std::vector<Object> objects_;
  std::vector<Frame> frames_;
  // An owner and a pointee type: set by a smart pointer's load for the raw pointer it reads next
  // (pending_owner_), then handed to load_pointer with the raw pointer's type (pending_pointer_).
  struct Pending {
    Owner owner = Owner::kNone;
    const Eti* eti = nullptr;
  };
  Pending pending_owner_;
  Pending pending_pointer_;
  bool failed_ = false;
};
}  // namespace serialization_internal

// Serializes `obj`. Throws SerializationError, never a Boost exception.
template <typename T>
std::string Serialize(const T& obj) {
  try {
    std::ostringstream out(std::ios::binary);
    {
      boost::archive::binary_oarchive ar(out, serialization_internal::kArchiveFlags);
      ar << obj;
    }
    return std::move(out).str();
  } catch (const std::exception& e) {
    throw SerializationError(std::string("cannot serialize object: ") + e.what());
  }
}

// Deserializes a T from `bytes`. Empty input raises EOFError('Ran out of input'), as pickle does;
// malformed input raises SerializationError.
template <typename T>
T Deserialize(std::string_view bytes) {
  if (bytes.empty()) throw EOFError("Ran out of input");
  try {
    std::istringstream in(std::string(bytes), std::ios::binary);
    serialization_internal::HardenedIArchive ar(in, serialization_internal::kArchiveFlags);
    T obj{};
    ar >> obj;
    return obj;
  } catch (const std::exception& e) {
    throw SerializationError(std::string("cannot deserialize object: ") + e.what());
  }
}

}  // namespace mpipc

// Polymorphic objects exported with BOOST_CLASS_EXPORT load through the hardened archive too.
BOOST_SERIALIZATION_REGISTER_ARCHIVE(mpipc::serialization_internal::HardenedIArchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(mpipc::serialization_internal::HardenedIArchive)

#endif  // MPIPC_SERIALIZATION_H_
