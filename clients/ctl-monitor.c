/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl monitor": installs match rules for passthrud's ObjectManager signals
 * (InterfacesAdded/InterfacesRemoved on /org/passthru1), for PropertiesChanged of the
 * org.passthru1.* interfaces anywhere under /org/passthru1 and for the GPUs'
 * StateChanged, then prints one flushed line per signal: "added device 0000:22:00.0",
 * "removed group 15", "changed device 0000:26:00.1 Driver=\"\" HostDriver=\"snd_hda_intel\"",
 * "state device 0000:26:00.0 State=\"detached\" Domain=\"win10\"", or with --json one JSON
 * object per line. Owns the event loop and the match slots while it runs.
 */
#include <signal.h>
#include <systemd/sd-event.h>

#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-monitor.h"

/* Human output shows at most this many elements of an array value. */
#define HUMAN_MAX_ARRAY 8

typedef enum ObjectKind {
        KIND_MANAGER,
        KIND_GROUP,
        KIND_DEVICE,
        KIND_OBJECT,    /* another object under /org/passthru1, from a newer daemon */
} ObjectKind;

static const char * const kind_names[] = {
        [KIND_MANAGER] = "manager",
        [KIND_GROUP] = "group",
        [KIND_DEVICE] = "device",
        [KIND_OBJECT] = "object",
};

typedef enum PropertySource {
        PROPERTIES_NONE,        /* InterfacesRemoved */
        PROPERTIES_INTERFACES,  /* InterfacesAdded: a{sa{sv}} */
        PROPERTIES_CHANGED,     /* PropertiesChanged: a{sv} as */
        PROPERTIES_STATE,       /* Gpu.StateChanged: s state, s domain */
} PropertySource;

typedef struct Monitor {
        bool json;
} Monitor;

static ObjectKind kind_from_path(const char *path) {
        if (streq(path, PASSTHRU_PATH))
                return KIND_MANAGER;
        if (startswith(path, PASSTHRU_DEVICE_PATH_PREFIX))
                return KIND_DEVICE;
        if (startswith(path, PASSTHRU_GROUP_PATH_PREFIX))
                return KIND_GROUP;
        return KIND_OBJECT;
}

static bool is_our_interface(const char *interface) {
        return startswith(interface, "org.passthru1.");
}

