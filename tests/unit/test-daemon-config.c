/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's configuration file: defaults without a file, StepTimeoutSec and its range,
 * unknown keys and sections ignored, comments and whitespace.
 */
#include <stdio.h>

#include "daemon-config.h"
#include "log.h"
#include "tests.h"

static char root[] = "/tmp/test-daemon-config-XXXXXX";
static char path[1024];

static void write_config(const char *content) {
        FILE *f = fopen(path, "we");

        CHECK(f != NULL);
        if (!f)
                return;
        fputs(content, f);
        fclose(f);
}

/* Loads content into a config that starts out garbage; returns daemon_config_load()'s result. */
static int load(const char *content, DaemonConfig *c) {
        write_config(content);
        *c = (DaemonConfig) { .step_timeout_sec = 12345 };
        return daemon_config_load(c, path);
}

static void test_defaults_without_a_file(void) {
        char missing[1100];
        DaemonConfig c = { .step_timeout_sec = 12345 };

        snprintf(missing, sizeof(missing), "%s/missing.conf", root);
        CHECK_INTEQ(daemon_config_load(&c, missing), 0);
        CHECK_INTEQ(c.step_timeout_sec, DEFAULT_STEP_TIMEOUT_SEC);
        CHECK_INTEQ(c.step_timeout_sec, 10);
}

static void test_defaults_of_an_empty_file(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 10);
}

static void test_step_timeout_is_parsed(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=30\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 30);
}

static void test_step_timeout_bounds_are_accepted(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=1\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 1);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=3600\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 3600);
}

static void test_step_timeout_out_of_range_or_not_a_number_is_refused(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=0\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=3601\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=abc\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=-5\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=10 # comment\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=99999999999999999999\n", &c), -EINVAL);
}

static void test_last_assignment_wins(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=20\nStepTimeoutSec=40\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 40);
}

static void test_unknown_keys_are_ignored(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nFrobnicate=yes\nStepTimeoutSec=20\nstepTimeoutSec=50\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 20);
}

static void test_unknown_sections_are_ignored_with_their_keys(void) {
        DaemonConfig c;

        /* Even a bad value: it is not the daemon's. */
        CHECK_INTEQ(load("[Other]\nStepTimeoutSec=0\n[Daemon]\nStepTimeoutSec=20\n[Later]\nStepTimeoutSec=99\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 20);
}

static void test_keys_outside_a_section_are_ignored(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("StepTimeoutSec=20\n", &c), 0);
        CHECK_INTEQ(c.step_timeout_sec, 10);
}

static void test_comments_blank_lines_and_whitespace(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("# The daemon\n"
                         "; an ini comment\n"
                         "\n"
                         "   \t\n"
                         "  [Daemon]  \r\n"
                         "\t# StepTimeoutSec=99\n"
                         "  StepTimeoutSec \t=  42 \r\n",
                         &c),
                    0);
        CHECK_INTEQ(c.step_timeout_sec, 42);
}

static void test_a_line_without_assignment_is_refused(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec\n", &c), -EINVAL);
}

static void test_libvirt_uri_defaults_to_none(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=5\n", &c), 0);
        CHECK(c.libvirt_uri == NULL);
}

static void test_libvirt_uri_is_read(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Libvirt]\nURI = test+unix:///default?socket=/run/x/libvirt-sock \n[Daemon]\n"
                         "StepTimeoutSec=7\n",
                         &c),
                    0);
        CHECK_STREQ(c.libvirt_uri, "test+unix:///default?socket=/run/x/libvirt-sock");
        CHECK_INTEQ(c.step_timeout_sec, 7);
        daemon_config_done(&c);
        CHECK(c.libvirt_uri == NULL);
}

static void test_bad_libvirt_uri_is_refused(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Libvirt]\nURI=\n", &c), -EINVAL);
        daemon_config_done(&c);
        CHECK_INTEQ(load("[Libvirt]\nURI=qemu system\n", &c), -EINVAL);
        daemon_config_done(&c);
        CHECK_INTEQ(load("[Libvirt]\nURI=nocolon\n", &c), -EINVAL);
        daemon_config_done(&c);
        CHECK_INTEQ(load("[Libvirt]\nURI=qemu:///system\x01\n", &c), -EINVAL);
        daemon_config_done(&c);
        CHECK_INTEQ(load("[Libvirt]\nTimeout=3\nURI=qemu:///session\n", &c), 0); /* unknown key ignored */
        CHECK_STREQ(c.libvirt_uri, "qemu:///session");
        daemon_config_done(&c);
}

static void test_libvirt_answer_timeout(void) {
        DaemonConfig c;

        CHECK_INTEQ(load("[Daemon]\nStepTimeoutSec=5\n", &c), 0);
        CHECK_INTEQ(c.libvirt_answer_timeout_sec, DEFAULT_LIBVIRT_ANSWER_TIMEOUT_SEC);
        CHECK_INTEQ(load("[Libvirt]\nAnswerTimeoutSec = 2\n", &c), 0);
        CHECK_INTEQ(c.libvirt_answer_timeout_sec, 2);
        CHECK_INTEQ(load("[Libvirt]\nAnswerTimeoutSec=0\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Libvirt]\nAnswerTimeoutSec=3601\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Libvirt]\nAnswerTimeoutSec=2s\n", &c), -EINVAL);
        CHECK_INTEQ(load("[Daemon]\nAnswerTimeoutSec=2\n", &c), 0); /* not a [Daemon] key: ignored */
        CHECK_INTEQ(c.libvirt_answer_timeout_sec, DEFAULT_LIBVIRT_ANSWER_TIMEOUT_SEC);
        daemon_config_done(&c);
}

int main(void) {
        int r;

        if (!mkdtemp(root))
                return EXIT_FAILURE;
        snprintf(path, sizeof(path), "%s/passthrud.conf", root);
        /* The refusals log errors by design; keep the test output to the results. */
        log_set_max_level(LOG_EMERG);

        RUN(test_defaults_without_a_file);
        RUN(test_libvirt_uri_defaults_to_none);
        RUN(test_libvirt_uri_is_read);
        RUN(test_bad_libvirt_uri_is_refused);
        RUN(test_libvirt_answer_timeout);
        RUN(test_defaults_of_an_empty_file);
        RUN(test_step_timeout_is_parsed);
        RUN(test_step_timeout_bounds_are_accepted);
        RUN(test_step_timeout_out_of_range_or_not_a_number_is_refused);
        RUN(test_last_assignment_wins);
        RUN(test_unknown_keys_are_ignored);
        RUN(test_unknown_sections_are_ignored_with_their_keys);
        RUN(test_keys_outside_a_section_are_ignored);
        RUN(test_comments_blank_lines_and_whitespace);
        RUN(test_a_line_without_assignment_is_refused);

        r = TESTS_DONE();
        {
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                if (system(cmd) != 0)
                        fprintf(stderr, "Failed to remove %s\n", root);
        }
        return r;
}
