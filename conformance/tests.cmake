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

# One Python target in the normal test command (the README's main command runs all five).
add_test(NAME conformance.cpython-3.11
  COMMAND ${_conform} --target cpython-3.11 --gate --logs ${_logs}/cpython-3.11
          --json ${_logs}/cpython-3.11.json)
set_tests_properties(conformance.cpython-3.11 PROPERTIES TIMEOUT 300)

# Teeth: the gate must fail a target with a planted defect, on the clauses that describe it.
set(_broken_cases
  "full-off-by-one|Q-FULL"
  "task-done-never-raises|JQ-TOO-MANY"
  "simplex-reader-writes|PIPE-SIMPLEX|CONN-RO"
  "listener-accepts-any-key|L-AUTH-FAIL|CL-AUTH"
  "recv-bytes-ignores-maxlength|CONN-RB-MAXLEN")
foreach(_case IN LISTS _broken_cases)
  string(REPLACE "|" ";" _parts "${_case}")
  list(POP_FRONT _parts _defect)
  add_test(NAME conformance.broken.${_defect}
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/drivers/broken/check_broken.py
            ${_conform} ${_defect} ${_parts})
  set_tests_properties(conformance.broken.${_defect} PROPERTIES TIMEOUT 300)
endforeach()

# The Markdown/HTML matrix is written and names the clause that ran.
add_test(NAME conformance.matrix_outputs
  COMMAND sh -c "'$<TARGET_FILE:mpipc_conform>' --target reference --filter Q-GET-EMPTY-NB \
    --logs '${_logs}/matrix' --markdown '${_logs}/matrix/m.md' --html '${_logs}/matrix/m.html' && \
    grep -q 'Q-GET-EMPTY-NB.*PASS' '${_logs}/matrix/m.md' && grep -q '<table' '${_logs}/matrix/m.html'")
