/* Tests are named after the spec clause they check. CLAUSE_TEST("ID", fn) makes a cmocka test
 * whose name is the clause ID; tests/CMakeLists.txt reads these lines to register one ctest
 * test per clause. Keep one CLAUSE_TEST per line. */
#ifndef VMBSAVE_TESTS_CLAUSE_TEST_H
#define VMBSAVE_TESTS_CLAUSE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define CLAUSE_TEST(clause_id, fn) \
    { clause_id, fn, NULL, NULL, NULL }

/* main() of every test file: `tests` is a CMUnitTest array. With an argument, runs only the
 * test of that name (ctest runs one clause per process). */
#define CLAUSE_TEST_MAIN(group_name, tests)                                   \
    int main(int argc, char **argv)                                           \
    {                                                                         \
        if (argc > 1)                                                         \
            cmocka_set_test_filter(argv[1]);                                  \
        return cmocka_run_group_tests_name(group_name, tests, NULL, NULL);    \
    }

#endif
