/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit test of passthructl's JSON writer (ctl-json.c): escaping, commas in nested
 * containers, pretty printing and streaming; and of the steps of detach/reattach and
 * handoff/return (ctl-steps.c): their JSON array, their human lines, the count of
 * functions they name, the consumers of a handoff's dry run split; and of
 * address_normalize() (ctl-util.c), which finds a typed address among the daemon's.
 * Owns nothing; exits non-zero on failure.
 */
#include <assert.h>
#include <inttypes.h>

#include "ctl-json.h"
#include "ctl-steps.h"

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

/* The output of "detach --json": descriptions come from the kernel and the daemon and
 * may hold anything; the JSON must stay valid. */
static void test_steps_json(void) {
        _cleanup_(steps_done) Steps steps = {};
        _cleanup_(json_done) JsonWriter w, p;
        const char *s;
        size_t n;

        json_init(&w, false);
        json_steps(&w, &steps);
        assert(json_finish(&w, &s, &n) == 0);
        expect("steps, none", s, "[]\n");
        json_done(&w);

        assert(steps_add(&steps, "load-module", "vfio_pci") >= 0);
        assert(steps_add(&steps, "set-override", "0000:26:00.0: driver_override = \"vfio-pci\"") >= 0);
        assert(steps_add(&steps, "unbind", "0000:26:00.0: unbind from C:\\drv\n\x1b[31mred\t\x7f") >= 0);
        assert(steps_add(&steps, "probe", "0000:26:00.0: bound to vfio-pci, /dev/vfio/16 ✓") >= 0);

        json_init(&w, false);
        json_steps(&w, &steps);
        assert(json_finish(&w, &s, &n) == 0);
        expect("steps", s,
               "[{\"step\":\"load-module\",\"description\":\"vfio_pci\"},"
               "{\"step\":\"set-override\",\"description\":\"0000:26:00.0: driver_override = \\\"vfio-pci\\\"\"},"
               "{\"step\":\"unbind\",\"description\":\"0000:26:00.0: unbind from C:\\\\drv\\u000a\\u001b[31mred\\u0009\\u007f\"},"
               "{\"step\":\"probe\",\"description\":\"0000:26:00.0: bound to vfio-pci, /dev/vfio/16 ✓\"}]\n");

        json_init(&p, true);
        steps.n = 1;
        json_steps(&p, &steps);
        steps.n = 4;
        assert(json_finish(&p, &s, &n) == 0);
        expect("steps, pretty", s,
               "[\n"
               "  {\n"
               "    \"step\": \"load-module\",\n"
               "    \"description\": \"vfio_pci\"\n"
               "  }\n"
               "]\n");
}

static void test_steps_lines(void) {
        _cleanup_(steps_done) Steps steps = {};
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        colors_setup(COLOR_NEVER);
        a = step_format_line("set-override", "0000:26:00.0: driver_override = vfio-pci");
        b = step_format_line("clear-override", "0000:26:00.0: \x1b[2J\n");
        c = step_format_line("a-step-longer-than-the-column", "x");
        assert(a && b && c);
        expect("line", a, "  set-override    0000:26:00.0: driver_override = vfio-pci\n");
        expect("line, widest step, control characters", b, "  clear-override  0000:26:00.0: \\x1b[2J\\x0a\n");
        expect("line, long step", c, "  a-step-longer-than-the-column  x\n");

        /* Colours do not count for the padding. */
        colors_setup(COLOR_ALWAYS);
        a = mfree(a);
        a = step_format_line("rollback", "0000:26:00.0: driver_override cleared");
        assert(a);
        expect("line, coloured", a, "  " ANSI_RED "rollback" ANSI_NORMAL "        0000:26:00.0: driver_override cleared\n");
        colors_setup(COLOR_NEVER);

        assert(steps_all_unchanged(&steps));
        assert(steps_count_functions(&steps) == 0);
        assert(steps_add(&steps, "unchanged", "0000:26:00.1: already on vfio-pci") >= 0);
        assert(steps_all_unchanged(&steps));
        assert(steps_add(&steps, "load-module", "vfio_pci") >= 0);
        assert(steps_add(&steps, "set-override", "0000:26:00.0: driver_override = vfio-pci") >= 0);
        assert(steps_add(&steps, "unbind", "0000:26:00.0: unbind from nvidia") >= 0);
        assert(steps_add(&steps, "probe", "0000:26:00.0") >= 0);
        assert(steps_add(&steps, "probe", "0001:26:00.0 bound to vfio-pci") >= 0);
        assert(steps_add(&steps, "probe", "0000:26:00.0x: not an address") >= 0);
        assert(steps_add(&steps, "probe", "0000:26:00") >= 0);
        assert(!steps_all_unchanged(&steps));
        /* 0000:26:00.1, 0000:26:00.0, 0001:26:00.0 */
        assert(steps_count_functions(&steps) == 3);

        assert(steps_remove(&steps, "unbind", "0000:26:00.0: unbind from nvidia"));
        assert(!steps_remove(&steps, "unbind", "0000:26:00.0: unbind from nvidia"));
        assert(steps.n == 7);
        expect("after remove", steps.items[3].step, "probe");
}

