/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-reserve.h. Reserve and Unreserve are called like Rescan
 * (synchronously, allowing interactive authorization unless --no-ask-password), with a
 * text polkit agent running during the call like detach. What is printed afterwards comes
 * from the daemon, not from the address as typed: reserve reads the Reservations property
 * (and the devices) after its call, unreserve reads it before, since the entry is gone
 * after. Owns the agent and the snapshots while it runs.
 */
#include <strings.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-model.h"
#include "ctl-reserve.h"
#include "ctl-table.h"

/* Authorization by a person, then a small file write. */
#define CONFIGURE_TIMEOUT_USEC (UINT64_C(300) * 1000 * 1000)

/* The Manager's properties only (Reservations among them), into an otherwise empty m. */
static int acquire_manager(sd_bus *bus, bool for_json, Model *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = bus_call(bus, "org.freedesktop.DBus.Properties", "GetAll", &reply, "s", PASSTHRU_MANAGER_INTERFACE);
        if (r < 0)
                return r;
        r = model_parse_manager(reply, m);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the Manager's properties: %m");

        if (!for_json) {
                r = model_make_printable(m);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

/* "10de:1f82 NVIDIA Corporation TU117 [GeForce GTX 1650]", or the ids alone. */
static void print_what(const Reservation *x) {
        printf("%s%s%s", x->ids, isempty(x->description) ? "" : " ", strempty(x->description));
}

/* The keys every reservation object starts with. */
static void json_reservation_fields(JsonWriter *w, const char *address, const Reservation *x) {
        json_kv_string(w, "address", address);
        json_kv_string(w, "ids", x ? x->ids : "");
        json_kv_string(w, "description", x ? x->description : "");
}

int run_reserve(sd_bus *bus, const char *address, const ReserveOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(model_done) Model model = {};
        _cleanup_free_ char *normalized = NULL;
        const Reservation *x = NULL;
        const Device *d = NULL;
        const char *canonical;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, PASSTHRU_PATH,
                                           PASSTHRU_MANAGER_INTERFACE, "Reserve");
        if (r < 0)
                return log_error_errno(r, "Failed to create the Reserve() call: %m");
        r = sd_bus_message_append(m, "s", address);
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        /* Only the options given: the daemon's default is false. */
        if (r >= 0 && o->override)
                r = sd_bus_message_append(m, "{sv}", "override", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to append the arguments of Reserve(): %m");

        r = bus_call_message(bus, m, CONFIGURE_TIMEOUT_USEC, o->ask_password, NULL);
        if (r < 0)
                return r;

        /* The daemon accepted the address, so it is well-formed: its canonical form finds
         * the entry. Reserved it is; should reading it back fail (logged), say so with the
         * address alone. */
        normalized = address_normalize(address);
        if (!normalized)
                return log_oom();
        if (model_acquire(bus, o->json, &model) >= 0) {
                x = model_reservation_by_address(&model, normalized);
                d = model_device_by_address(&model, normalized);
        }
        canonical = x ? x->address : normalized;

        if (o->json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, o->json_pretty, stdout);
                json_begin_object(&w);
                json_key(&w, "reserved");
                json_begin_object(&w);
                json_reservation_fields(&w, canonical, x);
                json_end_object(&w);
                json_end_object(&w);
                return output_json(&w);
        }

        printf("Reserved %s", canonical);
        if (x) {
                printf(" (");
                print_what(x);
                printf(")");
        }
        printf(" for vfio-pci at boot.\n");
        if (d && streq_ptr(d->driver, "vfio-pci"))
                printf("It is on vfio-pci already.\n");
        else
                printf("It stays where it is until then; 'passthructl detach %s' gives it to vfio-pci now.\n",
                       canonical);
        return flush_stdout();
}

int run_unreserve(sd_bus *bus, const char *address, const ReserveOptions *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(model_done) Model before = {};
        _cleanup_free_ char *normalized = NULL;
        const Reservation *x;
        const char *canonical;
        int r;

        /* What it was, for the message: afterwards it is gone. */
        r = acquire_manager(bus, o->json, &before);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, PASSTHRU_PATH,
                                           PASSTHRU_MANAGER_INTERFACE, "Unreserve");
        if (r < 0)
                return log_error_errno(r, "Failed to create the Unreserve() call: %m");
        r = sd_bus_message_append(m, "s", address);
        if (r < 0)
                return log_error_errno(r, "Failed to append the arguments of Unreserve(): %m");

        r = bus_call_message(bus, m, CONFIGURE_TIMEOUT_USEC, o->ask_password, NULL);
        if (r < 0)
                return r;

        normalized = address_normalize(address);
        if (!normalized)
                return log_oom();
        x = model_reservation_by_address(&before, normalized);
        canonical = x ? x->address : normalized;

        if (o->json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, o->json_pretty, stdout);
                json_begin_object(&w);
                json_kv_string(&w, "unreserved", canonical);
                json_end_object(&w);
                return output_json(&w);
        }

        printf("Unreserved %s", canonical);
        if (x) {
                printf(" (");
                print_what(x);
                printf(")");
        }
        printf(": it is no longer given to vfio-pci at boot.\n"
               "Nothing changes now: if it is on vfio-pci, it stays there until 'passthructl reattach %s' or the next boot.\n",
               canonical);
        return flush_stdout();
}

