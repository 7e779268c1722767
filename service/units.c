/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stop and start jobs of systemd units over D-Bus (see units.h). A UnitJob goes through:
 *
 *   1. AddMatch for the Manager's JobRemoved, Subscribe, StopUnit/StartUnit, sent in this
 *      order without waiting: the bus applies the match before it routes the call, and systemd
 *      handles Subscribe before it queues the job, so the job's JobRemoved cannot be missed;
 *   2. the reply names the job; JobRemoved signals that came before it (a job that ends at
 *      once, e.g. stopping an inactive unit) are remembered by path and looked up then;
 *   3. the job's JobRemoved: a result other than "done" ends it; else GetUnit and the Unit's
 *      ActiveState, asked asynchronously, tell whether the unit is where it should be.
 *
 * One sd-event timer bounds everything. The subscription is never undone: systemd tracks it
 * by connection, not by caller (a second Subscribe is answered "already subscribed", and one
 * Unsubscribe would end it for every job of the connection); it goes with the connection.
 * Touches no files.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "units.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"

/* JobRemoved signals kept while the reply naming the job is awaited. */
#define EARLY_MAX 64

typedef struct EarlyRemoval {
        char *path;
        char *result;
} EarlyRemoval;

struct UnitJob {
        sd_bus *bus;
        char *unit;
        UnitAction action;
        uint64_t timeout_usec;      /* UINT64_MAX: none */
        uint64_t call_timeout_usec; /* for each method call; 0: sd-bus's default */
        unit_job_handler_t handler;
        void *userdata;

        sd_bus_slot *match_slot;     /* JobRemoved, and its AddMatch */
        sd_bus_slot *subscribe_slot; /* Subscribe */
        sd_bus_slot *call_slot;      /* StopUnit/StartUnit, then GetUnit, then Get(ActiveState) */
        sd_event_source *timer;

        char *job_path; /* from the reply */
        EarlyRemoval early[EARLY_MAX];
        size_t n_early;
};

const char *unit_action_to_string(UnitAction a) {
        return a == UNIT_START ? "start" : "stop";
}

/* The errors of systemd's own (libsystemd maps only the standard D-Bus ones). */
static int bus_error_to_errno(const sd_bus_error *e) {
        static const struct {
                const char *name;
                int errnum;
        } map[] = {
                { SYSTEMD_NO_SUCH_UNIT, ENOENT },
                { "org.freedesktop.systemd1.NoSuchJob", ENOENT },
                { "org.freedesktop.systemd1.UnitMasked", ERFKILL },
                { "org.freedesktop.systemd1.JobTypeNotApplicable", EBADR },
                { "org.freedesktop.systemd1.TransactionIsDestructive", EDEADLK },
                { "org.freedesktop.systemd1.ShuttingDown", ECANCELED },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (sd_bus_error_has_name(e, map[i].name))
                        return -map[i].errnum;
        r = sd_bus_error_get_errno(e);
        return r > 0 ? -r : -EIO;
}

static int job_result_to_errno(const char *result) {
        if (streq(result, "canceled"))
                return -ECANCELED;
        if (streq(result, "timeout"))
                return -ETIMEDOUT;
        return -EIO; /* "failed", "dependency", "skipped", and what later systemd versions add */
}

static void forget_early(UnitJob *j) {
        for (size_t i = 0; i < j->n_early; i++) {
                free(j->early[i].path);
                free(j->early[i].result);
        }
        j->n_early = 0;
}

static void job_release(UnitJob *j) {
        j->match_slot = sd_bus_slot_unref(j->match_slot);
        j->subscribe_slot = sd_bus_slot_unref(j->subscribe_slot);
        j->call_slot = sd_bus_slot_unref(j->call_slot);
        j->timer = sd_event_source_disable_unref(j->timer);
        forget_early(j);
}

/* Ends the job: nothing of it runs after, and the handler (which may free it) comes last.
 * Callers return at once. */
static void job_finish(UnitJob *j, int result, const char *what) {
        unit_job_handler_t handler = j->handler;

        job_release(j);
        j->handler = NULL;
        if (handler)
                handler(j, result, what, j->userdata);
}

_printf_(3, 4) static void job_finishf(UnitJob *j, int result, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (what)
                log_debug("%s", what);
        job_finish(j, result, what);
}

/* A method call to systemd with the job as userdata. */
static int call_async(UnitJob *j, sd_bus_slot **slot, const char *path, const char *interface, const char *member,
                      sd_bus_message_handler_t callback, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(j->bus, &m, SYSTEMD_SERVICE, path, interface, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return sd_bus_call_async(j->bus, slot, m, callback, j, j->call_timeout_usec);
}

static void format_timeout(uint64_t usec, char buf[static 32]) {
        if (usec % USEC_PER_SEC == 0)
                (void) snprintf(buf, 32, "%" PRIu64 " s", usec / USEC_PER_SEC);
        else
                (void) snprintf(buf, 32, "%" PRIu64 " ms", (usec + 999) / 1000);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        UnitJob *j = userdata;
        char t[32];

        format_timeout(j->timeout_usec, t);
        if (j->job_path)
                job_finishf(j, -ETIME, "%s: the %s job %s did not end within %s", j->unit,
                            unit_action_to_string(j->action), j->job_path, t);
        else
                job_finishf(j, -ETIME, "%s: systemd did not answer the %s request within %s", j->unit,
                            unit_action_to_string(j->action), t);
        return 0;
}

static int on_active_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const char *state;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                job_finishf(j, bus_error_to_errno(e),
                            "%s: the %s job ended, but the unit's state could not be read: %s", j->unit,
                            unit_action_to_string(j->action), e->message ?: e->name);
                return 0;
        }
        r = sd_bus_message_read(reply, "v", "s", &state);
        if (r < 0) {
                job_finishf(j, r, "%s: the %s job ended, but systemd answered nonsense about the unit's state",
                            j->unit, unit_action_to_string(j->action));
                return 0;
        }

        log_debug("%s: ActiveState is \"%s\" after the %s job", j->unit, state, unit_action_to_string(j->action));
        if (j->action == UNIT_STOP && !streq(state, "inactive") && !streq(state, "failed"))
                job_finishf(j, -EBUSY, "%s: the stop job ended \"done\" but the unit is \"%s\" (started again?)",
                            j->unit, state);
        else if (j->action == UNIT_START && !streq(state, "active") && !streq(state, "reloading"))
                job_finishf(j, -EIO, "%s: the start job ended \"done\" but the unit is \"%s\", not active", j->unit,
                            state);
        else
                job_finish(j, 0, NULL);
        return 0;
}

