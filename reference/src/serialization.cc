#include "mpipc/serialization.h"

// Boost's archive implementation templates, instantiated for HardenedIArchive as Boost's own
// library instantiates them for binary_iarchive.
#include <boost/archive/archive_exception.hpp>
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>
#include <cstdint>
#include <ios>
#include <string>

namespace mpipc::serialization_internal {

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

}  // namespace mpipc::serialization_internal

namespace boost::archive {
template class basic_binary_iprimitive<mpipc::serialization_internal::HardenedIArchive,
                                       std::istream::char_type, std::istream::traits_type>;
template class basic_binary_iarchive<mpipc::serialization_internal::HardenedIArchive>;
template class binary_iarchive_impl<mpipc::serialization_internal::HardenedIArchive,
                                    std::istream::char_type, std::istream::traits_type>;
template class detail::archive_serializer_map<mpipc::serialization_internal::HardenedIArchive>;
}  // namespace boost::archive
