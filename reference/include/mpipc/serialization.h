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
// One hardening is built in (fuzz/README.md): Deserialize reads with HardenedIArchive, Boost's
// binary input archive plus a check that every string or collection length fits in the bytes not
// yet read, made before Boost allocates for it, so a hostile length cannot make it allocate more
// than the payload's size (a collection of elements that serialize to zero bytes is therefore
// limited to as many elements as bytes remain).
//
// Thread-safety: the functions are reentrant; they touch only their arguments.

#ifndef MPIPC_SERIALIZATION_H_
#define MPIPC_SERIALIZATION_H_

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/shared_ptr.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unique_ptr.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>

#include "mpipc/errors.h"

namespace mpipc {

namespace serialization_internal {
// Flags shared by both directions: no archive header (saves 40 bytes a message; both ends are
// mpipc of the same build), but tracking and class export stay on.
inline constexpr unsigned kArchiveFlags = boost::archive::no_header;

// binary_iarchive (the same bytes) with one check: a string's or a collection's length must not
// exceed the bytes left in the input, checked before Boost resizes for it. Member templates are
// instantiated in serialization.cc, as Boost instantiates its own archives.
class HardenedIArchive
    : public boost::archive::binary_iarchive_impl<HardenedIArchive, std::istream::char_type,
                                                  std::istream::traits_type> {
 public:
  using Base = boost::archive::binary_iarchive_impl<HardenedIArchive, std::istream::char_type,
                                                    std::istream::traits_type>;
  HardenedIArchive(std::istream& is, unsigned flags) : Base(is, flags), input_(*is.rdbuf()) {}

  // Called by Boost (hence public): every load goes through here.
  using Base::load;
  void load(std::string& s);
  template <class T>
  void load_override(T& t) {
    Base::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& t);

 private:
  // Throws boost::archive::archive_exception when `n` exceeds the bytes left.
  void check_length(uint64_t n);

  std::streambuf& input_;
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