static int on_get_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const char *path;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                /* A stopped unit nothing refers to is unloaded at once: that is stopped too. */
                if (j->action == UNIT_STOP && sd_bus_error_has_name(e, SYSTEMD_NO_SUCH_UNIT)) {
                        log_debug("%s: unloaded after the stop job", j->unit);
                        job_finish(j, 0, NULL);
                } else
                        job_finishf(j, bus_error_to_errno(e),
                                    "%s: the %s job ended, but the unit could not be found: %s", j->unit,
                                    unit_action_to_string(j->action), e->message ?: e->name);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = call_async(j, &j->call_slot, path, "org.freedesktop.DBus.Properties", "Get", on_active_state, "ss",
                               SYSTEMD_UNIT, "ActiveState");
        if (r < 0)
                job_finishf(j, r, "%s: the %s job ended, but the unit's state could not be asked for: %s", j->unit,
                            unit_action_to_string(j->action), strerror(-r));
        return 0;
}

/* The job's JobRemoved: its result, then the unit's state. */
static void job_removed(UnitJob *j, const char *result) {
        int r;

        /* No more signals needed (the slot may be the one dispatching: sd-bus allows that). */
        j->match_slot = sd_bus_slot_unref(j->match_slot);
        forget_early(j);

        log_debug("%s: %s job %s ended with result \"%s\"", j->unit, unit_action_to_string(j->action), j->job_path,
                  result);
        if (!streq(result, "done")) {
                job_finishf(j, job_result_to_errno(result), "%s: the %s job ended with result \"%s\"", j->unit,
                            unit_action_to_string(j->action), result);
                return;
        }

        r = call_async(j, &j->call_slot, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", on_get_unit, "s", j->unit);
        if (r < 0)
                job_finishf(j, r, "%s: the %s job ended, but the unit's state could not be asked for: %s", j->unit,
                            unit_action_to_string(j->action), strerror(-r));
}

static int remember_early(UnitJob *j, const char *path, const char *result) {
        char *p, *res;

        p = strdup(path);
        res = strdup(result);
        if (!p || !res) {
                free(p);
                free(res);
                return -ENOMEM;
        }
        if (j->n_early == EARLY_MAX) {
                /* A flood of other jobs' ends: the oldest are the least likely to be ours. */
                free(j->early[0].path);
                free(j->early[0].result);
                memmove(j->early, j->early + 1, sizeof(EarlyRemoval) * (EARLY_MAX - 1));
                j->n_early--;
        }
        j->early[j->n_early++] = (EarlyRemoval) { .path = p, .result = res };
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0) {
                log_debug_errno(r, "Ignoring a malformed JobRemoved signal: %m");
                return 0;
        }

        if (!j->job_path) {
                /* Before the reply: perhaps ours (the unit may be named by another of its names). */
                r = remember_early(j, path, result);
                if (r < 0)
                        job_finishf(j, r, "%s: out of memory while waiting for the %s job", j->unit,
                                    unit_action_to_string(j->action));
                return 0;
        }
        if (streq(path, j->job_path))
                job_removed(j, result);
        return 0;
}

