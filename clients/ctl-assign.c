/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-assign.h. The order matters (assign_call()):
 *   1. subscribe to the Progress signal of the target's group, or of every group for a call
 *      that names no object (sd_bus_match_signal() returns once the bus has answered
 *      AddMatch, so no signal of our call is missed);
 *   2. start the polkit agent (on a terminal, unless --no-ask-password);
 *   3. make the call (Detach, Reattach, Gpu.Handoff, Gpu.Return, Manager.StartGuest)
 *      asynchronously and run the bus until the reply comes, printing each Progress signal
 *      as it arrives (they precede the reply on the connection, so every one is printed
 *      before the outcome);
 *   4. stop the agent and hand the steps back; run_assign() then prints the outcome: the
 *      steps not announced by a Progress signal (those the daemon did not announce, e.g.
 *      "unchanged") and a summary line.
 * Owns the match, the pending call and the agent while it runs.
 */
#include <unistd.h>

#include "ctl-agent.h"
#include "ctl-assign.h"
#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-steps.h"

/* Authorization by a person plus the kernel's steps, each bounded by the daemon. */
#define ASSIGN_TIMEOUT_USEC (UINT64_C(600) * 1000 * 1000)

typedef struct Call {
        size_t step_width;      /* padding of the step names of the lines printed */
        Steps shown;            /* the Progress signals printed, in order */
        sd_bus_message *reply;  /* the method reply or error, once it came */
        int error;              /* first failure to print or remember a Progress signal */
} Call;

static void call_done(Call *c) {
        steps_done(&c->shown);
        c->reply = sd_bus_message_unref(c->reply);
}

static int on_progress(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Call *c = userdata;
        const char *step, *description;
        int r;

        r = sd_bus_message_read(m, "ss", &step, &description);
        if (r < 0) {
                log_debug("Ignoring a Progress signal that is not (ss): %s", strerror(-r));
                return 0;
        }

        r = step_print(step, description, c->step_width);
        if (r >= 0)
                r = steps_add(&c->shown, step, description);
        if (r < 0 && c->error == 0)
                c->error = r;
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Call *c = userdata;

        c->reply = sd_bus_message_ref(m);
        return 0;
}

/* "passthructl: org.passthru1.Error.Busy: Another operation …" */
static int log_call_error(const sd_bus_error *e) {
        _cleanup_free_ char *name = NULL, *message = NULL;
        int r;

        /* The call was the first to reach for the daemon (Manager.StartGuest): say it is not
         * running as every other command does. */
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return log_bus_error(e, -EHOSTDOWN, "The call failed");

        name = strdup_printable(strempty(e->name));
        message = strdup_printable(strempty(e->message));
        if (!name || !message)
                return log_oom();

        r = sd_bus_error_get_errno(e);
        r = r > 0 ? -r : -EIO;
        if (isempty(message))
                return log_error_errno(r, "%s", name);
        return log_error_errno(r, "%s: %s", name, message);
}

