/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit test of passthructl's JSON writer (ctl-json.c): escaping, commas in nested
 * containers, pretty printing and streaming. Owns nothing; exits non-zero on failure.
 */
#include <assert.h>

#include "ctl-json.h"

static int failures = 0;

static void expect(const char *what, const char *got, const char *want) {
        if (streq(got, want))
                return;
        fprintf(stderr, "%s:\n   got: %s\n  want: %s\n", what, got, want);
        failures++;
}

static void test_escape(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "",                         "\"\""                                },
                { "plain",                    "\"plain\""                           },
                { "q\"b\\s/",                 "\"q\\\"b\\\\s/\""                    },
                { "\n\t\r\b\f",               "\"\\u000a\\u0009\\u000d\\u0008\\u000c\"" },
                { "\x01\x1f\x7f",             "\"\\u0001\\u001f\\u007f\""           },
                { "\x1b[31mred",              "\"\\u001b[31mred\""                  },
                { "ünïcødé ✓",                "\"ünïcødé ✓\""                       },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = json_escape(cases[i].in);

                assert(s);
                expect("json_escape", s, cases[i].out);
        }
}

static void build(JsonWriter *w) {
        json_begin_object(w);
        json_kv_string(w, "a", "x");
        json_key(w, "b");
        json_begin_array(w);
        json_unsigned(w, 1);
        json_signed(w, -2);
        json_bool(w, true);
        json_null(w);
        json_begin_object(w);
        json_end_object(w);
        json_begin_array(w);
        json_end_array(w);
        json_end_array(w);
        json_key(w, "c");
        json_begin_object(w);
        json_kv_bool(w, "d", false);
        json_key(w, "e");
        json_stringf(w, "%04x", 0x10de);
        json_end_object(w);
        json_end_object(w);
}

static void test_short(void) {
        _cleanup_(json_done) JsonWriter w;
        const char *s;
        size_t n;

        json_init(&w, false);
        build(&w);
        assert(json_finish(&w, &s, &n) == 0);
        expect("short", s, "{\"a\":\"x\",\"b\":[1,-2,true,null,{},[]],\"c\":{\"d\":false,\"e\":\"10de\"}}\n");
        assert(n == strlen(s));
}

static void test_pretty(void) {
        _cleanup_(json_done) JsonWriter w;
        const char *s;
        size_t n;

        json_init(&w, true);
        build(&w);
        assert(json_finish(&w, &s, &n) == 0);
        expect("pretty", s,
               "{\n"
               "  \"a\": \"x\",\n"
               "  \"b\": [\n"
               "    1,\n"
               "    -2,\n"
               "    true,\n"
               "    null,\n"
               "    {},\n"
               "    []\n"
               "  ],\n"
               "  \"c\": {\n"
               "    \"d\": false,\n"
               "    \"e\": \"10de\"\n"
               "  }\n"
               "}\n");
}

/* Streaming in 64 KiB pieces must give the same text as building in memory. */
static void test_stream(void) {
        _cleanup_(json_done) JsonWriter m, w;
        _cleanup_free_ char *streamed = NULL;
        size_t streamed_size = 0, n;
        const char *s;
        FILE *f;

        json_init(&m, false);
        f = open_memstream(&streamed, &streamed_size);
        assert(f);
        json_init_stream(&w, false, f);

        json_begin_array(&m);
        json_begin_array(&w);
        for (unsigned i = 0; i < 20000; i++) {
                json_stringf(&m, "item %u with \"quotes\"", i);
                json_stringf(&w, "item %u with \"quotes\"", i);
        }
        json_end_array(&m);
        json_end_array(&w);

        assert(json_finish(&m, &s, &n) == 0);
        assert(json_finish(&w, NULL, NULL) == 0);
        assert(fclose(f) == 0);

        assert(n > 200000);
        if (streamed_size != n || memcmp(streamed, s, n) != 0) {
                fprintf(stderr, "stream: output differs from the in-memory text (%zu vs %zu bytes)\n",
                        streamed_size, n);
                failures++;
        }
}

int main(void) {
        test_escape();
        test_short();
        test_pretty();
        test_stream();

        if (failures > 0) {
                fprintf(stderr, "%d failure(s)\n", failures);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
