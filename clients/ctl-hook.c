/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-hook.h. Reads standard input (file descriptor 0) for "prepare begin"
 * and drains it for "release end"; connects to the system bus only to make one of the two
 * calls, with a deadline of HOOK_TIMEOUT_USEC. Owns the XML text, the hostdev list and the
 * bus connection while it runs.
 */
#include <inttypes.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "ctl-bus.h"
#include "ctl-hook-xml.h"
#include "ctl-hook.h"

/* The daemon's transaction (module unloads, the kernel's steps, each bounded by the daemon),
 * or its start by bus activation first. libvirt waits for the hook meanwhile. */
#define HOOK_TIMEOUT_USEC (UINT64_C(120) * 1000 * 1000)

enum {
        HOOK_EXIT_SUCCESS = 0,
        HOOK_EXIT_FAILURE = 1,
        HOOK_EXIT_USAGE = 2,
};

/* The next code point of s (at least one byte), or -1 when s does not start with a valid,
 * shortest-form UTF-8 sequence. */
static int32_t utf8_next(const unsigned char **s) {
        const unsigned char *p = *s;
        int32_t c, min;
        size_t len;

        if (p[0] < 0x80) {
                *s = p + 1;
                return p[0];
        }
        if ((p[0] & 0xE0) == 0xC0) {
                len = 2, c = p[0] & 0x1F, min = 0x80;
        } else if ((p[0] & 0xF0) == 0xE0) {
                len = 3, c = p[0] & 0x0F, min = 0x800;
        } else if ((p[0] & 0xF8) == 0xF0) {
                len = 4, c = p[0] & 0x07, min = 0x10000;
        } else
                return -1;

        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xC0) != 0x80)
                        return -1;      /* also the terminating NUL */
                c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return -1;
        *s = p + len;
        return c;
}

/* The daemon's rule for a domain name: valid UTF-8 without control characters (C0, DEL, C1),
 * at most HOOK_GUEST_NAME_MAX characters. */
static bool hook_guest_name_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n = 0;

        if (isempty(s))
                return false;
        while (*p) {
                int32_t c = utf8_next(&p);

                if (c < 0 || c < 0x20 || (c >= 0x7F && c <= 0x9F))
                        return false;
                if (++n > HOOK_GUEST_NAME_MAX)
                        return false;
        }
        return true;
}

/* All of standard input, NUL-terminated. -EFBIG past max bytes, -EBADMSG for a NUL byte in
 * it (it would cut the text short unseen). */
static int read_stdin(size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;

        for (;;) {
                ssize_t k;

                if (allocated - len < 2) {
                        size_t a = allocated == 0 ? 64 * 1024 : allocated * 2;
                        char *b;

                        /* One byte past max tells "too large" from "exactly max". */
                        a = MIN(a, max + 2);
                        if (a <= allocated)
                                return -EFBIG;
                        b = realloc(buf, a);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = a;
                }

                k = read(STDIN_FILENO, buf + len, allocated - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max)
                        return -EFBIG;
        }

        buf[len] = '\0';
        if (memchr(buf, '\0', len))
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Reads what libvirt wrote to standard input and throws it away (up to HOOK_XML_MAX bytes),
 * so that its write does not fail; a terminal is left alone. */
static void drain_stdin(void) {
        char buf[64 * 1024];
        size_t total = 0;

        if (isatty(STDIN_FILENO))
                return;
        while (total <= HOOK_XML_MAX) {
                ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                total += (size_t) k;
        }
}

static bool error_is_activation_failure(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
               startswith(strempty(e->name), "org.freedesktop.DBus.Error.Spawn.") ||
               startswith(strempty(e->name), "org.freedesktop.systemd1.");
}

static int log_call_failure(const sd_bus_error *e, int r, const char *method) {
        _cleanup_free_ char *name = NULL, *message = NULL;

        if (!sd_bus_error_is_set(e)) {
                if (r == -ETIMEDOUT)
                        return log_error_errno(r, "passthrud did not answer %s() within %" PRIu64 " s.", method,
                                               HOOK_TIMEOUT_USEC / (1000 * 1000));
                return log_error_errno(r, "%s() failed: %m", method);
        }

        name = strdup_printable(strempty(e->name));
        message = strdup_printable(strempty(e->message));
        if (!name || !message)
                return log_oom();

        if (error_is_activation_failure(e))
                return log_error_errno(r, "passthrud is not running and the system bus could not start it: %s (%s). "
                                       "See \"systemctl status passthrud.service\".",
                                       isempty(message) ? "no message" : message, name);
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT))
                return log_error_errno(r, "passthrud did not answer %s() within %" PRIu64 " s.", method,
                                       HOOK_TIMEOUT_USEC / (1000 * 1000));

        /* The daemon's own sentence says what blocked and what to do. */
        return log_error_errno(r, "%s", isempty(message) ? name : message);
}