/* The device's Group property: its group's object path, "/" when it has none. */
static int device_group_path(sd_bus *bus, const char *path, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *group;
        int r;

        r = sd_bus_get_property(bus, PASSTHRU_SERVICE, path, PASSTHRU_DEVICE_INTERFACE, "Group",
                                &error, &reply, "o");
        if (r < 0) {
                log_debug("Failed to read the Group property of %s: %s", path,
                          sd_bus_error_is_set(&error) ? error.message : strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }

        r = sd_bus_message_read(reply, "o", &group);
        if (r < 0)
                return r;

        *ret = strdup(group);
        return *ret ? 0 : -ENOMEM;
}

static int subscribe_progress(sd_bus *bus, const char *path, bool is_group, Call *c, sd_bus_slot **ret) {
        _cleanup_free_ char *group = NULL;
        int r;

        if (is_group) {
                group = strdup(path);
                if (!group)
                        return log_oom();
        } else {
                /* Without it there is just no progress to show; the call itself says what
                 * is wrong with the device. */
                r = device_group_path(bus, path, &group);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return 0;
        }

        /* "/": no IOMMU group, so nothing to follow (and Detach will say why). */
        if (streq(group, "/"))
                return 0;

        r = sd_bus_match_signal(bus, ret, PASSTHRU_SERVICE, group, PASSTHRU_GROUP_INTERFACE, "Progress",
                                on_progress, c);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the Progress signal of %s: %m", group);
        return 0;
}

static int append_options(sd_bus_message *m, const AssignOptions *o) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        /* Only the options given: the daemon's defaults are false. */
        if (o->dry_run) {
                r = sd_bus_message_append(m, "{sv}", "dry-run", "b", 1);
                if (r < 0)
                        return r;
        }
        if (o->override) {
                r = sd_bus_message_append(m, "{sv}", "override", "b", 1);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

static int wait_for_reply(sd_bus *bus, Call *c, const char *method) {
        _cleanup_free_ char *what = NULL;
        int r;

        while (!c->reply) {
                r = sd_bus_process(bus, NULL);
                if (c->reply)
                        break;
                if (r < 0)
                        goto fail;
                if (r > 0)
                        continue;

                /* sd_bus_wait() wakes up for the call's timeout too: sd-bus then hands
                 * on_reply() an org.freedesktop.DBus.Error.Timeout error. */
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        goto fail;
        }
        return 0;

fail:
        if (asprintf(&what, "%s() failed", method) < 0)
                what = NULL;
        return log_bus_error(NULL, r, what ?: method);
}

int assign_print_steps(const Steps *steps, Steps *shown, size_t width) {
        int r;

        /* Every step once: those the Progress signals showed are not repeated. */
        for (size_t i = 0; i < steps->n; i++) {
                if (shown && steps_remove(shown, steps->items[i].step, steps->items[i].description))
                        continue;

                r = step_print(steps->items[i].step, steps->items[i].description, width);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Failed to write to standard output: %m");
        }
        return 0;
}

static int print_outcome(AssignAction action, const AssignTarget *target, const AssignOptions *o,
                         const Steps *steps, Steps *shown) {
        size_t n;
        int r;

        if (o->json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, o->json_pretty, stdout);
                json_steps(&w, steps);
                r = json_finish(&w, NULL, NULL);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Failed to write to standard output: %m");
                return 0;
        }

        if (o->dry_run)
                printf("Would do:\n");

        r = assign_print_steps(steps, o->dry_run ? NULL : shown, STEP_WIDTH);
        if (r < 0)
                return r;

        if (steps_all_unchanged(steps))
                printf("Nothing to do.\n");
        else if (!o->dry_run) {
                const char *verb = action == ASSIGN_DETACH ? "Detached" : "Reattached";
                const char *where = action == ASSIGN_DETACH ? "on vfio-pci" : "returned to the host";

                n = steps_count_functions(steps);
                if (n > 0)
                        printf("%s %s: %zu function(s) %s.\n", verb, target->name, n, where);
                else
                        printf("%s %s.\n", verb, target->name);
        }

        r = write_stdout(NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return 0;
}

int assign_call(sd_bus *bus, sd_bus_message *m, const AssignCall *call, Steps *ret_steps, Steps *ret_shown) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *progress = NULL, *pending = NULL;
        _cleanup_(polkit_agent_closep) pid_t agent = 0;
        _cleanup_(call_done) Call c = {
                .step_width = call->step_width > 0 ? call->step_width : STEP_WIDTH,
        };
        const sd_bus_error *e;
        const char *method;
        int r;

        method = strempty(sd_bus_message_get_member(m));

        if (call->progress_path) {
                r = subscribe_progress(bus, call->progress_path, call->progress_is_group, &c, &progress);
                if (r < 0)
                        return r;
        } else if (call->progress_any_group) {
                /* Any group's: the daemon picks the GPU. An operation another client runs on
                 * another group at the same time would show too. */
                r = sd_bus_match_signal(bus, &progress, PASSTHRU_SERVICE, NULL, PASSTHRU_GROUP_INTERFACE,
                                        "Progress", on_progress, &c);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to the Progress signals: %m");
        }

        if (call->ask_password) {
                /* polkit may ask for a password (through our agent or the session's). */
                r = sd_bus_message_set_allow_interactive_authorization(m, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to allow interactive authorization: %m");

                r = polkit_agent_open(&agent);
                if (r < 0)
                        return r;
        }

        r = sd_bus_call_async(bus, &pending, m, on_reply, &c, ASSIGN_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to call %s(): %m", method);

        r = wait_for_reply(bus, &c, method);
        if (r < 0)
                return r;

        polkit_agent_close(&agent);
        progress = sd_bus_slot_unref(progress);

        e = sd_bus_message_get_error(c.reply);
        if (e)
                return log_call_error(e);

        if (c.error == -ENOMEM)
                return log_oom();
        if (c.error < 0)
                return log_error_errno(c.error, "Failed to write to standard output: %m");

        r = steps_read(c.reply, ret_steps);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of %s(): %m", method);

        /* The caller owns what was shown from here on. */
        *ret_shown = c.shown;
        c.shown = (Steps) {};
        return 0;
}

int run_assign(sd_bus *bus, AssignAction action, const AssignTarget *target, const AssignOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(steps_done) Steps steps = {}, shown = {};
        const char *method;
        int r;

        method = action == ASSIGN_DETACH ? "Detach" : "Reattach";

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, target->path,
                                           target->is_group ? PASSTHRU_GROUP_INTERFACE : PASSTHRU_DEVICE_INTERFACE,
                                           method);
        if (r < 0)
                return log_error_errno(r, "Failed to create the %s() call: %m", method);

        r = append_options(m, o);
        if (r < 0)
                return log_error_errno(r, "Failed to append the options of %s(): %m", method);

        r = assign_call(bus, m,
                        &(const AssignCall) {
                                /* Progress is for people, and a dry run signals nothing. */
                                .progress_path = !o->json && !o->dry_run ? target->path : NULL,
                                .progress_is_group = target->is_group,
                                .ask_password = o->ask_password,
                        },
                        &steps, &shown);
        if (r < 0)
                return r;

        return print_outcome(action, target, o, &steps, &shown);
}
