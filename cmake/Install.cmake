# Installs mpipc::reference with its headers and an exported package config, so that another
# project can `find_package(mpipc CONFIG REQUIRED)` and link `mpipc::reference`.
include(CMakePackageConfigHelpers)

install(TARGETS mpipc_reference EXPORT mpipcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY reference/include/mpipc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS mpipc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT mpipcTargets NAMESPACE mpipc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mpipc)

configure_package_config_file(cmake/mpipcConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mpipcConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mpipc)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mpipcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/mpipcConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/mpipcConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mpipc)