/* Makes the call m (bus activation allowed, interactive authorization not) and waits for the
 * reply; logs on failure. */
static int hook_call(sd_bus *bus, sd_bus_message *m) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *method = strempty(sd_bus_message_get_member(m));
        int r;

        r = sd_bus_message_set_allow_interactive_authorization(m, false);
        if (r >= 0)
                r = sd_bus_message_set_auto_start(m, true);
        if (r < 0)
                return log_error_errno(r, "Failed to prepare the %s() call: %m", method);

        /* The reply's steps are for people; libvirt does not show them. */
        r = sd_bus_call(bus, m, HOOK_TIMEOUT_USEC, &error, NULL);
        if (r < 0)
                r = log_call_failure(&error, r, method);
        sd_bus_error_free(&error);
        return r;
}

static int check_guest_name(const char *guest) {
        if (hook_guest_name_is_valid(guest))
                return 0;

        /* Not echoed: it is what is wrong. */
        return log_error_errno(-EINVAL,
                               "The guest's name is not one passthru accepts: it must be valid UTF-8 without "
                               "control characters, of 1 to %d characters.",
                               HOOK_GUEST_NAME_MAX);
}

static int hook_prepare(const char *guest) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ HookHostdev *hostdevs = NULL;
        _cleanup_free_ char *xml = NULL;
        const char *reason = NULL;
        size_t len, n = 0;
        int r;

        r = read_stdin(HOOK_XML_MAX, &xml, &len);
        if (r == -EFBIG)
                return log_error_errno(r, "The domain XML on standard input is larger than %u MiB; refusing it.",
                                       HOOK_XML_MAX / (1024 * 1024));
        if (r == -EBADMSG)
                return log_error_errno(r, "The domain XML on standard input holds a NUL byte; refusing it.");
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to read the domain XML from standard input: %m");

        r = hook_xml_pci_hostdevs(xml, &hostdevs, &n, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Refusing the XML on standard input: %s.",
                                       reason ?: "it is not a libvirt domain");

        /* No PCI passthrough: not ours, and no reason to start the daemon. */
        if (n == 0)
                return 0;

        r = check_guest_name(guest);
        if (r < 0)
                return r;

        r = bus_connect_system(&bus);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, PASSTHRU_PATH, PASSTHRU_MANAGER_INTERFACE,
                                           "PrepareGuest");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", guest);
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "(sb)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(m, "(sb)", hostdevs[i].address, hostdevs[i].managed);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to create the PrepareGuest() call: %m");

        return hook_call(bus, m);
}

static int hook_release(const char *guest) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        /* The domain's XML: not needed, the daemon knows what it handed to the domain. */
        drain_stdin();

        r = check_guest_name(guest);
        if (r < 0)
                return r;

        r = bus_connect_system(&bus);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, PASSTHRU_SERVICE, PASSTHRU_PATH, PASSTHRU_MANAGER_INTERFACE,
                                           "ReleaseGuest");
        if (r >= 0)
                r = sd_bus_message_append(m, "sa{sv}", guest, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to create the ReleaseGuest() call: %m");

        return hook_call(bus, m);
}

int run_libvirt_hook(char **args, size_t n_args) {
        const char *guest, *operation, *sub_operation;
        int r;

        /* "passthru: MESSAGE" on standard error: libvirt shows it as the reason a guest did not
         * start. */
        program_invocation_short_name = (char *) "passthru";

        if (n_args < 3) {
                (void) log_error_errno(-EINVAL, "'libvirt-hook' needs the arguments libvirt passes to its qemu hook: "
                                       "GUEST OPERATION SUB-OPERATION [EXTRA].");
                return HOOK_EXIT_USAGE;
        }
        guest = args[0];
        operation = args[1];
        sub_operation = args[2];

        if (streq(operation, "prepare") && streq(sub_operation, "begin"))
                r = hook_prepare(guest);
        else if (streq(operation, "release") && streq(sub_operation, "end"))
                r = hook_release(guest);
        else
                r = 0;  /* not ours: start, started, stopped, migrate, restore, reconnect, attach … */

        return r < 0 ? HOOK_EXIT_FAILURE : HOOK_EXIT_SUCCESS;
}
