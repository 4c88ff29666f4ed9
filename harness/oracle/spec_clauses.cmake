# Generates the clause IDs of docs/SPEC.md as C macros, so that every clause the harness names
# is spelt as SPEC.md spells it, or the build fails:
#   cmake -D SPEC=<docs/SPEC.md> -D OUT=<header> -P spec_clauses.cmake
# A clause ID is a backquoted dotted upper-case identifier in a level-3 heading (the rule of
# tests/selftest/check_clause_coverage.sh); WITHDRAWN clauses are left out, so a check cannot
# name one. For `SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS` the header defines
#   VMBSAVE_CLAUSE_ID_SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS"
# and CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS) expands to it; a misspelt name is an
# undeclared identifier. VMBSAVE_SPEC_CLAUSES(X) lists them all (HARNESS.CLAUSES.GENERATED).
cmake_minimum_required(VERSION 3.25)
if(NOT SPEC OR NOT OUT)
    message(FATAL_ERROR "spec_clauses.cmake: SPEC and OUT are required")
endif()
# Lines read whole: ';' and '[' would split or group CMake list items, so they go first.
file(READ "${SPEC}" _text)
string(REPLACE ";" " " _text "${_text}")
string(REPLACE "[" " " _text "${_text}")
string(REPLACE "]" " " _text "${_text}")
string(REPLACE "\\" " " _text "${_text}")
string(REPLACE "\n" ";" _lines "${_text}")
set(_ids "")
set(_current "")
set(_withdrawn FALSE)
macro(_flush)
    if(NOT _withdrawn)
        list(APPEND _ids ${_current})
    endif()
    set(_current "")
    set(_withdrawn FALSE)
endmacro()
foreach(_line IN LISTS _lines)
    if(_line MATCHES "^#+ ")
        _flush()
    endif()
    if(_line MATCHES "^### ")
        string(REGEX MATCHALL "`[A-Z][A-Z0-9_]*(\\.[A-Z0-9_]+)+`" _found "${_line}")
        foreach(_f IN LISTS _found)
            string(REPLACE "`" "" _f "${_f}")
            list(APPEND _current "${_f}")
        endforeach()
    elseif(_line MATCHES "^- Level:" AND _line MATCHES "WITHDRAWN")
        set(_withdrawn TRUE)
    endif()
endforeach()
_flush()
list(REMOVE_DUPLICATES _ids)
list(SORT _ids)
list(LENGTH _ids _count)
if(_count EQUAL 0)
    message(FATAL_ERROR "spec_clauses.cmake: no clause ID in ${SPEC}")
endif()

set(_macros "")
set(_array "")
set(_names "")
foreach(_id IN LISTS _ids)
    string(REPLACE "." "_" _name "${_id}")
    if(_name IN_LIST _names)
        message(FATAL_ERROR "spec_clauses.cmake: two clause IDs map to the C name ${_name}")
    endif()
    list(APPEND _names "${_name}")
    string(APPEND _macros "#define VMBSAVE_CLAUSE_ID_${_name} \"${_id}\"\n")
    string(APPEND _array " \\\n    X(\"${_id}\")")
endforeach()

set(_text "/* Generated from docs/SPEC.md by harness/oracle/spec_clauses.cmake: do not edit. */
#ifndef VMBSAVE_HARNESS_SPEC_CLAUSES_H
#define VMBSAVE_HARNESS_SPEC_CLAUSES_H

${_macros}
/* A clause of SPEC.md by its ID with '.' as '_': a misspelt ID does not compile. */
#define CLAUSE(name) VMBSAVE_CLAUSE_ID_##name

/* Every ID, as X(\"ID\") (a list macro: a static array here would be unused in most files). */
#define VMBSAVE_SPEC_CLAUSE_COUNT ${_count}u
#define VMBSAVE_SPEC_CLAUSES(X)${_array}

#endif
")
# Only a changed text is written, so a SPEC.md edit that keeps the IDs rebuilds nothing.
if(EXISTS "${OUT}")
    file(READ "${OUT}" _old)
    if(_old STREQUAL _text)
        return()
    endif()
endif()
file(WRITE "${OUT}" "${_text}")
