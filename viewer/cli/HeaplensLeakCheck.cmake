# CTest leak checks with heaplens. include() this file, then either
#
#   heaplens_add_leak_check(NAME <test> COMMAND <program> [args...]
#                           [MAX_LEAKED_BYTES <n>] [MAX_LEAKED_BLOCKS <n>]
#                           [MAX_LEAKED_DEVICE_BYTES <n>] [MAX_LEAKED_DEVICE_BLOCKS <n>]
#                           [SUPPRESSIONS <file>...] [JUNIT <file>] [JSON <file>]
#                           [ERROR_EXITCODE <n>] [WORKING_DIRECTORY <dir>]
#                           [LABELS <label>...] [ENVIRONMENT <VAR=value>...] [WILL_FAIL])
#
# to add a test that runs <program> under `heaplens check` (full, lossless recording; the
# test fails when the leaks exceed the limits, default 0, or when the program fails), or
#
#   heaplens_leak_check_target(<target> [MAX_LEAKED_BYTES <n>] [MAX_LEAKED_BLOCKS <n>]
#                              [MAX_LEAKED_DEVICE_BYTES <n>] [MAX_LEAKED_DEVICE_BLOCKS <n>]
#                              [SUPPRESSIONS <file>...])
#
# to run every existing and future add_test(COMMAND <target> ...) of an executable target
# under `heaplens check` (through the target's CROSSCOMPILING_EMULATOR property, which CTest
# puts in front of the test's command).
#
# <program> may be an executable target name. Which heaplens runs: HEAPLENS_EXECUTABLE
# (cache variable), else the heaplens_cli target of a heaplens build in the same project,
# else `heaplens` on PATH.

function(_heaplens_executable out)
  if(HEAPLENS_EXECUTABLE)
    set(${out} "${HEAPLENS_EXECUTABLE}" PARENT_SCOPE)
  elseif(TARGET heaplens_cli)
    set(${out} "$<TARGET_FILE:heaplens_cli>" PARENT_SCOPE)
  else()
    find_program(HEAPLENS_EXECUTABLE heaplens)
    if(NOT HEAPLENS_EXECUTABLE)
      message(FATAL_ERROR "heaplens_add_leak_check: heaplens not found; set HEAPLENS_EXECUTABLE")
    endif()
    set(${out} "${HEAPLENS_EXECUTABLE}" PARENT_SCOPE)
  endif()
endfunction()

function(_heaplens_check_args out)
  cmake_parse_arguments(C ""
    "MAX_LEAKED_BYTES;MAX_LEAKED_BLOCKS;MAX_LEAKED_DEVICE_BYTES;MAX_LEAKED_DEVICE_BLOCKS;JUNIT;JSON;ERROR_EXITCODE"
    "SUPPRESSIONS" ${ARGN})
  set(args)
  foreach(limit BYTES BLOCKS DEVICE_BYTES DEVICE_BLOCKS)
    if(DEFINED C_MAX_LEAKED_${limit})
      string(TOLOWER "${limit}" option)
      string(REPLACE "_" "-" option "${option}")
      list(APPEND args --max-leaked-${option} ${C_MAX_LEAKED_${limit}})
    endif()
  endforeach()
  foreach(s IN LISTS C_SUPPRESSIONS)
    get_filename_component(s "${s}" ABSOLUTE)
    list(APPEND args --suppressions ${s})
  endforeach()
  if(C_JUNIT)
    list(APPEND args --junit ${C_JUNIT})
  endif()
  if(C_JSON)
    list(APPEND args --json ${C_JSON})
  endif()
  if(C_ERROR_EXITCODE)
    list(APPEND args --error-exitcode ${C_ERROR_EXITCODE})
  endif()
  set(${out} ${args} PARENT_SCOPE)
endfunction()

function(heaplens_add_leak_check)
  cmake_parse_arguments(T "WILL_FAIL"
    "NAME;MAX_LEAKED_BYTES;MAX_LEAKED_BLOCKS;MAX_LEAKED_DEVICE_BYTES;MAX_LEAKED_DEVICE_BLOCKS;JUNIT;JSON;ERROR_EXITCODE;WORKING_DIRECTORY"
    "COMMAND;SUPPRESSIONS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_NAME OR NOT T_COMMAND)
    message(FATAL_ERROR "heaplens_add_leak_check: NAME and COMMAND are required")
  endif()
  _heaplens_executable(heaplens)
  set(pass)
  foreach(k MAX_LEAKED_BYTES MAX_LEAKED_BLOCKS MAX_LEAKED_DEVICE_BYTES MAX_LEAKED_DEVICE_BLOCKS JUNIT JSON ERROR_EXITCODE)
    if(DEFINED T_${k})
      list(APPEND pass ${k} ${T_${k}})
    endif()
  endforeach()
  if(T_SUPPRESSIONS)
    list(APPEND pass SUPPRESSIONS ${T_SUPPRESSIONS})
  endif()
  _heaplens_check_args(args ${pass})
  list(GET T_COMMAND 0 program)
  set(program_args ${T_COMMAND})
  list(REMOVE_AT program_args 0)
  if(TARGET ${program})
    set(program "$<TARGET_FILE:${program}>")
  endif()
  set(wd)
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${heaplens} check ${args} -- ${program} ${program_args} ${wd})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "heaplens-leak-check;${T_LABELS}")
  if(T_ENVIRONMENT)
    set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENVIRONMENT}")
  endif()
  if(T_WILL_FAIL)
    set_tests_properties(${T_NAME} PROPERTIES WILL_FAIL TRUE)
  endif()
endfunction()

function(heaplens_leak_check_target target)
  _heaplens_executable(heaplens)
  if(NOT HEAPLENS_EXECUTABLE AND TARGET heaplens_cli)
    # CMake before 3.29 does not expand generator expressions in CROSSCOMPILING_EMULATOR:
    # name the file (single-config generators put it in the target's binary directory).
    get_target_property(dir heaplens_cli BINARY_DIR)
    get_target_property(name heaplens_cli OUTPUT_NAME)
    set(heaplens "${dir}/${name}")
  endif()
  _heaplens_check_args(args ${ARGN})
  set_property(TARGET ${target} PROPERTY CROSSCOMPILING_EMULATOR ${heaplens} check ${args} --)
endfunction()