/* Writes "Name": value for every property of one a{sv}; in human mode " Name=value". */
static int properties_out(Monitor *mon, sd_bus_message *m, JsonWriter *w, FILE *text) {
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;

                if (mon->json) {
                        json_key(w, name);
                        r = bus_message_value_to_json(m, w, 0);
                } else if (text) {
                        _cleanup_(json_done) JsonWriter v;
                        _cleanup_free_ char *n = NULL;

                        json_init(&v, false);
                        r = bus_message_value_to_json(m, &v, HUMAN_MAX_ARRAY);
                        if (r >= 0 && (v.oom || !v.buf))
                                r = -ENOMEM;
                        if (r >= 0) {
                                n = strdup_printable(name);
                                if (!n)
                                        return -ENOMEM;
                                fprintf(text, " %s=%s", n, v.buf);
                        }
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

/* The arguments of Gpu.StateChanged as the properties they report: "State" and "Domain". */
static int state_out(Monitor *mon, sd_bus_message *m, JsonWriter *w, FILE *text) {
        const char *state, *domain;
        int r;

        r = sd_bus_message_read(m, "ss", &state, &domain);
        if (r < 0)
                return r;

        if (mon->json) {
                json_kv_string(w, "State", state);
                json_kv_string(w, "Domain", domain);
        } else {
                _cleanup_free_ char *s = NULL, *d = NULL;

                /* Quoted and escaped like every value of the human lines. */
                s = json_escape(state);
                d = json_escape(domain);
                if (!s || !d)
                        return -ENOMEM;
                fprintf(text, " State=%s Domain=%s", s, d);
        }
        return 0;
}

/* The invalidated properties of PropertiesChanged: null in JSON, "Name=(invalidated)". */
static int invalidated_out(Monitor *mon, sd_bus_message *m, JsonWriter *w, FILE *text) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read_basic(m, 's', &name)) > 0) {
                if (mon->json) {
                        json_key(w, name);
                        json_null(w);
                } else {
                        _cleanup_free_ char *n = strdup_printable(name);

                        if (!n)
                                return -ENOMEM;
                        fprintf(text, " %s=(invalidated)", n);
                }
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

static int print_event(
                Monitor *mon,
                sd_bus_message *m,
                const char *event,
                const char *path,
                PropertySource source) {

        _cleanup_(json_done) JsonWriter w;
        _cleanup_free_ char *text = NULL, *p = NULL;
        size_t text_size = 0;
        ObjectKind kind;
        const char *id = NULL;
        char address[13];
        bool have_group = false;
        uint32_t group = 0;
        FILE *f = NULL;
        int r;

        kind = kind_from_path(path);
        switch (kind) {
        case KIND_DEVICE:
                id = address_from_device_path(path, address) >= 0 ? address : path;
                break;
        case KIND_GROUP:
                have_group = group_from_path(path, &group) >= 0;
                id = startswith(path, PASSTHRU_GROUP_PATH_PREFIX);
                break;
        case KIND_MANAGER:
                break;
        case KIND_OBJECT:
                id = path;
                break;
        }

        json_init(&w, false);
        if (mon->json) {
                json_begin_object(&w);
                json_kv_string(&w, "event", event);
                json_kv_string(&w, "kind", kind_names[kind]);
                json_kv_string(&w, "path", path);
                if (kind == KIND_DEVICE)
                        json_kv_string(&w, "address", id);
                else if (kind == KIND_GROUP) {
                        json_key(&w, "group");
                        if (have_group)
                                json_unsigned(&w, group);
                        else
                                json_null(&w);
                }
                json_key(&w, "properties");
                json_begin_object(&w);
        } else {
                f = open_memstream(&text, &text_size);
                if (!f)
                        return log_oom();

                p = strdup_printable(strempty(id));
                if (!p) {
                        fclose(f);
                        return log_oom();
                }
                fprintf(f, "%s %s", event, kind_names[kind]);
                if (id)
                        fprintf(f, " %s", p);
        }

        switch (source) {

        case PROPERTIES_NONE:
                r = 0;
                break;

        case PROPERTIES_INTERFACES:
                /* All org.passthru1.* properties of the new object, merged; the human line
                 * names the object only. */
                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sa{sv}}");
                while (r >= 0 && (r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}")) > 0) {
                        const char *interface;

                        r = sd_bus_message_read_basic(m, 's', &interface);
                        if (r < 0)
                                break;
                        if (is_our_interface(interface))
                                r = properties_out(mon, m, &w, NULL);
                        else
                                r = sd_bus_message_skip(m, "a{sv}");
                        if (r < 0)
                                break;
                        r = sd_bus_message_exit_container(m);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                break;

        case PROPERTIES_CHANGED:
                r = properties_out(mon, m, &w, f);
                if (r >= 0)
                        r = invalidated_out(mon, m, &w, f);
                break;

        case PROPERTIES_STATE:
                r = state_out(mon, m, &w, f);
                break;

        default:
                r = -EINVAL;
        }

        if (f)
                fclose(f);   /* text and text_size are valid from here */

        if (r < 0)
                return log_error_errno(r, "Failed to parse %s signal of %s: %m", event, path);

        if (mon->json) {
                const char *out;
                size_t n;

                json_end_object(&w);
                json_end_object(&w);
                r = json_finish(&w, &out, &n);
                if (r < 0)
                        return log_oom();
                r = write_stdout(out, n);
        } else {
                if (!text)
                        return log_oom();
                fputs(text, stdout);
                r = write_stdout("\n", 1);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");

        return 0;
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        const char *path;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r < 0) {
                log_error_errno(r, "Failed to parse InterfacesAdded signal: %m");
                return 0;
        }

        (void) print_event(mon, m, "added", path, PROPERTIES_INTERFACES);
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        const char *path;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r < 0) {
                log_error_errno(r, "Failed to parse InterfacesRemoved signal: %m");
                return 0;
        }

        (void) print_event(mon, m, "removed", path, PROPERTIES_NONE);
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        const char *interface;
        int r;

        r = sd_bus_message_read_basic(m, 's', &interface);
        if (r < 0) {
                log_error_errno(r, "Failed to parse PropertiesChanged signal: %m");
                return 0;
        }
        if (!is_our_interface(interface))
                return 0;

        (void) print_event(mon, m, "changed", sd_bus_message_get_path(m), PROPERTIES_CHANGED);
        return 0;
}

