/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-handoff.h. Every verb first resolves the GPU: GetDevice(ADDRESS)
 * for its object path (the daemon validates the address), then the Manager's Gpus
 * property, so that a function without org.passthru1.Gpu is refused with a sentence
 * rather than the bus's UnknownMethod. handoff and return then make their call through
 * assign_call() (ctl-assign.c: the Progress signals of the GPU's group, the polkit agent,
 * the error reply) and print the outcome; consumers calls GetConsumers() and prints a
 * table. start makes Manager.StartGuest() through assign_call() as well, following the
 * Progress signals of every group since it does not know the GPU; guests calls
 * Manager.GetGuests() and prints a table. Owns the resolved GPU and the replies while it runs.
 */
#include <inttypes.h>

#include "ctl-assign.h"
#include "ctl-bus.h"
#include "ctl-handoff.h"
#include "ctl-json.h"
#include "ctl-steps.h"
#include "ctl-table.h"

typedef struct Gpu {
        char *path;     /* the Device object, which carries org.passthru1.Gpu */
        char *name;     /* its canonical address, for people (printable) */
} Gpu;

static void gpu_done(Gpu *g) {
        g->path = mfree(g->path);
        g->name = mfree(g->name);
}

/* The Manager's Gpus property: the object paths of the display-class functions. */
static int acquire_gpu_paths(sd_bus *bus, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property(bus, PASSTHRU_SERVICE, PASSTHRU_PATH, PASSTHRU_MANAGER_INTERFACE, "Gpus",
                                &error, &reply, "ao");
        if (r < 0) {
                r = log_bus_error(&error, r, "Failed to read the Gpus property");
                sd_bus_error_free(&error);
                return r;
        }

        r = sd_bus_message_read_strv(reply, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the Gpus property: %m");
        return 0;
}

static int gpu_resolve(sd_bus *bus, const char *address, Gpu *ret) {
        _cleanup_strv_free_ char **gpus = NULL;
        _cleanup_free_ char *path = NULL, *name = NULL;
        bool found = false;
        int r;

        r = bus_get_device(bus, address, &path, &name);
        if (r < 0)
                return r;

        r = acquire_gpu_paths(bus, &gpus);
        if (r < 0)
                return r;
        for (char **g = gpus; g && *g && !found; g++)
                found = streq(*g, path);
        if (!found)
                return log_error_errno(-ENODEV,
                                       "%s is not a GPU (a display-class PCI function): handoff, return and "
                                       "consumers take the address of a GPU; 'passthructl status' lists them.",
                                       name);

        *ret = (Gpu) {
                .path = TAKE_PTR(path),
                .name = TAKE_PTR(name),
        };
        return 0;
}

static int new_gpu_call(sd_bus *bus, const Gpu *gpu, const char *method, sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, PASSTHRU_SERVICE, gpu->path, PASSTHRU_GPU_INTERFACE, method);
        if (r < 0)
                return log_error_errno(r, "Failed to create the %s() call: %m", method);
        return 0;
}

