/* The one assertion of the C unit tests (tests/unit/unit.c, net/unit.c): counts, and prints
 * the failing condition with its place. Each test program defines `passed` and `failed`. */
#ifndef NSBOX_TESTS_CHECK_H
#define NSBOX_TESTS_CHECK_H

#include <stdio.h>

/* Defined once per test program (unit.c, net/unit.c); shared by its other files. */
extern int passed, failed;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (cond) {                                                                                    \
      passed++;                                                                                    \
    } else {                                                                                       \
      failed++;                                                                                    \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                       \
    }                                                                                              \
  } while (0)

#endif