/* "vendor:device" of the function now. */
static void device_ids(const Device *d, char buf[static 10]) {
        (void) snprintf(buf, 10, "%04x:%04x", d->vendor_id, d->product_id);
}

/* [{"address", "ids", "description", "present", "driver"}…]; driver: the Driver of the
 * function at that address now, "" for none, null when there is no function there. */
static void json_reservations(JsonWriter *w, const Model *m) {
        json_begin_array(w);
        for (size_t i = 0; i < m->manager.n_reservations; i++) {
                const Reservation *x = m->manager.reservations + i;
                const Device *d = model_device_by_address(m, x->address);

                json_begin_object(w);
                json_reservation_fields(w, x->address, x);
                json_kv_bool(w, "present", d != NULL);
                json_key(w, "driver");
                if (d)
                        json_string(w, d->driver);
                else
                        json_null(w);
                json_end_object(w);
        }
        json_end_array(w);
}

int run_reservations(sd_bus *bus, const ReserveOptions *o) {
        static const char * const header[] = { "ADDRESS", "IDS", "PRESENT", "DESCRIPTION" };
        _cleanup_(model_done) Model m = {};
        _cleanup_(table_freep) Table *t = NULL;
        size_t n_moved = 0;
        int r;

        r = model_acquire(bus, o->json, &m);
        if (r < 0)
                return r;

        if (o->json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, o->json_pretty, stdout);
                json_begin_object(&w);
                json_key(&w, "reservations");
                json_reservations(&w, &m);
                json_end_object(&w);
                return output_json(&w);
        }

        if (m.manager.n_reservations == 0) {
                printf("No reservations.\n");
                return flush_stdout();
        }

        t = table_new(ELEMENTSOF(header));
        if (!t)
                return log_oom();
        r = table_set_header(t, header);
        if (r < 0)
                return log_oom();

        for (size_t i = 0; i < m.manager.n_reservations; i++) {
                const Reservation *x = m.manager.reservations + i;
                const Device *d = model_device_by_address(&m, x->address);
                const char *present, *color = NULL;
                char ids[10];

                if (!d) {
                        present = "absent";
                        color = ANSI_YELLOW;
                } else if (isempty(d->driver))
                        present = "no driver";
                else {
                        present = d->driver;
                        if (streq(d->driver, "vfio-pci"))
                                color = ANSI_GREEN;
                }
                if (d) {
                        device_ids(d, ids);
                        if (strcasecmp(ids, x->ids) != 0)
                                n_moved++;
                }

                r = table_add_row(t,
                                  (const char *[]) { x->address, x->ids, present, x->description },
                                  (const char *[]) { NULL, NULL, color, NULL });
                if (r < 0)
                        return log_oom();
        }

        r = table_print(t, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");

        /* The boot service leaves a function whose ids changed (a card moved or replaced)
         * to the host: say so, it is why a reservation may not take. */
        if (n_moved > 0)
                putchar('\n');
        for (size_t i = 0; n_moved > 0 && i < m.manager.n_reservations; i++) {
                const Reservation *x = m.manager.reservations + i;
                const Device *d = model_device_by_address(&m, x->address);
                char ids[10];

                if (!d)
                        continue;
                device_ids(d, ids);
                if (strcasecmp(ids, x->ids) == 0)
                        continue;
                printf("%s%s is %s now, not %s as reserved%s: it stays with the host at boot "
                       "('passthructl reserve %s' reserves what is there now).\n",
                       ansi(ANSI_YELLOW), x->address, ids, x->ids, ansi_normal(), x->address);
        }

        return flush_stdout();
}
