# ctest entries of the conformance suite: traceability, the gate on shipped targets, the gate
# catching deliberately broken drivers, and the runner's own unit tests.
set(_conform $<TARGET_FILE:mpipc_conform>)
set(_logs ${CMAKE_BINARY_DIR}/conform-logs)

add_test(NAME conformance.traceability COMMAND ${_conform} --check-traceability)

# The reference target, gated against its expectation file.
add_test(NAME conformance.reference
  COMMAND ${_conform} --target reference --gate --logs ${_logs}/reference
          --json ${_logs}/reference.json --junit ${_logs}/reference.junit.xml)
set_tests_properties(conformance.reference PROPERTIES TIMEOUT 300)
