# Runs one libFuzzer target for CTest (tests/fuzz/CMakeLists.txt hfv_fuzz).
# MODE=replay: every checked-in input once. MODE=fuzz: fuzzes from a fresh
# copy of the corpus in WORK (never the source tree), the regressions given
# as seeds too. A non-zero exit (crash, leak, UB, timeout) fails the test.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
set(dirs ${CORPUS})
if(EXISTS ${REGRESSIONS})
  list(APPEND dirs ${REGRESSIONS})
endif()
if(MODE STREQUAL "replay")
  file(GLOB_RECURSE inputs LIST_DIRECTORIES false ${CORPUS}/* ${REGRESSIONS}/*)
  list(LENGTH inputs count)
  message(STATUS "replaying ${count} inputs")
  execute_process(COMMAND ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${inputs}
                  RESULT_VARIABLE rc)
else()
  file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
  if(EXISTS ${REGRESSIONS})
    file(COPY ${REGRESSIONS}/ DESTINATION ${WORK}/corpus)
  endif()
  execute_process(COMMAND ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
                  RESULT_VARIABLE rc)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} exited with ${rc}; the input is in ${WORK}/artifacts/")
endif()
