/* The test functions of tests/unit/ that live outside unit.c, one file per runtime module. */
#ifndef NSBOX_TESTS_UNIT_TESTS_H
#define NSBOX_TESTS_UNIT_TESTS_H

void test_config_json(void);
void test_logfile(void);
void test_sha256(void);

#endif
