/* testing.h — the check() helper the small test programs share: prints "ok"/"FAIL" with what was
 * checked, counts, and test_summary() prints the closing "N passed, N failed" and gives the exit code. */
#ifndef EBM_TESTING_H
#define EBM_TESTING_H
#include <stdio.h>

static int test_passes, test_fails;

static inline void check_msg(int ok, const char *what, const char *msg) {
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, msg ? "\n       message: " : "", msg ? msg : "");
    if (ok) test_passes++;
    else test_fails++;
}

static inline void check(int ok, const char *what) { check_msg(ok, what, NULL); }

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passes, test_fails);
    return test_fails ? 1 : 0;
}
#endif
