/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Manager.StartGuest, GetGuests, PrepareGuest and ReleaseGuest on the bus (a third vtable of
 * the Manager interface): parse, validate, polkit, then the handoff machinery of
 * handoff-dbus.c with what guests.c knows of libvirt. PrepareGuest and ReleaseGuest serve
 * libvirt's hook and never ask libvirt anything. Never touches sysfs.
 */
#include "assign.h"
#include "bus-options.h"
#include "bus-paths.h"
#include "errors.h"
#include "guests-dbus.h"
#include "guests.h"
#include "handoff-dbus.h"
#include "log.h"
#include "util.h"

#define HOSTDEVS_MAX 64

static int authorize(Manager *m, sd_bus_message *message, const char *domain, sd_bus_error *error) {
        const char *details[] = { "domain", domain, NULL };
        return polkit_check(message, ACTION_HANDOFF, details, &m->polkit, error);
}

/* A domain named by a caller of these methods: valid and not empty. */
static int check_domain_given(const char *domain, sd_bus_error *error) {
        int r = check_domain_name(domain, error);
        if (r < 0)
                return r;
        if (isempty(domain))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "A domain name or UUID is needed.");
        return 0;
}

static int method_start_guest(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        bool dry_run = false, stop_dm = false;
        const BoolOption options[] = { { "dry-run", &dry_run }, { "stop-display-manager", &stop_dm }, {} };
        const char *domain;
        int r;

        r = sd_bus_message_read(message, "s", &domain);
        if (r < 0)
                return r;
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;
        r = check_domain_given(domain, error);
        if (r < 0)
                return r;

        r = authorize(m, message, domain, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        return gpu_handoff_to_domain(m, message, NULL, domain, true, stop_dm, dry_run, error);
}

static int method_get_guests(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **domains = NULL;
        Manager *m = userdata;
        int r;

        r = manager_guest_domains(m, &domains);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssao)");
        for (char **d = domains; r >= 0 && d && *d; d++) {
                r = sd_bus_message_open_container(reply, 'r', "ssao");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ss", *d, manager_guest_state(m, *d));
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "o");
                for (size_t i = 0; r >= 0 && i < m->n_handoffs; i++) {
                        const Journal *rec = &m->handoffs[i];
                        if (!rec->domain || !streq(rec->domain, *d))
                                continue;
                        for (size_t k = 0; r >= 0 && k < rec->n_origins; k++) {
                                char path[OBJECT_PATH_MAX];
                                r = sd_bus_message_append(reply, "o", device_object_path(&rec->origins[k].address, path));
                        }
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* The hostdevs the hook read from libvirt's XML: each address parsed, rebuilt and compared
 * (only the canonical DDDD:BB:SS.F is accepted: it comes from our own client). */
static int read_hostdevs(sd_bus_message *message, VirtHostdev **ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_free_ VirtHostdev *l = NULL;
        const char *address;
        size_t n = 0;
        int managed, r;

        r = sd_bus_message_enter_container(message, 'a', "(sb)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "(sb)", &address, &managed)) > 0) {
                char again[PCI_ADDRESS_STRING_MAX];
                PciAddress a;

                if (n >= HOSTDEVS_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "More than %d hostdevs.",
                                                 HOSTDEVS_MAX);
                if (pci_address_parse(address, &a, NULL) < 0 || !streq(pci_address_format(&a, again), address)) {
                        _cleanup_free_ char *shown = cescape_trunc(address, 64);
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Invalid PCI address \"%s\": DDDD:BB:SS.F expected.", strempty(shown));
                }
                VirtHostdev *x = reallocarray(l, n + 1, sizeof(VirtHostdev));
                if (!x)
                        return -ENOMEM;
                l = x;
                l[n++] = (VirtHostdev) { .address = a, .managed = managed };
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int reply_nothing(sd_bus_message *message) {
        const Plan empty = {};
        return bus_reply_steps(message, &empty, NULL);
}

static int method_prepare_guest(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ VirtHostdev *hostdevs = NULL;
        _cleanup_free_ PciDevice **extra = NULL;
        _cleanup_free_ PciAddress *managed = NULL;
        Manager *m = userdata;
        bool stop_dm = false;
        const BoolOption options[] = { { "stop-display-manager", &stop_dm }, {} };
        HandoffGuest guest = {};
        const Journal *rec;
        const char *domain;
        PciDevice *gpu;
        size_t n = 0;
        int r;

        r = sd_bus_message_read(message, "s", &domain);
        if (r < 0)
                return r;
        r = read_hostdevs(message, &hostdevs, &n, error);
        if (r < 0)
                return r;
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;
        r = check_domain_given(domain, error);
        if (r < 0)
                return r;

        gpu = guest_find_gpu(m, hostdevs, n);
        if (!gpu)
                return reply_nothing(message); /* no GPU: libvirt does the rest, as without passthru */

        r = authorize(m, message, domain, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        rec = manager_find_handoff(m, &gpu->address);
        if (rec && streq_ptr(rec->domain, domain)) {
                log_info("GPU %s is handed to domain %s already: nothing to prepare.", gpu->name, domain);
                return reply_nothing(message);
        }
        /* The daemon starts this domain itself (its handoff's last step): libvirt runs the hook
         * from inside that start, with the host released already. */
        for (Assignment *a = m->assignments; a; a = a->next)
                if (streq_ptr(guest_start_domain(a->guest_start), domain)) {
                        log_info("Domain %s is being started by passthrud: its hook has nothing to prepare.", domain);
                        return reply_nothing(message);
                }
        /* (A function in no IOMMU group: handoff_plan refuses it, NotSupported.) */
        r = guest_handoff_setup(m, gpu, domain, hostdevs, n, &guest, &extra, &managed, error);
        if (r < 0)
                return r;
        guest.start = false; /* libvirt starts it once its hook returns */
        return gpu_handoff_start(m, message, gpu, &guest, stop_dm, false, error);
}

static int method_release_guest(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const BoolOption options[] = { {} };
        const Journal *rec;
        const char *domain;
        PciDevice *gpu = NULL;
        int r;

        r = sd_bus_message_read(message, "s", &domain);
        if (r < 0)
                return r;
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;
        r = check_domain_given(domain, error);
        if (r < 0)
                return r;

        rec = manager_guest_record(m, domain);
        if (rec)
                gpu = machine_find_device(m->machine, &rec->gpu);
        if (!gpu)
                return reply_nothing(message); /* nothing handed to it, or returned already */

        r = authorize(m, message, domain, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* The stop event (or a call) may have started the Return already: it is under way. */
        if (manager_gpu_return_running(m, &gpu->address))
                return reply_nothing(message);
        manager_guest_set_running(m, domain, false);
        return gpu_return_start(m, message, gpu, false, false, error);
}

const sd_bus_vtable guests_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("StartGuest", SD_BUS_ARGS("s", domain, "a{sv}", options),
                                SD_BUS_RESULT("a(ss)", steps), method_start_guest, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGuests", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssao)", guests), method_get_guests,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareGuest", SD_BUS_ARGS("s", domain, "a(sb)", hostdevs, "a{sv}", options),
                                SD_BUS_RESULT("a(ss)", steps), method_prepare_guest, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseGuest", SD_BUS_ARGS("s", domain, "a{sv}", options),
                                SD_BUS_RESULT("a(ss)", steps), method_release_guest, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