static int on_state_changed(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        Monitor *mon = userdata;

        (void) print_event(mon, m, "state", sd_bus_message_get_path(m), PROPERTIES_STATE);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, _unused_ void *userdata, _unused_ sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, PASSTHRU_SERVICE))
                return 0;

        /* Diagnostics go to stderr, so the event stream on stdout stays machine-readable. */
        if (isempty(new_owner))
                fprintf(stderr, "passthrud left the bus; waiting for it to come back.\n");
        else if (isempty(old_owner))
                fprintf(stderr, "passthrud is on the bus.\n");
        return 0;
}

int run_monitor(sd_bus *bus, bool json) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *added = NULL, *removed = NULL, *changed = NULL, *state = NULL,
                *owner = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Monitor mon = {
                .json = json,
        };
        sigset_t ss;
        int r, has_owner = 1;

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");

        /* SIGINT and SIGTERM end the loop with exit code 0 (the default handler of
         * sd_event_add_signal() with NULL userdata). They must be blocked first. */
        if (sigemptyset(&ss) < 0 || sigaddset(&ss, SIGINT) < 0 || sigaddset(&ss, SIGTERM) < 0 ||
            sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");

        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");

        /* When the connection goes, the loop ends with EXIT_FAILURE. */
        r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit on disconnect: %m");

        /* sd_bus_match_signal() and sd_bus_add_match() wait for the bus's reply to AddMatch,
         * so once they return no signal can be missed. */
        r = sd_bus_match_signal(bus, &added, PASSTHRU_SERVICE, PASSTHRU_PATH,
                                "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                on_interfaces_added, &mon);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to InterfacesAdded: %m");

        r = sd_bus_match_signal(bus, &removed, PASSTHRU_SERVICE, PASSTHRU_PATH,
                                "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
                                on_interfaces_removed, &mon);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to InterfacesRemoved: %m");

        /* sd_bus_match_signal() takes an exact path; PropertiesChanged comes from every
         * object below /org/passthru1, hence path_namespace. */
        r = sd_bus_add_match(bus, &changed,
                             "type='signal',"
                             "sender='" PASSTHRU_SERVICE "',"
                             "interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',"
                             "path_namespace='" PASSTHRU_PATH "',"
                             "arg0namespace='org.passthru1'",
                             on_properties_changed, &mon);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to PropertiesChanged: %m");

        /* A GPU's State and Domain come with PropertiesChanged as well; StateChanged is sent
         * once the new state is verified, and is what the handoff's contract promises. */
        r = sd_bus_add_match(bus, &state,
                             "type='signal',"
                             "sender='" PASSTHRU_SERVICE "',"
                             "interface='" PASSTHRU_GPU_INTERFACE "',"
                             "member='StateChanged',"
                             "path_namespace='" PASSTHRU_PATH "'",
                             on_state_changed, &mon);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to StateChanged: %m");

        r = sd_bus_add_match(bus, &owner,
                             "type='signal',"
                             "sender='org.freedesktop.DBus',"
                             "path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',"
                             "member='NameOwnerChanged',"
                             "arg0='" PASSTHRU_SERVICE "'",
                             on_name_owner_changed, &mon);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to NameOwnerChanged: %m");

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", PASSTHRU_SERVICE);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has_owner);
        sd_bus_error_free(&error);
        if (r < 0)
                log_debug("NameHasOwner failed, ignoring: %s", strerror(-r));

        if (!has_owner)
                fprintf(stderr, "passthrud is not running; waiting for it to appear.\n");
        fprintf(stderr, "Monitoring %s (Ctrl-C to stop)\n", PASSTHRU_SERVICE);

        /* The exit code is 0 after SIGINT/SIGTERM, EXIT_FAILURE when the bus went away
         * (sd_bus_set_exit_on_disconnect() above). Either way sd-bus closes the connection
         * when the loop ends, so the code is all we can go by. */
        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        if (r != 0)
                return log_error_errno(-ECONNRESET, "Lost the connection to the system bus.");

        return 0;
}