static void test_handoff_lines(void) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        colors_setup(COLOR_NEVER);
        a = step_format_line_width("unbind-framebuffer", "unbind the firmware frame buffer efi-framebuffer.0",
                                   HANDOFF_STEP_WIDTH);
        b = step_format_line_width("probe", "0000:26:00.0: probe drivers", HANDOFF_STEP_WIDTH);
        assert(a && b);
        expect("handoff line, widest step", a, "  unbind-framebuffer  unbind the firmware frame buffer efi-framebuffer.0\n");
        expect("handoff line", b, "  probe               0000:26:00.0: probe drivers\n");
}

static void test_consumer_parse(void) {
        static const struct {
                const char *in;
                int r;
                uint32_t pid;
                const char *command, *node;
        } cases[] = {
                { "Xorg (pid 1234) holds /dev/dri/card0",             0, 1234, "Xorg",                "/dev/dri/card0" },
                { "gnome-shell (pid 7) holds /dev/nvidia0",           0, 7,    "gnome-shell",         "/dev/nvidia0"   },
                { " (pid 42) holds /dev/fb0",                         0, 42,   "",                    "/dev/fb0"       },
                /* The command may look like the rest: the last complete marker counts. */
                { "a (pid 1) holds x (pid 2) holds /dev/dri/renderD128", 0, 2, "a (pid 1) holds x",   "/dev/dri/renderD128" },
                { "odd (pid 9) (pid 3) holds /dev/snd/pcmC0D3p",      0, 3,    "odd (pid 9)",         "/dev/snd/pcmC0D3p" },
                { "q (pid 4294967295) holds /dev/fb0",                0, 4294967295u, "q",            "/dev/fb0"       },
                { "q (pid 4294967296) holds /dev/fb0",                -EINVAL },
                { "q (pid ) holds /dev/fb0",                          -EINVAL },
                { "q (pid 12) holds ",                                -EINVAL },
                { "q (pid 12 holds /dev/fb0",                         -EINVAL },
                { "something else",                                   -EINVAL },
                { "",                                                 -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(consumer_done) Consumer c = {};
                int r = consumer_parse(cases[i].in, &c);

                if (r != cases[i].r) {
                        fprintf(stderr, "consumer_parse(\"%s\"): got %d, want %d\n", cases[i].in, r, cases[i].r);
                        failures++;
                        continue;
                }
                if (r < 0)
                        continue;
                if (c.pid != cases[i].pid) {
                        fprintf(stderr, "consumer_parse(\"%s\"): pid %" PRIu32 ", want %" PRIu32 "\n", cases[i].in,
                                c.pid, cases[i].pid);
                        failures++;
                }
                expect(cases[i].in, c.command, cases[i].command);
                expect(cases[i].in, c.node, cases[i].node);
        }
}

static void test_address_normalize(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "0000:26:00.0",             "0000:26:00.0"     },
                { "26:00.0",                  "0000:26:00.0"     },
                { "0A:1F.7",                  "0000:0a:1f.7"     },
                { "0001:26:00.1",             "0001:26:00.1"     },
                { "ABCD:26:00.1",             "abcd:26:00.1"     },
                { "10000:00:01.0",            "10000:00:01.0"    },
                { "pci_0000_26_00_1",         "0000:26:00.1"     },
                { "pci_000A_0B_1c_3",         "000a:0b:1c.3"     },
                { "",                         ""                 },
                { "nonsense",                 "nonsense"         },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = address_normalize(cases[i].in);

                assert(s);
                expect(cases[i].in, s, cases[i].out);
        }
}

int main(void) {
        test_escape();
        test_short();
        test_pretty();
        test_stream();
        test_steps_json();
        test_steps_lines();
        test_handoff_lines();
        test_consumer_parse();
        test_address_normalize();

        if (failures > 0) {
                fprintf(stderr, "%d failure(s)\n", failures);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