/* Only the options given: the daemon's defaults are false, except "start" (true). */
static int append_options(sd_bus_message *m, bool dry_run, bool stop_display_manager, bool no_start) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        if (dry_run) {
                r = sd_bus_message_append(m, "{sv}", "dry-run", "b", 1);
                if (r < 0)
                        return r;
        }
        if (stop_display_manager) {
                r = sd_bus_message_append(m, "{sv}", "stop-display-manager", "b", 1);
                if (r < 0)
                        return r;
        }
        if (no_start) {
                r = sd_bus_message_append(m, "{sv}", "start", "b", 0);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* Moves the "consumer" entries a dry run appends after its plan from steps to consumers. */
static int split_consumers(Steps *steps, Steps *consumers) {
        _cleanup_(steps_done) Steps plan = {};
        int r;

        for (size_t i = 0; i < steps->n; i++) {
                const Step *s = steps->items + i;

                r = steps_add(streq(s->step, STEP_CONSUMER) ? consumers : &plan, s->step, s->description);
                if (r < 0)
                        return r;
        }

        steps_done(steps);
        *steps = plan;
        plan = (Steps) {};
        return 0;
}

static void json_consumer(JsonWriter *w, const uint32_t *pid, const char *command, const char *node) {
        json_begin_object(w);
        json_key(w, "pid");
        if (pid)
                json_unsigned(w, *pid);
        else
                json_null(w);
        json_kv_string(w, "command", command);
        json_kv_string(w, "node", node);
        json_end_object(w);
}

/* {"steps":[…]} and, for a dry run of Handoff, "consumers":[…]. */
static int print_json(const Steps *steps, const Steps *consumers, const HandoffOptions *o) {
        _cleanup_(json_done) JsonWriter w;

        json_init_stream(&w, o->json_pretty, stdout);
        json_begin_object(&w);
        json_key(&w, "steps");
        json_steps(&w, steps);
        if (consumers) {
                json_key(&w, "consumers");
                json_begin_array(&w);
                for (size_t i = 0; i < consumers->n; i++) {
                        _cleanup_(consumer_done) Consumer c = {};
                        int r;

                        r = consumer_parse(consumers->items[i].description, &c);
                        if (r == -ENOMEM) {
                                w.oom = true;
                                break;
                        }
                        /* A form we cannot split (from a newer daemon): all of it as the command. */
                        if (r < 0)
                                json_consumer(&w, NULL, consumers->items[i].description, "");
                        else
                                json_consumer(&w, &c.pid, c.command, c.node);
                }
                json_end_array(&w);
        }
        json_end_object(&w);
        return output_json(&w);
}

static int print_consumer_lines(const Steps *consumers) {
        if (consumers->n == 0) {
                printf("Consumers: none.\n");
                return 0;
        }

        printf("Consumers (the handoff is refused while they hold these nodes):\n");
        for (size_t i = 0; i < consumers->n; i++) {
                _cleanup_free_ char *d = strdup_printable(consumers->items[i].description);

                if (!d)
                        return log_oom();
                printf("  %s\n", d);
        }
        return 0;
}

/* The Handoff or Return call m, with live progress lines from the GPU's group (not for JSON,
 * nor for a dry run, which signals nothing). */
static int gpu_call(sd_bus *bus, sd_bus_message *m, const Gpu *gpu, const HandoffOptions *o, Steps *steps,
                    Steps *shown) {
        return assign_call(bus, m,
                           &(const AssignCall) {
                                   .progress_path = !o->json && !o->dry_run ? gpu->path : NULL,
                                   .ask_password = o->ask_password,
                                   .step_width = HANDOFF_STEP_WIDTH,
                           },
                           steps, shown);
}

/* consumers: NULL for a Return (it has none). */
static int print_dry_run(const Steps *steps, const Steps *consumers) {
        int r;

        printf("Would do:\n");
        r = assign_print_steps(steps, NULL, HANDOFF_STEP_WIDTH);
        if (r >= 0 && consumers)
                r = print_consumer_lines(consumers);
        if (r < 0)
                return r;
        return flush_stdout();
}

/* The reply of Handoff, StartGuest or Return: as JSON, a dry run's plan (and, with_consumers,
 * the consumers the daemon found), or the steps done and "SUMMARY: N step(s)." */
static int print_gpu_outcome(Steps *steps, Steps *shown, const HandoffOptions *o, bool with_consumers,
                             const char *summary) {
        _cleanup_(steps_done) Steps consumers = {};
        size_t n;
        int r;

        if (with_consumers && split_consumers(steps, &consumers) < 0)
                return log_oom();
        if (o->json)
                return print_json(steps, with_consumers && o->dry_run ? &consumers : NULL, o);
        if (o->dry_run)
                return print_dry_run(steps, with_consumers ? &consumers : NULL);
        r = assign_print_steps(steps, shown, HANDOFF_STEP_WIDTH);
        if (r < 0)
                return r;
        n = steps_count_changed(steps);
        printf("%s: %zu step%s.\n", summary, n, n == 1 ? "" : "s");
        return flush_stdout();
}

int run_handoff(sd_bus *bus, const char *address, const char *domain, const HandoffOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(steps_done) Steps steps = {}, shown = {};
        _cleanup_(gpu_done) Gpu gpu = {};
        _cleanup_free_ char *shown_domain = NULL, *summary = NULL;
        int r;

        r = gpu_resolve(bus, address, &gpu);
        if (r < 0)
                return r;

        r = new_gpu_call(bus, &gpu, "Handoff", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", domain);
        if (r >= 0)
                r = append_options(m, o->dry_run, o->stop_display_manager, o->no_start);
        if (r < 0)
                return log_error_errno(r, "Failed to append the arguments of Handoff(): %m");

        r = gpu_call(bus, m, &gpu, o, &steps, &shown);
        if (r < 0)
                return r;

        shown_domain = strdup_printable(domain);
        if (!shown_domain)
                return log_oom();
        if (isempty(domain))
                r = asprintf(&summary, "Handed %s off (no domain)", gpu.name);
        else
                r = asprintf(&summary, "Handed %s off (domain %s%s)", gpu.name, shown_domain,
                             o->no_start ? ", not started" : "");
        if (r < 0)
                return log_oom();
        return print_gpu_outcome(&steps, &shown, o, true, summary);
}

int run_return(sd_bus *bus, const char *address, const HandoffOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(steps_done) Steps steps = {}, shown = {};
        _cleanup_(gpu_done) Gpu gpu = {};
        _cleanup_free_ char *summary = NULL;
        int r;

        r = gpu_resolve(bus, address, &gpu);
        if (r < 0)
                return r;

        r = new_gpu_call(bus, &gpu, "Return", &m);
        if (r < 0)
                return r;
        r = append_options(m, o->dry_run, false, false);
        if (r < 0)
                return log_error_errno(r, "Failed to append the arguments of Return(): %m");

        r = gpu_call(bus, m, &gpu, o, &steps, &shown);
        if (r < 0)
                return r;

        if (asprintf(&summary, "Returned %s to the host", gpu.name) < 0)
                return log_oom();
        return print_gpu_outcome(&steps, &shown, o, false, summary);
}

int run_consumers(sd_bus *bus, const char *address, const HandoffOptions *o) {
        static const char * const header[] = { "PID", "COMMAND", "NODE" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_(json_done) JsonWriter w;
        _cleanup_(gpu_done) Gpu gpu = {};
        const char *command, *node;
        uint32_t pid;
        int r;

        json_init_stream(&w, o->json_pretty, stdout);

        r = gpu_resolve(bus, address, &gpu);
        if (r < 0)
                return r;

        r = new_gpu_call(bus, &gpu, "GetConsumers", &m);
        if (r < 0)
                return r;
        r = bus_call_message(bus, m, 0, false, &reply);
        if (r < 0)
                return r;

        if (o->json) {
                json_begin_object(&w);
                json_key(&w, "consumers");
                json_begin_array(&w);
        } else {
                t = table_new(ELEMENTSOF(header));
                if (!t || table_set_header(t, header) < 0)
                        return log_oom();
        }

        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(uss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(uss)", &pid, &command, &node)) > 0) {
                char p[16];

                if (o->json) {
                        json_consumer(&w, &pid, command, node);
                        continue;
                }
                (void) snprintf(p, sizeof(p), "%" PRIu32, pid);
                r = table_add_row(t, (const char *[]) { p, command, node }, NULL);
                if (r < 0)
                        return log_oom();
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of GetConsumers(): %m");

        if (o->json) {
                json_end_array(&w);
                json_end_object(&w);
                return output_json(&w);
        }

        if (table_rows(t) == 0) {
                printf("No process holds %s's nodes.\n", gpu.name);
                return flush_stdout();
        }
        r = table_print(t, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return flush_stdout();
}

int run_start(sd_bus *bus, const char *domain, const HandoffOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(steps_done) Steps steps = {}, shown = {};
        _cleanup_free_ char *shown_domain = NULL, *summary = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, PASSTHRU_PATH, PASSTHRU_MANAGER_INTERFACE,
                                           "StartGuest");
        if (r < 0)
                return log_error_errno(r, "Failed to create the StartGuest() call: %m");
        /* The daemon looks the domain up (by name or UUID) and validates it. */
        r = sd_bus_message_append(m, "s", domain);
        if (r >= 0)
                r = append_options(m, o->dry_run, o->stop_display_manager, false);
        if (r < 0)
                return log_error_errno(r, "Failed to append the arguments of StartGuest(): %m");

        r = assign_call(bus, m,
                        &(const AssignCall) {
                                /* We do not know the GPU: any group's progress (not for JSON,
                                 * nor for a dry run, which signals nothing). */
                                .progress_any_group = !o->json && !o->dry_run,
                                .ask_password = o->ask_password,
                                .step_width = HANDOFF_STEP_WIDTH,
                        },
                        &steps, &shown);
        if (r < 0)
                return r;

        shown_domain = strdup_printable(domain);
        if (!shown_domain || asprintf(&summary, "Handed the GPU off to %s and started it", shown_domain) < 0)
                return log_oom();
        return print_gpu_outcome(&steps, &shown, o, true, summary);
}

typedef struct Guest {
        char *domain;
        char *state;
        char **devices;         /* object paths, then (guest_resolve()) addresses */
} Guest;

typedef struct Guests {
        Guest *items;
        size_t n;
} Guests;

static void guests_done(Guests *g) {
        for (size_t i = 0; i < g->n; i++) {
                free(g->items[i].domain);
                free(g->items[i].state);
                strv_free(g->items[i].devices);
        }
        g->items = mfree(g->items);
        g->n = 0;
}

/* The reply of GetGuests(), a(ssao). */
static int guests_read(sd_bus_message *reply, Guests *ret) {
        int r;

        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(ssao)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "ssao")) > 0) {
                _cleanup_strv_free_ char **devices = NULL;
                const char *domain, *state;
                Guest *items;

                r = sd_bus_message_read(reply, "ss", &domain, &state);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_strv(reply, &devices);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;

                items = reallocarray(ret->items, ret->n + 1, sizeof(Guest));
                if (!items)
                        return -ENOMEM;
                ret->items = items;
                items[ret->n] = (Guest) {
                        .domain = strdup(domain),
                        .state = strdup(state),
                        .devices = TAKE_PTR(devices),
                };
                ret->n++;
                if (!items[ret->n - 1].domain || !items[ret->n - 1].state)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

/* The address of the device at path: from the path itself (…/pci_0000_26_00_0), else its
 * Address property, else (a device gone meanwhile) the path. */
static char *device_address(sd_bus *bus, const char *path) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char buf[13], *address = NULL;
        int r;

        if (address_from_device_path(path, buf) >= 0)
                return strdup(buf);

        r = sd_bus_get_property_string(bus, PASSTHRU_SERVICE, path, PASSTHRU_DEVICE_INTERFACE, "Address",
                                       &error, &address);
        if (r < 0) {
                log_debug("Failed to read the Address of %s: %s", path,
                          sd_bus_error_is_set(&error) ? error.message : strerror(-r));
                sd_bus_error_free(&error);
                return strdup(path);
        }
        return address;
}

/* Replaces the object paths of each guest's devices by their addresses. */
static int guests_resolve(sd_bus *bus, Guests *g) {
        for (size_t i = 0; i < g->n; i++)
                for (char **d = g->items[i].devices; d && *d; d++) {
                        char *a = device_address(bus, *d);

                        if (!a)
                                return -ENOMEM;
                        free(*d);
                        *d = a;
                }
        return 0;
}

/* "26:00.0 26:00.1 28:00.3" */
static char *addresses_join(char * const *addresses) {
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        for (char * const *a = addresses; a && *a; a++)
                fprintf(f, "%s%s", a == addresses ? "" : " ", address_short(*a));
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

int run_guests(sd_bus *bus, const HandoffOptions *o) {
        static const char * const header[] = { "DOMAIN", "STATE", "DEVICES" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(guests_done) Guests guests = {};
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = bus_call(bus, PASSTHRU_MANAGER_INTERFACE, "GetGuests", &reply, NULL);
        if (r < 0)
                return r;
        r = guests_read(reply, &guests);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of GetGuests(): %m");
        r = guests_resolve(bus, &guests);
        if (r < 0)
                return log_oom();

        if (o->json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, o->json_pretty, stdout);
                json_begin_array(&w);
                for (size_t i = 0; i < guests.n; i++) {
                        json_begin_object(&w);
                        json_kv_string(&w, "domain", guests.items[i].domain);
                        json_kv_string(&w, "state", guests.items[i].state);
                        json_key(&w, "devices");
                        json_begin_array(&w);
                        for (char **d = guests.items[i].devices; d && *d; d++)
                                json_string(&w, *d);
                        json_end_array(&w);
                        json_end_object(&w);
                }
                json_end_array(&w);
                return output_json(&w);
        }

        if (guests.n == 0) {
                printf("No guest holds a device handed off by passthrud.\n");
                return flush_stdout();
        }

        t = table_new(ELEMENTSOF(header));
        if (!t || table_set_header(t, header) < 0)
                return log_oom();
        for (size_t i = 0; i < guests.n; i++) {
                const Guest *g = guests.items + i;
                _cleanup_free_ char *devices = addresses_join(g->devices);

                if (!devices)
                        return log_oom();
                r = table_add_row(t, (const char *[]) { g->domain, g->state, isempty(devices) ? "-" : devices },
                                  (const char *[]) { NULL, streq(g->state, "running") ? ANSI_GREEN : NULL, NULL });
                if (r < 0)
                        return log_oom();
        }
        r = table_print(t, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return flush_stdout();
}
