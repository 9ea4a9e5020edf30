# Unit tests of the reference, each beside the file it tests (src/foo.cc <-> src/foo_test.cc).
set(MPIPC_REFERENCE_TESTS
  connection_test
  framing_test
  handshake_test
  listener_test
  sys_test
  wait_test
  serialization_test
  interop_test
  queue_test
  queue_history_test
  queue_kill_test
  process_test
  value_test
)
foreach(t IN LISTS MPIPC_REFERENCE_TESTS)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/src/${t}.cc)
  target_link_libraries(${t} PRIVATE mpipc::reference GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${t} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "MPIPC_SOURCE_DIR=${PROJECT_SOURCE_DIR};MPIPC_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endforeach()