static int on_job_queued(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const char *path;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                log_debug("%s: %s refused: %s: %s", j->unit, j->action == UNIT_START ? "StartUnit" : "StopUnit",
                          e->name, strempty(e->message));
                job_finish(j, bus_error_to_errno(e), e->message ?: e->name);
                return 0;
        }

        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = free_and_strdup(&j->job_path, path);
        if (r < 0) {
                job_finishf(j, r, "%s: systemd's answer to the %s request could not be read: %s", j->unit,
                            unit_action_to_string(j->action), strerror(-r));
                return 0;
        }
        log_debug("%s: %s job %s queued", j->unit, unit_action_to_string(j->action), j->job_path);

        for (size_t i = 0; i < j->n_early; i++)
                if (streq(j->early[i].path, j->job_path)) {
                        _cleanup_free_ char *result = TAKE_PTR(j->early[i].result);

                        log_debug("%s: job %s had ended before the answer", j->unit, j->job_path);
                        job_removed(j, result);
                        return 0;
                }
        forget_early(j);
        return 0;
}

static int on_match_installed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                job_finishf(j, bus_error_to_errno(e), "%s: systemd's jobs could not be watched (AddMatch): %s", j->unit,
                            e->message ?: e->name);
        }
        return 0;
}

static int on_subscribed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;

        j->subscribe_slot = sd_bus_slot_unref(j->subscribe_slot);
        /* "org.freedesktop.systemd1.AlreadySubscribed" when another job of this connection asked
         * first: the signals come all the same. Anything else: the reply to the job's request
         * says more, and the timer bounds the wait. */
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                log_debug("%s: Subscribe answered %s: %s", j->unit, e->name, strempty(e->message));
        }
        return 0;
}

UnitJob *unit_job_free(UnitJob *job) {
        if (!job)
                return NULL;
        job_release(job);
        free(job->job_path);
        free(job->unit);
        sd_bus_unref(job->bus);
        free(job);
        return NULL;
}

int unit_job_new(sd_bus *bus, sd_event *event, const char *unit, UnitAction action, uint64_t timeout_usec,
                 unit_job_handler_t handler, void *userdata, UnitJob **ret) {
        _cleanup_(unit_job_freep) UnitJob *j = NULL;
        int r;

        if (!bus || !event || isempty(unit) || !handler || !ret ||
            (action != UNIT_STOP && action != UNIT_START))
                return -EINVAL;

        j = calloc(1, sizeof(UnitJob));
        if (!j)
                return -ENOMEM;
        j->bus = sd_bus_ref(bus);
        j->action = action;
        j->timeout_usec = timeout_usec;
        /* Each call gets a little more than the whole, so that the timer speaks first. */
        j->call_timeout_usec = timeout_usec == UINT64_MAX || timeout_usec > UINT64_MAX - USEC_PER_SEC
                                       ? 0
                                       : timeout_usec + USEC_PER_SEC;
        j->unit = strdup(unit);
        if (!j->unit)
                return -ENOMEM;

        if (timeout_usec != UINT64_MAX) {
                r = sd_event_add_time_relative(event, &j->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_timeout, j);
                if (r < 0)
                        return r;
        }

        /* In this order on the connection (see the top of the file). */
        r = sd_bus_match_signal_async(bus, &j->match_slot, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", on_job_removed, on_match_installed, j);
        if (r < 0)
                return r;
        r = call_async(j, &j->subscribe_slot, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", on_subscribed, NULL);
        if (r < 0)
                return r;
        r = call_async(j, &j->call_slot, SYSTEMD_PATH, SYSTEMD_MANAGER, action == UNIT_START ? "StartUnit" : "StopUnit",
                       on_job_queued, "ss", unit, "replace");
        if (r < 0)
                return r;

        /* Only now: every early failure above returns without the handler. */
        j->handler = handler;
        j->userdata = userdata;
        log_debug("%s: %s requested", unit, unit_action_to_string(action));
        *ret = TAKE_PTR(j);
        return 0;
}

int unit_get_active_state(sd_bus *bus, const char *unit, char **ret_state, char **ret_id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *state = NULL, *id = NULL;
        const char *path;
        int r;

        if (!bus || isempty(unit))
                return -EINVAL;

        r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &error, &reply, "s",
                               unit);
        if (r < 0) {
                if (sd_bus_error_is_set(&error)) {
                        log_debug("%s: GetUnit answered %s: %s", unit, error.name, strempty(error.message));
                        return bus_error_to_errno(&error);
                }
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;

        if (ret_state) {
                r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT, "ActiveState", &error, &state);
                if (r < 0) {
                        log_debug("%s: reading ActiveState of %s failed: %s", unit, path,
                                  strempty(error.message ?: strerror(-r)));
                        return sd_bus_error_is_set(&error) ? bus_error_to_errno(&error) : r;
                }
        }
        if (ret_id) {
                r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT, "Id", &error, &id);
                if (r < 0) {
                        log_debug("%s: reading Id of %s failed: %s", unit, path,
                                  strempty(error.message ?: strerror(-r)));
                        return sd_bus_error_is_set(&error) ? bus_error_to_errno(&error) : r;
                }
        }

        if (ret_state)
                *ret_state = TAKE_PTR(state);
        if (ret_id)
                *ret_id = TAKE_PTR(id);
        return 0;
}
