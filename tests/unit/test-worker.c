/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * service/worker.c: a helper's result reaches the loop, a helper past its deadline is -ETIME
 * and its end comes later through `finally`, and the deadline counts from the helper's start
 * even when the loop was kept busy before or after it (a blocking call elsewhere in the
 * daemon must not turn a finished step into a "stuck" one).
 */
#include <signal.h>
#include <unistd.h>

#include "loop.h"
#include "tests.h"
#include "worker.h"

static sd_event *event;

typedef struct Outcome {
        unsigned done, finally;
        int result, final_result;
} Outcome;

static void on_done(Worker *w, int result, void *userdata) {
        Outcome *o = userdata;
        o->done++;
        o->result = result;
}

static void on_finally(Worker *w, int result, void *userdata) {
        Outcome *o = userdata;
        o->finally++;
        o->final_result = result;
}

static int fail_with_eio(void *arg) {
        return -EIO;
}

static int sleep_ms(void *arg) {
        usleep((useconds_t) (*(unsigned *) arg) * 1000);
        return 0;
}

static void test_result_reaches_the_loop(void) {
        _cleanup_(worker_freep) Worker *w = NULL;
        Outcome o = {};

        CHECK_INTEQ(worker_start(event, 5 * USEC_PER_SEC, fail_with_eio, NULL, on_done, on_finally, &o, &w), 0);
        CHECK(worker_pid(w) > 0);
        CHECK(loop_run_until(event, &o.done, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, -EIO);
        CHECK_INTEQ(o.finally, 0);
}

static void test_deadline_then_finally(void) {
        _cleanup_(worker_freep) Worker *w = NULL;
        unsigned ms = 600;
        Outcome o = {};

        uint64_t t0 = now_usec();

        CHECK_INTEQ(worker_start(event, 100 * USEC_PER_MSEC, sleep_ms, &ms, on_done, on_finally, &o, &w), 0);
        CHECK(loop_run_until(event, &o.done, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, -ETIME);
        CHECK(now_usec() - t0 < 500 * USEC_PER_MSEC); /* at the deadline, not when the helper ended */
        CHECK_INTEQ(o.finally, 0);
        CHECK(loop_run_until(event, &o.finally, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(o.final_result, 0);
        CHECK_INTEQ(o.done, 1);
}

static void test_busy_loop_after_the_start_is_no_timeout(void) {
        _cleanup_(worker_freep) Worker *w = NULL;
        unsigned ms = 0;
        Outcome o = {};

        CHECK_INTEQ(worker_start(event, 200 * USEC_PER_MSEC, sleep_ms, &ms, on_done, on_finally, &o, &w), 0);
        usleep(600 * 1000); /* the loop does not run: the helper ended, the deadline passed */
        CHECK(loop_run_until(event, &o.done, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, 0);
        CHECK_INTEQ(o.finally, 0);
}

static void test_busy_loop_before_the_start_does_not_shorten_the_deadline(void) {
        _cleanup_(worker_freep) Worker *w = NULL;
        unsigned ms = 100;
        Outcome o = {};

        loop_run_for(event, 10 * USEC_PER_MSEC);
        usleep(600 * 1000); /* sd_event_now() is 600 ms old now */
        CHECK_INTEQ(worker_start(event, 400 * USEC_PER_MSEC, sleep_ms, &ms, on_done, on_finally, &o, &w), 0);
        CHECK(loop_run_until(event, &o.done, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, 0);
}

int main(void) {
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 || sd_event_new(&event) < 0)
                return EXIT_FAILURE;

        RUN(test_result_reaches_the_loop);
        RUN(test_deadline_then_finally);
        RUN(test_busy_loop_after_the_start_is_no_timeout);
        RUN(test_busy_loop_before_the_start_does_not_shorten_the_deadline);

        sd_event_unref(event);
        return TESTS_DONE();
}
