/*
 * A minimal test harness: each test file defines cases with TEST_CASE and ends with
 * TEST_MAIN(case, ...). The binary runs the case named in argv[1], or all of them, and a
 * failed CHECK prints the file, line and both values, then fails that case.
 */
#ifndef WL_CHECK_H
#define WL_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(actual, expected)                                                             \
    do {                                                                                           \
        long long check_a = (long long)(actual), check_e = (long long)(expected);                  \
        if (check_a != check_e) {                                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #actual,     \
                    check_a, check_e);                                                             \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                                             \
    do {                                                                                           \
        const char *check_a = (actual), *check_e = (expected);                                     \
        if (check_a == NULL || check_e == NULL || strcmp(check_a, check_e) != 0) {                 \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #actual, \
                    check_a ? check_a : "(null)", check_e ? check_e : "(null)");                   \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define TEST_CASE(name) static void test_##name(void)

typedef struct check_case {
    const char *name;
    void (*run)(void);
} check_case;

#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, test_##name                                                                         \
    }

static inline int check_run(const check_case *cases, size_t count, int argc, char **argv)
{
    int ran = 0;

    for (size_t i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) {
            continue;
        }
        int before = check_failures;
        cases[i].run();
        fprintf(stderr, "%s: %s\n", check_failures == before ? "PASS" : "FAIL", cases[i].name);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named \"%s\"\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return check_failures == 0 ? 0 : 1;
}

#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const check_case cases[] = {__VA_ARGS__};                                           \
        return check_run(cases, sizeof cases / sizeof cases[0], argc, argv);                       \
    }

#endif
