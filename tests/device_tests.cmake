# device_tests.cmake — included by ctest when it starts (TEST_INCLUDE_FILES of tests/): registers
# every test recorded with ebm_device_test() in tests/CMakeLists.txt once per OpenCL device, for the
# devices `ebm devices --ids` lists at that moment, or those EBM_TEST_DEVICES selects
# (EBM_TEST_DEVICES=pocl,intel). A test is named NAME@TAG (ops_grad2@intel), runs with EBM_DEVICE
# set to its device, and carries the labels "device" and TAG (ctest -L intel runs one device's).
# Defined by the generated device_tests_defs.cmake that includes this file: EBM_CLI, EBM_CMAKE,
# EBM_SAN_ENV and the macro ebm_device_tests_define() holding one ebm_device_test_def() per test.
function(ebm_tests_unavailable name message)
  add_test(${name} "${EBM_CMAKE}" -E echo "${message}")
  set_tests_properties(${name} PROPERTIES WILL_FAIL TRUE)
endfunction()

if(NOT EXISTS "${EBM_CLI}")
  ebm_tests_unavailable(device_tests "the device tests need the build: ${EBM_CLI} does not exist")
  return()
endif()
execute_process(COMMAND "${EBM_CLI}" devices --ids "$ENV{EBM_TEST_DEVICES}" OUTPUT_VARIABLE ebm_ids ERROR_VARIABLE ebm_err
                RESULT_VARIABLE ebm_rc TIMEOUT 300)
if(NOT ebm_rc EQUAL 0 OR ebm_ids STREQUAL "")
  ebm_tests_unavailable(device_tests "no OpenCL device to run the device tests on (EBM_TEST_DEVICES=$ENV{EBM_TEST_DEVICES}): ${ebm_err}")
  return()
endif()

macro(ebm_device_test_def name first_only timeout env labels)
  if(NOT ${first_only} OR EBM_FIRST)   # first_only: on the first device only
    set(ebm_env "EBM_DEVICE=${EBM_SEL}")
    foreach(ebm_e IN ITEMS ${env} ${EBM_SAN_ENV})   # "|"-separated in the definitions
      string(REPLACE "|" ";" ebm_e "${ebm_e}")
      string(REPLACE "{tag}" "${EBM_TAG}" ebm_e "${ebm_e}")
      list(APPEND ebm_env ${ebm_e})
    endforeach()
    string(REPLACE "{tag}" "${EBM_TAG}" ebm_args "${ARGN}")   # per-device work folders
    add_test("${name}@${EBM_TAG}" ${ebm_args})
    # 77: a test that could not test what it is for on this device says so (ctest shows "Skipped")
    set_tests_properties("${name}@${EBM_TAG}" PROPERTIES ENVIRONMENT "${ebm_env}" LABELS "device;${EBM_TAG};${labels}"
                         TIMEOUT ${timeout} SKIP_RETURN_CODE 77)
  endif()
endmacro()

string(REPLACE "\n" ";" ebm_ids "${ebm_ids}")
set(EBM_FIRST 1)
set(ebm_tags "")
foreach(ebm_line IN LISTS ebm_ids)
  if(ebm_line MATCHES "^([A-Za-z0-9_]+) ([0-9]+:[0-9]+)$")
    set(EBM_TAG "${CMAKE_MATCH_1}")
    set(EBM_SEL "${CMAKE_MATCH_2}")
    ebm_device_tests_define()
    set_tests_properties("configs@${EBM_TAG}" PROPERTIES FIXTURES_SETUP "configs_${EBM_TAG}")
    list(APPEND ebm_tags "${EBM_TAG}")
    set(EBM_FIRST 0)
  endif()
endforeach()

# iteration 1 of every config agrees between the first device and each other one (the configs
# test's runs, compared by tests/configs_agree.sh)
list(GET ebm_tags 0 ebm_a)
foreach(ebm_b IN LISTS ebm_tags)
  if(NOT ebm_b STREQUAL ebm_a)
    add_test("configs_agree@${ebm_a}+${ebm_b}" bash "${EBM_TESTS_SRC}/configs_agree.sh" "${EBM_TOOLS}/compare_metrics.py"
             "${ebm_a}" "${EBM_TESTS_BIN}/configs_smoke_${ebm_a}" "${ebm_b}" "${EBM_TESTS_BIN}/configs_smoke_${ebm_b}")
    set_tests_properties("configs_agree@${ebm_a}+${ebm_b}" PROPERTIES FIXTURES_REQUIRED "configs_${ebm_a};configs_${ebm_b}"
                         SKIP_RETURN_CODE 77 LABELS "device;${ebm_a};${ebm_b}")
    add_test("reduce_bits_agree@${ebm_a}+${ebm_b}" bash "${EBM_TESTS_SRC}/reduce_lanes.sh" "${EBM_REDUCE_BITS}" "${ebm_a}" "${ebm_b}")
    set_tests_properties("reduce_bits_agree@${ebm_a}+${ebm_b}" PROPERTIES LABELS "device;${ebm_a};${ebm_b}")
  endif()
endforeach()
