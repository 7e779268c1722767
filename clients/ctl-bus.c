/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-bus.h: connecting, error messages and D-Bus → JSON conversion
 * for passthructl.
 */
#include <inttypes.h>
#include <stdarg.h>

#include "ctl-agent.h"
#include "ctl-bus.h"

int bus_connect_system(sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS");

                return log_error_errno(r, "Cannot connect to the system bus (%s): %m",
                                       a ?: "unix:path=/run/dbus/system_bus_socket");
        }

        *ret = bus;
        return 0;
}

int log_bus_error(const sd_bus_error *error, int r, const char *what) {
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return log_error_errno(-EHOSTDOWN,
                                       "passthrud is not running: no program owns %s on the system bus. "
                                       "Start it with \"systemctl start passthrud\" (and check that passthru is installed).",
                                       PASSTHRU_SERVICE);

        if (sd_bus_error_is_set(error))
                return log_error_errno(r < 0 ? r : -EIO, "%s (%s)",
                                       !isempty(error->message) ? error->message : what,
                                       error->name);

        if (r == -ECONNRESET || r == -ENOTCONN)
                return log_error_errno(r, "%s: lost the connection to the system bus.", what);

        return log_error_errno(r, "%s: %m", what);
}

int bus_call_message(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, bool ask_password,
                     sd_bus_message **ret_reply) {
        _cleanup_(polkit_agent_closep) pid_t agent = 0;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *method = strempty(sd_bus_message_get_member(m));
        int r;

        if (ask_password) {
                /* polkit may ask for a password (through our agent or the session's). */
                r = sd_bus_message_set_allow_interactive_authorization(m, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to allow interactive authorization: %m");
                r = polkit_agent_open(&agent);
                if (r < 0)
                        return r;
        }

        r = sd_bus_call(bus, m, timeout_usec, &error, ret_reply);
        polkit_agent_close(&agent);
        if (r < 0) {
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "%s() failed", method) < 0)
                        what = NULL;
                r = log_bus_error(&error, r, what ?: method);
        }
        sd_bus_error_free(&error);
        return r;
}

int bus_call(sd_bus *bus, const char *interface, const char *method, sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, PASSTHRU_SERVICE, PASSTHRU_PATH, interface, method);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s() call: %m", method);

        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_appendv(call, types, ap);
                va_end(ap);
                if (r < 0)
                        return log_error_errno(r, "Failed to append the arguments of %s(): %m", method);
        }

        return bus_call_message(bus, call, 0, false, ret_reply);
}

static int basic_to_json(sd_bus_message *m, char type, JsonWriter *w) {
        union {
                uint8_t u8;
                uint16_t u16;
                int16_t s16;
                uint32_t u32;
                int32_t s32;
                uint64_t u64;
                int64_t s64;
                double d;
                int b;
                const char *s;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;

        switch (type) {
        case SD_BUS_TYPE_BYTE:
                json_unsigned(w, v.u8);
                break;
        case SD_BUS_TYPE_UINT16:
                json_unsigned(w, v.u16);
                break;
        case SD_BUS_TYPE_INT16:
                json_signed(w, v.s16);
                break;
        case SD_BUS_TYPE_UINT32:
                json_unsigned(w, v.u32);
                break;
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD:
                json_signed(w, v.s32);
                break;
        case SD_BUS_TYPE_UINT64:
                json_unsigned(w, v.u64);
                break;
        case SD_BUS_TYPE_INT64:
                json_signed(w, v.s64);
                break;
        case SD_BUS_TYPE_DOUBLE:
                json_double(w, v.d);
                break;
        case SD_BUS_TYPE_BOOLEAN:
                json_bool(w, v.b);
                break;
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE:
                json_string(w, v.s);
                break;
        default:
                return -EBADMSG;
        }
        return 0;
}

/* Dictionary keys are basic types; JSON keys are strings. */
static int basic_to_key(sd_bus_message *m, char type, JsonWriter *w) {
        _cleanup_(json_done) JsonWriter k;
        const char *s;
        int r;

        if (IN_SET(type, SD_BUS_TYPE_STRING, SD_BUS_TYPE_OBJECT_PATH, SD_BUS_TYPE_SIGNATURE)) {
                r = sd_bus_message_read_basic(m, type, &s);
                if (r < 0)
                        return r;
                json_key(w, s);
                return 0;
        }

        /* Render the number or boolean and use its text as the key. */
        json_init(&k, false);
        r = basic_to_json(m, type, &k);
        if (r < 0)
                return r;
        if (k.oom || !k.buf)
                return -ENOMEM;
        json_key(w, k.buf);
        return 0;
}

static int value_to_json(sd_bus_message *m, JsonWriter *w, size_t max_array, unsigned depth) {
        const char *contents;
        char type;
        int r;

        /* D-Bus allows 64 levels of nesting; sd-bus enforces it, this is a backstop. */
        if (depth > 128)
                return -EBADMSG;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        switch (type) {

        case SD_BUS_TYPE_VARIANT:
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                r = value_to_json(m, w, max_array, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);

        case SD_BUS_TYPE_STRUCT:
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                json_begin_array(w);
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        r = value_to_json(m, w, 0, depth + 1);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                json_end_array(w);
                return sd_bus_message_exit_container(m);

        case SD_BUS_TYPE_ARRAY:
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;

                if (contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN) {
                        json_begin_object(w);
                        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, NULL)) > 0) {
                                char key_type;

                                r = sd_bus_message_peek_type(m, &key_type, NULL);
                                if (r < 0)
                                        return r;
                                r = basic_to_key(m, key_type, w);
                                if (r < 0)
                                        return r;
                                r = value_to_json(m, w, max_array, depth + 1);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_exit_container(m);
                                if (r < 0)
                                        return r;
                        }
                        if (r < 0)
                                return r;
                        json_end_object(w);
                } else {
                        size_t n = 0;

                        json_begin_array(w);
                        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                                if (max_array > 0 && n >= max_array)
                                        r = sd_bus_message_skip(m, NULL);
                                else
                                        r = value_to_json(m, w, max_array, depth + 1);
                                if (r < 0)
                                        return r;
                                n++;
                        }
                        if (r < 0)
                                return r;
                        if (max_array > 0 && n > max_array)
                                json_stringf(w, "(%zu more)", n - max_array);
                        json_end_array(w);
                }
                return sd_bus_message_exit_container(m);

        default:
                return basic_to_json(m, type, w);
        }
}

int bus_message_value_to_json(sd_bus_message *m, JsonWriter *w, size_t max_array) {
        return value_to_json(m, w, max_array, 0);
}

int bus_get_device(sd_bus *bus, const char *address, char **ret_path, char **ret_name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *name = NULL;
        const char *p;
        char buf[13];
        int r;

        r = bus_call(bus, PASSTHRU_MANAGER_INTERFACE, "GetDevice", &reply, "s", address);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of GetDevice(): %m");
        path = strdup(p);
        if (!path)
                return log_oom();
        if (ret_name) {
                name = strdup_printable(address_from_device_path(path, buf) >= 0 ? buf : address);
                if (!name)
                        return log_oom();
                *ret_name = TAKE_PTR(name);
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}
