/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * passthructl: the command line client of passthrud (org.passthru1 on the system bus).
 *
 * This file owns the command line (options, verbs, exit statuses) and the output of the
 * status, list, show and diagnose verbs, human and JSON (the JSON keys are documented in
 * docs/passthructl.md and are an interface). Every verb that shows objects makes exactly
 * one GetManagedObjects() call (plus GetDevice()/GetGroup()/Diagnose() where needed) and
 * works on the sorted snapshot of ctl-model.c. monitor lives in ctl-monitor.c; detach
 * and reattach resolve their target here and run in ctl-assign.c; handoff, return,
 * consumers, start and guests run in ctl-handoff.c; reserve, unreserve and reservations run
 * in ctl-reserve.c; libvirt-hook, which libvirt runs with its own arguments (never parsed as
 * options), in ctl-hook.c.
 *
 * Exit statuses: 0 success, 1 failure (bus or daemon error, daemon not running),
 * 2 usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>

#include "config.h"
#include "ctl-assign.h"
#include "ctl-bus.h"
#include "ctl-handoff.h"
#include "ctl-hook.h"
#include "ctl-json.h"
#include "ctl-model.h"
#include "ctl-monitor.h"
#include "ctl-reserve.h"
#include "ctl-table.h"
#include "ctl-util.h"

#define EXIT_USAGE 2

/* Width of the right-aligned keys of "Key: value" output. */
#define KEY_WIDTH 14

static bool arg_json = false;
static bool arg_json_pretty = false;
static ColorMode arg_color = COLOR_AUTO;
static bool arg_dry_run = false;
static bool arg_override = false;
static bool arg_ask_password = true;
static bool arg_stop_display_manager = false;
static bool arg_no_start = false;

/* ---- helpers -------------------------------------------------------------------------- */

static int log_usage(const char *fmt, ...) _printf_(1, 2);
static int log_usage(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help' for more information.\n", program_invocation_short_name);
        return -EINVAL;
}

static void print_kv(const char *key, const char *fmt, ...) _printf_(2, 3);
static void print_kv(const char *key, const char *fmt, ...) {
        va_list ap;

        if (key)
                printf("%*s: ", KEY_WIDTH, key);
        else
                printf("%*s  ", KEY_WIDTH, "");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static const char *dash(const char *s) {
        return isempty(s) ? "-" : s;
}

/* The device's group number: from the group object, else from its path. */
static bool device_group_number(const Device *d, uint32_t *ret) {
        if (d->group) {
                *ret = d->group->number;
                return true;
        }
        return d->group_path && group_from_path(d->group_path, ret) >= 0;
}

/* "NVIDIA Corporation TU117 [GeForce GTX 1650] [10de:1f82] (rev a1)" */
static char *device_description(const Device *d, bool with_revision) {
        char *s;
        int r;

        r = asprintf(&s, "%s%s%s%s[%04x:%04x]",
                     strempty(d->vendor_name), isempty(d->vendor_name) ? "" : " ",
                     strempty(d->product_name), isempty(d->product_name) ? "" : " ",
                     d->vendor_id, d->product_id);
        if (r < 0)
                return NULL;

        if (with_revision && d->revision != 0) {
                char *t;

                r = asprintf(&t, "%s (rev %02x)", s, d->revision);
                free(s);
                if (r < 0)
                        return NULL;
                s = t;
        }
        return s;
}

/* "VGA compatible controller [0300]" */
static char *device_class(const Device *d) {
        char *s;

        if (asprintf(&s, "%s%s[%04x]", strempty(d->class_name), isempty(d->class_name) ? "" : " ",
                     d->class >> 8) < 0)
                return NULL;
        return s;
}

/* "nvidia", "-", "vfio-pci (host: snd_hda_intel)" */
static char *device_driver(const Device *d) {
        char *s;
        int r;

        if (!isempty(d->host_driver) && !streq_ptr(d->driver, d->host_driver))
                r = asprintf(&s, "%s (host: %s)", dash(d->driver), d->host_driver);
        else
                r = asprintf(&s, "%s", dash(d->driver));
        return r < 0 ? NULL : s;
}

/* "26:00.0 bound to nvidia, 26:00.1 bound to snd_hda_intel" */
static char *group_blockers(const Group *g, const char *separator) {
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        for (size_t i = 0; i < g->n_blockers; i++)
                fprintf(f, "%s%s %s", i > 0 ? separator : "",
                        address_short(g->blockers[i].address), g->blockers[i].reason);
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

/* "viable" / "not viable (…)", coloured, plus owner and guest when not the plain host. */
static char *group_verdict(const Group *g) {
        _cleanup_free_ char *blockers = NULL, *extra = NULL;
        char *s;
        int r;

        if (!isempty(g->domain))
                r = asprintf(&extra, ", owner %s, guest %s", dash(g->owner), g->domain);
        else if (!isempty(g->owner) && !streq(g->owner, "host"))
                r = asprintf(&extra, ", owner %s", g->owner);
        else
                r = asprintf(&extra, "%s", "");
        if (r < 0)
                return NULL;

        if (g->viable)
                r = asprintf(&s, "%sviable%s%s", ansi(ANSI_GREEN), ansi_normal(), extra);
        else {
                blockers = group_blockers(g, ", ");
                if (!blockers)
                        return NULL;
                r = asprintf(&s, "%snot viable%s%s%s%s%s", ansi(ANSI_RED), ansi_normal(),
                             isempty(blockers) ? "" : " (", blockers, isempty(blockers) ? "" : ")", extra);
        }
        return r < 0 ? NULL : s;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_addresses(JsonWriter *w, const Model *m, const char * const *paths) {
        json_begin_array(w);
        for (const char * const *p = paths; p && *p; p++) {
                char buf[13];

                json_string(w, model_address_of(m, *p, buf));
        }
        json_end_array(w);
}

static void json_device(JsonWriter *w, const Model *m, const Device *d, bool with_group_viable) {
        uint32_t group;
        bool has_group;

        has_group = device_group_number(d, &group);

        json_begin_object(w);
        json_kv_string(w, "address", d->address);
        json_key(w, "vendor_id");
        json_stringf(w, "%04x", d->vendor_id);
        json_key(w, "product_id");
        json_stringf(w, "%04x", d->product_id);
        json_key(w, "subsystem_vendor_id");
        json_stringf(w, "%04x", d->subsystem_vendor_id);
        json_key(w, "subsystem_id");
        json_stringf(w, "%04x", d->subsystem_id);
        json_key(w, "class");
        json_stringf(w, "%06x", d->class & 0xFFFFFFu);
        json_key(w, "revision");
        json_stringf(w, "%02x", d->revision);
        json_kv_string(w, "vendor_name", d->vendor_name);
        json_kv_string(w, "product_name", d->product_name);
        json_kv_string(w, "class_name", d->class_name);
        json_kv_string(w, "driver", d->driver);
        json_kv_string(w, "host_driver", d->host_driver);
        json_key(w, "group");
        if (has_group)
                json_unsigned(w, group);
        else
                json_null(w);
        json_kv_bool(w, "boot_vga", d->boot_vga);
        json_kv_bool(w, "is_bridge", d->is_bridge);
        json_key(w, "reset_methods");
        json_begin_array(w);
        for (const char * const *i = d->reset_methods; i && *i; i++)
                json_string(w, *i);
        json_end_array(w);
        json_kv_string(w, "power_state", d->power_state);
        json_key(w, "slot");
        json_addresses(w, m, d->slot);

        json_key(w, "gpu");
        if (d->is_gpu) {
                json_begin_object(w);
                json_kv_string(w, "state", d->gpu_state);
                json_kv_string(w, "domain", d->gpu_domain);
                json_key(w, "companions");
                json_addresses(w, m, d->companions);
                json_kv_bool(w, "primary", d->primary);
                json_kv_string(w, "step", d->gpu_step);
                json_end_object(w);
        } else
                json_null(w);

        if (with_group_viable) {
                json_key(w, "group_viable");
                if (d->group)
                        json_bool(w, d->group->viable);
                else
                        json_null(w);
        }
        json_end_object(w);
}

static void json_group(JsonWriter *w, const Model *m, const Group *g) {
        json_begin_object(w);
        json_kv_unsigned(w, "number", g->number);
        json_kv_bool(w, "viable", g->viable);
        json_kv_string(w, "owner", g->owner);
        json_kv_string(w, "domain", g->domain);
        json_key(w, "blockers");
        json_begin_array(w);
        for (size_t i = 0; i < g->n_blockers; i++) {
                json_begin_object(w);
                json_kv_string(w, "address", g->blockers[i].address);
                json_kv_string(w, "reason", g->blockers[i].reason);
                json_end_object(w);
        }
        json_end_array(w);
        json_key(w, "devices");
        json_begin_array(w);
        for (const char * const *p = g->devices; p && *p; p++) {
                const Device *d = model_device_by_path(m, *p);

                if (d)
                        json_device(w, m, d, false);
                else
                        log_debug("Group %" PRIu32 " lists unknown device %s, skipping.", g->number, *p);
        }
        json_end_array(w);
        json_end_object(w);
}

static void json_iommu(JsonWriter *w, const Model *m) {
        json_key(w, "iommu");
        json_begin_object(w);
        json_kv_bool(w, "enabled", m->manager.iommu_enabled);
        json_kv_string(w, "driver", m->manager.iommu_driver);
        json_end_object(w);
}

static void json_findings(JsonWriter *w, const Findings *f) {
        json_key(w, "findings");
        json_begin_array(w);
        for (size_t i = 0; i < f->n; i++) {
                json_begin_object(w);
                json_kv_string(w, "severity", f->items[i].severity);
                json_kv_string(w, "id", f->items[i].id);
                json_kv_string(w, "advice", f->items[i].advice);
                json_end_object(w);
        }
        json_end_array(w);
}

/* ---- fetching ---------------------------------------------------------------------------- */

static int acquire_model(sd_bus *bus, Model *ret) {
        return model_acquire(bus, arg_json, ret);
}

static int acquire_findings(sd_bus *bus, Findings *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = bus_call(bus, PASSTHRU_MANAGER_INTERFACE, "Diagnose", &reply, NULL);
        if (r < 0)
                return r;

        r = findings_parse(reply, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of Diagnose(): %m");

        if (!arg_json) {
                r = findings_make_printable(ret);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

/* Reads the object path GetDevice()/GetGroup() return. */
static int reply_read_path(sd_bus_message *reply, const char *method, char **ret) {
        const char *path;
        int r;

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of %s(): %m", method);

        *ret = strdup(path);
        return *ret ? 0 : log_oom();
}

/* ---- human output -------------------------------------------------------------------------- */

static Table *device_table_new(void) {
        static const char * const header[] = { "ADDRESS", "CLASS", "DRIVER", "NOTE", "DEVICE" };
        Table *t;

        t = table_new(ELEMENTSOF(header));
        if (!t)
                return NULL;
        if (table_set_header(t, header) < 0)
                return table_free(t);
        table_set_indent(t, 2);
        return t;
}

static int device_table_add(Table *t, const Device *d) {
        _cleanup_free_ char *class = NULL, *driver = NULL, *description = NULL;
        const char *note, *note_color = NULL;

        class = device_class(d);
        driver = device_driver(d);
        description = device_description(d, true);
        if (!class || !driver || !description)
                return -ENOMEM;

        if (d->is_bridge) {
                note = "bridge";
                note_color = ANSI_GREY;
        } else if (d->boot_vga) {
                note = "boot VGA";
                note_color = ANSI_YELLOW;
        } else
                note = NULL;

        return table_add_row(t,
                             (const char *[]) { address_short(d->address), class, driver, note, description },
                             (const char *[]) { NULL, NULL, NULL, note_color, NULL });
}

static int group_table_add(Table *t, const Model *m, const Group *g) {
        _cleanup_free_ char *verdict = NULL;
        int r;

        verdict = group_verdict(g);
        if (!verdict)
                return -ENOMEM;

        r = table_add_line(t, "%sGroup %" PRIu32 "%s: %s", ansi(ANSI_HIGHLIGHT), g->number, ansi_normal(), verdict);
        if (r < 0)
                return r;

        for (const char * const *p = g->devices; p && *p; p++) {
                const Device *d = model_device_by_path(m, *p);

                if (!d)
                        continue;
                r = device_table_add(t, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void print_iommu(const Model *m) {
        if (m->manager.iommu_enabled)
                print_kv("IOMMU", "%senabled%s (%s)", ansi(ANSI_GREEN), ansi_normal(), dash(m->manager.iommu_driver));
        else
                print_kv("IOMMU", "%sdisabled%s", ansi(ANSI_RED), ansi_normal());
}

static const char *severity_color(const char *severity) {
        if (streq(severity, "error"))
                return ANSI_RED;
        if (streq(severity, "warning"))
                return ANSI_YELLOW;
        return NULL;
}

/* "1 error, 2 warnings, 4 infos", coloured where not zero. */
static void print_counts(size_t errors, size_t warnings, size_t infos) {
        print_kv("Diagnosis", "%s%zu error%s%s, %s%zu warning%s%s, %zu info%s",
                 errors > 0 ? ansi(ANSI_RED) : "", errors, errors == 1 ? "" : "s", errors > 0 ? ansi_normal() : "",
                 warnings > 0 ? ansi(ANSI_YELLOW) : "", warnings, warnings == 1 ? "" : "s", warnings > 0 ? ansi_normal() : "",
                 infos, infos == 1 ? "" : "s");
}

/* ---- verbs --------------------------------------------------------------------------------- */

static int verb_status(sd_bus *bus, _unused_ char **args) {
        _cleanup_(model_done) Model m = {};
        _cleanup_(findings_done) Findings f = {};
        size_t errors = 0, warnings = 0, infos = 0, viable = 0, n_gpus = 0;
        int r;

        r = acquire_model(bus, &m);
        if (r < 0)
                return r;
        r = acquire_findings(bus, &f);
        if (r < 0)
                return r;

        for (size_t i = 0; i < f.n; i++) {
                if (streq(f.items[i].severity, "error"))
                        errors++;
                else if (streq(f.items[i].severity, "warning"))
                        warnings++;
                else
                        infos++;
        }

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_begin_object(&w);
                json_kv_string(&w, "version", m.manager.version);
                json_iommu(&w, &m);
                json_key(&w, "counts");
                json_begin_object(&w);
                json_kv_unsigned(&w, "groups", m.n_groups);
                json_kv_unsigned(&w, "devices", m.n_devices);
                json_end_object(&w);
                json_key(&w, "diagnosis");
                json_begin_object(&w);
                json_kv_unsigned(&w, "errors", errors);
                json_kv_unsigned(&w, "warnings", warnings);
                json_kv_unsigned(&w, "infos", infos);
                json_findings(&w, &f);
                json_end_object(&w);
                json_key(&w, "gpus");
                json_begin_array(&w);
                for (size_t i = 0; i < m.n_devices; i++)
                        if (m.devices_by_address[i]->is_gpu)
                                json_device(&w, &m, m.devices_by_address[i], true);
                json_end_array(&w);
                json_end_object(&w);
                return output_json(&w);
        }

        for (size_t i = 0; i < m.n_groups; i++)
                if (m.groups[i].viable)
                        viable++;

        print_kv("Version", "%s", dash(m.manager.version));
        print_iommu(&m);
        print_kv("Groups", "%zu (%zu viable)", m.n_groups, viable);
        print_kv("Devices", "%zu", m.n_devices);
        print_counts(errors, warnings, infos);
        for (size_t i = 0; i < f.n; i++) {
                const Finding *x = f.items + i;
                const char *color = severity_color(x->severity);

                if (!color)
                        continue;
                print_kv(NULL, "%s%s%s %s: %s", ansi(color), x->severity, ansi_normal(), x->id, x->advice);
        }
        if (m.manager.n_reservations > 0)
                print_kv("Reserved", "%zu function%s for vfio-pci at boot (see 'passthructl reservations')",
                         m.manager.n_reservations, m.manager.n_reservations == 1 ? "" : "s");

        for (size_t i = 0; i < m.n_devices; i++) {
                const Device *d = m.devices_by_address[i];
                _cleanup_free_ char *description = NULL;
                uint32_t group;

                if (!d->is_gpu)
                        continue;
                n_gpus++;

                description = device_description(d, false);
                if (!description)
                        return log_oom();

                putchar('\n');
                print_kv("GPU", "%s%s%s %s", ansi(ANSI_HIGHLIGHT), address_short(d->address), ansi_normal(), description);

                if (d->group) {
                        _cleanup_free_ char *verdict = group_verdict(d->group);

                        if (!verdict)
                                return log_oom();
                        print_kv("Group", "%" PRIu32 ", %s", d->group->number, verdict);
                } else if (device_group_number(d, &group))
                        print_kv("Group", "%" PRIu32, group);
                else
                        print_kv("Group", "%snone%s (the IOMMU is off: nothing can be passed through)",
                                 ansi(ANSI_RED), ansi_normal());

                if (!isempty(d->host_driver) && !streq_ptr(d->driver, d->host_driver))
                        print_kv("Driver", "%s (host driver %s)", dash(d->driver), d->host_driver);
                else
                        print_kv("Driver", "%s", dash(d->driver));
                print_kv("State", "%s%s%s", dash(d->gpu_state),
                         isempty(d->gpu_domain) ? "" : ", domain ", strempty(d->gpu_domain));
                if (!isempty(d->gpu_step))
                        print_kv("Step", "%s", d->gpu_step);
                if (d->primary)
                        print_kv("Primary", "%syes%s (boot VGA on a host driver: it drives the host's console or desktop)",
                                 ansi(ANSI_YELLOW), ansi_normal());
                else
                        print_kv("Primary", "no");

                if (strlist_length(d->companions) == 0)
                        print_kv("Companions", "none");
                for (const char * const *p = d->companions; p && *p; p++) {
                        const Device *c = model_device_by_path(&m, *p);
                        _cleanup_free_ char *cd = NULL, *cc = NULL;
                        char buf[13];

                        if (!c) {
                                print_kv(p == d->companions ? "Companions" : NULL, "%s",
                                         address_short(model_address_of(&m, *p, buf)));
                                continue;
                        }
                        cd = device_description(c, false);
                        cc = device_class(c);
                        if (!cd || !cc)
                                return log_oom();
                        print_kv(p == d->companions ? "Companions" : NULL, "%s %s %s, driver %s",
                                 address_short(c->address), cc, cd, dash(c->driver));
                }
        }
        if (n_gpus == 0)
                printf("\nNo GPU (display-class PCI function) found.\n");

        return flush_stdout();
}

static int verb_list(sd_bus *bus, _unused_ char **args) {
        _cleanup_(model_done) Model m = {};
        _cleanup_(table_freep) Table *t = NULL;
        size_t viable = 0, ungrouped = 0;
        int r;

        r = acquire_model(bus, &m);
        if (r < 0)
                return r;

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_begin_object(&w);
                json_iommu(&w, &m);
                json_key(&w, "groups");
                json_begin_array(&w);
                for (size_t i = 0; i < m.n_groups; i++)
                        json_group(&w, &m, m.groups + i);
                json_end_array(&w);
                json_key(&w, "ungrouped");
                json_begin_array(&w);
                for (size_t i = 0; i < m.n_devices; i++)
                        if (!m.devices_by_address[i]->group)
                                json_device(&w, &m, m.devices_by_address[i], false);
                json_end_array(&w);
                json_end_object(&w);
                return output_json(&w);
        }

        t = device_table_new();
        if (!t)
                return log_oom();

        for (size_t i = 0; i < m.n_groups; i++) {
                if (m.groups[i].viable)
                        viable++;
                r = group_table_add(t, &m, m.groups + i);
                if (r < 0)
                        return log_oom();
        }

        for (size_t i = 0; i < m.n_devices; i++) {
                const Device *d = m.devices_by_address[i];

                if (d->group)
                        continue;
                if (ungrouped++ == 0) {
                        r = table_add_line(t, "%sNo IOMMU group%s: cannot be passed through",
                                           ansi(ANSI_YELLOW), ansi_normal());
                        if (r < 0)
                                return log_oom();
                }
                r = device_table_add(t, d);
                if (r < 0)
                        return log_oom();
        }

        if (m.n_devices > 0) {
                r = table_print(t, stdout);
                if (r < 0)
                        return log_error_errno(r, "Failed to write to standard output: %m");
                putchar('\n');
        }

        if (m.manager.iommu_enabled)
                printf("%zu IOMMU group%s (%s%zu viable%s), %zu PCI function%s; IOMMU %senabled%s (%s).\n",
                       m.n_groups, m.n_groups == 1 ? "" : "s",
                       ansi(ANSI_GREEN), viable, ansi_normal(),
                       m.n_devices, m.n_devices == 1 ? "" : "s",
                       ansi(ANSI_GREEN), ansi_normal(), dash(m.manager.iommu_driver));
        else
                printf("%zu PCI function%s; IOMMU %sdisabled%s: nothing can be passed through.\n",
                       m.n_devices, m.n_devices == 1 ? "" : "s", ansi(ANSI_RED), ansi_normal());

        return flush_stdout();
}

static int show_device(sd_bus *bus, const char *address) {
        _cleanup_(model_done) Model m = {};
        _cleanup_free_ char *path = NULL, *class = NULL;
        const Device *d;
        uint32_t group;
        int r;

        r = bus_get_device(bus, address, &path, NULL);
        if (r < 0)
                return r;

        r = acquire_model(bus, &m);
        if (r < 0)
                return r;

        d = model_device_by_path(&m, path);
        if (!d)
                return log_error_errno(-ENXIO, "The device %s (%s) went away.", address, path);

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_device(&w, &m, d, false);
                return output_json(&w);
        }

        print_kv("Address", "%s%s%s", ansi(ANSI_HIGHLIGHT), d->address, ansi_normal());
        print_kv("Vendor", "%s%s[%04x]", strempty(d->vendor_name), isempty(d->vendor_name) ? "" : " ", d->vendor_id);
        print_kv("Product", "%s%s[%04x]", strempty(d->product_name), isempty(d->product_name) ? "" : " ", d->product_id);
        print_kv("Subsystem", "[%04x:%04x]", d->subsystem_vendor_id, d->subsystem_id);
        class = device_class(d);
        if (!class)
                return log_oom();
        print_kv("Class", "%s%s[%06x]", strempty(d->class_name), isempty(d->class_name) ? "" : " ", d->class & 0xFFFFFFu);
        print_kv("Revision", "%02x", d->revision);
        print_kv("Driver", "%s", dash(d->driver));
        print_kv("Host driver", "%s", dash(d->host_driver));
        if (d->group) {
                _cleanup_free_ char *verdict = group_verdict(d->group);

                if (!verdict)
                        return log_oom();
                print_kv("IOMMU group", "%" PRIu32 ", %s", d->group->number, verdict);
        } else if (device_group_number(d, &group))
                print_kv("IOMMU group", "%" PRIu32, group);
        else
                print_kv("IOMMU group", "none");
        print_kv("Boot VGA", "%s", yes_no(d->boot_vga));
        print_kv("Bridge", "%s", d->is_bridge ? "yes (never assigned, never blocks its group)" : "no");
        if (strlist_length(d->reset_methods) == 0)
                print_kv("Reset methods", "none");
        else {
                printf("%*s:", KEY_WIDTH, "Reset methods");
                for (const char * const *i = d->reset_methods; *i; i++)
                        printf(" %s", *i);
                putchar('\n');
        }
        print_kv("Power state", "%s", dash(d->power_state));
        printf("%*s:", KEY_WIDTH, "Slot");
        for (const char * const *p = d->slot; p && *p; p++) {
                char buf[13];

                printf(" %s", address_short(model_address_of(&m, *p, buf)));
        }
        putchar('\n');

        if (d->is_gpu) {
                print_kv("GPU state", "%s", dash(d->gpu_state));
                print_kv("GPU domain", "%s", dash(d->gpu_domain));
                print_kv("GPU primary", "%s", yes_no(d->primary));
                printf("%*s:", KEY_WIDTH, "Companions");
                if (strlist_length(d->companions) == 0)
                        printf(" none");
                for (const char * const *p = d->companions; p && *p; p++) {
                        char buf[13];

                        printf(" %s", address_short(model_address_of(&m, *p, buf)));
                }
                putchar('\n');
                print_kv("GPU step", "%s", dash(d->gpu_step));
        }

        return flush_stdout();
}

static int show_group(sd_bus *bus, uint32_t number) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(model_done) Model m = {};
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *path = NULL;
        const Group *g;
        int r;

        r = bus_call(bus, PASSTHRU_MANAGER_INTERFACE, "GetGroup", &reply, "u", number);
        if (r < 0)
                return r;
        r = reply_read_path(reply, "GetGroup", &path);
        if (r < 0)
                return r;

        r = acquire_model(bus, &m);
        if (r < 0)
                return r;

        g = model_group_by_path(&m, path);
        if (!g)
                return log_error_errno(-ENXIO, "IOMMU group %" PRIu32 " (%s) went away.", number, path);

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_group(&w, &m, g);
                return output_json(&w);
        }

        print_kv("IOMMU group", "%s%" PRIu32 "%s", ansi(ANSI_HIGHLIGHT), g->number, ansi_normal());
        if (g->viable)
                print_kv("Viable", "%syes%s", ansi(ANSI_GREEN), ansi_normal());
        else
                print_kv("Viable", "%sno%s", ansi(ANSI_RED), ansi_normal());
        if (g->n_blockers == 0)
                print_kv("Blockers", "none");
        for (size_t i = 0; i < g->n_blockers; i++)
                print_kv(i == 0 ? "Blockers" : NULL, "%s %s",
                         address_short(g->blockers[i].address), g->blockers[i].reason);
        print_kv("Owner", "%s", dash(g->owner));
        print_kv("Domain", "%s", dash(g->domain));
        print_kv("Devices", "%zu", strlist_length(g->devices));

        t = device_table_new();
        if (!t)
                return log_oom();
        for (const char * const *p = g->devices; p && *p; p++) {
                const Device *d = model_device_by_path(&m, *p);

                if (!d)
                        continue;
                r = device_table_add(t, d);
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0) {
                putchar('\n');
                r = table_print(t, stdout);
                if (r < 0)
                        return log_error_errno(r, "Failed to write to standard output: %m");
        }

        return flush_stdout();
}

static int verb_show(sd_bus *bus, char **args) {
        uint32_t number;

        if (streq(args[0], "group")) {
                /* Checked by verify_show_args() already. */
                if (safe_atou32(args[1], &number) < 0)
                        return -EINVAL;
                return show_group(bus, number);
        }

        return show_device(bus, args[0]);
}

static int verb_diagnose(sd_bus *bus, _unused_ char **args) {
        _cleanup_(findings_done) Findings f = {};
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = acquire_findings(bus, &f);
        if (r < 0)
                return r;

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_begin_object(&w);
                json_findings(&w, &f);
                json_end_object(&w);
                return output_json(&w);
        }

        if (f.n == 0) {
                printf("No findings.\n");
                return flush_stdout();
        }

        t = table_new(3);
        if (!t)
                return log_oom();
        r = table_set_header(t, (const char *[]) { "SEVERITY", "ID", "ADVICE" });
        if (r < 0)
                return log_oom();

        for (size_t i = 0; i < f.n; i++) {
                r = table_add_row(t,
                                  (const char *[]) { f.items[i].severity, f.items[i].id, f.items[i].advice },
                                  (const char *[]) { severity_color(f.items[i].severity), NULL, NULL });
                if (r < 0)
                        return log_oom();
        }

        r = table_print(t, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return flush_stdout();
}

static int verb_monitor(sd_bus *bus, _unused_ char **args) {
        /* One JSON object per line: --json=pretty makes no sense here. */
        return run_monitor(bus, arg_json);
}

static int verb_rescan(sd_bus *bus, _unused_ char **args) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_strv_free_ char **added = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, PASSTHRU_SERVICE, PASSTHRU_PATH,
                                           PASSTHRU_MANAGER_INTERFACE, "Rescan");
        if (r < 0)
                return log_error_errno(r, "Failed to create the Rescan() call: %m");
        /* polkit may ask for a password (unless --no-ask-password): wait for a person. */
        r = bus_call_message(bus, call, UINT64_C(300) * 1000 * 1000, arg_ask_password, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &added);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of Rescan(): %m");

        if (arg_json) {
                _cleanup_(json_done) JsonWriter w;

                json_init_stream(&w, arg_json_pretty, stdout);
                json_begin_object(&w);
                json_key(&w, "added");
                json_begin_array(&w);
                for (char **a = added; a && *a; a++)
                        json_string(&w, *a);
                json_end_array(&w);
                json_end_object(&w);
                return output_json(&w);
        }

        if (!added || !added[0])
                printf("The PCI rescan found no new functions.\n");
        else
                for (char **a = added; *a; a++)
                        printf("Found %s\n", *a);
        return flush_stdout();
}

/* ADDRESS through GetDevice() (the daemon validates it), "group N" through GetGroup(). */
static int verb_assign(sd_bus *bus, char **args, AssignAction action) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *name = NULL;
        AssignTarget target = {};
        uint32_t number;
        int r;

        if (streq(args[0], "group")) {
                /* Checked by verify_args() already. */
                if (safe_atou32(args[1], &number) < 0)
                        return -EINVAL;

                r = bus_call(bus, PASSTHRU_MANAGER_INTERFACE, "GetGroup", &reply, "u", number);
                if (r < 0)
                        return r;
                r = reply_read_path(reply, "GetGroup", &path);
                if (r < 0)
                        return r;

                if (asprintf(&name, "group %" PRIu32, number) < 0)
                        return log_oom();
                target.is_group = true;
        } else {
                r = bus_get_device(bus, args[0], &path, &name);
                if (r < 0)
                        return r;
        }

        target.path = path;
        target.name = name;

        return run_assign(bus, action, &target,
                          &(const AssignOptions) {
                                  .dry_run = arg_dry_run,
                                  .override = arg_override,
                                  .ask_password = arg_ask_password,
                                  .json = arg_json,
                                  .json_pretty = arg_json_pretty,
                          });
}

static int verb_detach(sd_bus *bus, char **args) {
        return verb_assign(bus, args, ASSIGN_DETACH);
}

static int verb_reattach(sd_bus *bus, char **args) {
        return verb_assign(bus, args, ASSIGN_REATTACH);
}

static HandoffOptions handoff_options(void) {
        return (HandoffOptions) {
                .dry_run = arg_dry_run,
                .stop_display_manager = arg_stop_display_manager,
                .no_start = arg_no_start,
                .ask_password = arg_ask_password,
                .json = arg_json,
                .json_pretty = arg_json_pretty,
        };
}

/* GPU [DOMAIN]: the domain defaults to "", "detach only". */
static int verb_handoff(sd_bus *bus, char **args) {
        HandoffOptions o = handoff_options();

        return run_handoff(bus, args[0], args[1] ?: "", &o);
}

static int verb_return(sd_bus *bus, char **args) {
        HandoffOptions o = handoff_options();

        return run_return(bus, args[0], &o);
}

static int verb_consumers(sd_bus *bus, char **args) {
        HandoffOptions o = handoff_options();

        return run_consumers(bus, args[0], &o);
}

static int verb_start(sd_bus *bus, char **args) {
        HandoffOptions o = handoff_options();

        return run_start(bus, args[0], &o);
}

static int verb_guests(sd_bus *bus, _unused_ char **args) {
        HandoffOptions o = handoff_options();

        return run_guests(bus, &o);
}

/* Reached only with options before the command (libvirt runs "passthructl libvirt-hook …",
 * which main() hands over unparsed); verify_args() refused any that matters. */
static int verb_libvirt_hook(_unused_ sd_bus *bus, char **args) {
        return run_libvirt_hook(args, strv_length(args)) == 0 ? 0 : -EIO;
}

static ReserveOptions reserve_options(void) {
        return (ReserveOptions) {
                .override = arg_override,
                .ask_password = arg_ask_password,
                .json = arg_json,
                .json_pretty = arg_json_pretty,
        };
}

static int verb_reserve(sd_bus *bus, char **args) {
        ReserveOptions o = reserve_options();

        /* The daemon parses and validates the address; we pass it on verbatim. */
        return run_reserve(bus, args[0], &o);
}

static int verb_unreserve(sd_bus *bus, char **args) {
        ReserveOptions o = reserve_options();

        return run_unreserve(bus, args[0], &o);
}

static int verb_reservations(sd_bus *bus, _unused_ char **args) {
        ReserveOptions o = reserve_options();

        return run_reservations(bus, &o);
}

/* ---- command line ------------------------------------------------------------------------ */

static int help(void) {
        printf("%1$s [OPTIONS...] [COMMAND] [ARGS...]\n"
               "\n"
               "Query passthrud, the PCI passthrough service (org.passthru1 on the system bus),\n"
               "about the host's IOMMU, its IOMMU groups, PCI functions and GPUs, and give\n"
               "devices to vfio-pci and back.\n"
               "\n"
               "Commands:\n"
               "  status               Show the IOMMU, a diagnosis summary and every GPU with\n"
               "                       its group, driver and state (the default)\n"
               "  list                 List the IOMMU groups with their devices and whether each\n"
               "                       group is viable for passthrough, and why not\n"
               "  show ADDRESS         Show every property of one PCI function; ADDRESS is\n"
               "                       DDDD:BB:SS.F, BB:SS.F or pci_DDDD_BB_SS_F\n"
               "  show group N         Show IOMMU group N and its devices\n"
               "  diagnose             Show every finding about the host's passthrough setup:\n"
               "                       severity, id and advice\n"
               "  monitor              Print a line per device, group or IOMMU change as it\n"
               "                       happens, until interrupted\n"
               "  rescan               Ask the kernel to rescan the PCI buses (brings back removed\n"
               "                       functions); needs authorization (polkit action\n"
               "                       org.passthru1.device.assign), prints what appeared\n"
               "  detach ADDRESS       Give one PCI function to vfio-pci, showing each step\n"
               "  detach group N       Give every endpoint of IOMMU group N to vfio-pci (bridges\n"
               "                       stay with the host)\n"
               "  reattach ADDRESS     Give one PCI function back to its host driver\n"
               "  reattach group N     Give every endpoint of IOMMU group N back to its host\n"
               "                       driver; detach and reattach need authorization (polkit\n"
               "                       action org.passthru1.device.assign)\n"
               "  reserve ADDRESS      Give one PCI function to vfio-pci early at every boot,\n"
               "                       from the next one on; changes nothing now (detach does)\n"
               "  unreserve ADDRESS    Remove the reservation of a function; changes nothing now\n"
               "                       (reattach does); reserve and unreserve need\n"
               "                       authorization (polkit action org.passthru1.configure)\n"
               "  reservations         List the functions reserved for vfio-pci at boot, and\n"
               "                       the driver each has now\n"
               "  handoff GPU [DOMAIN]\n"
               "                       Release the host's hold on a GPU (consoles, frame\n"
               "                       buffer, its driver's modules) and give it with its\n"
               "                       companions to vfio-pci, for the libvirt domain DOMAIN,\n"
               "                       then start DOMAIN (none: detach only), showing each step\n"
               "  return GPU           Undo the handoff of GPU exactly: drivers, modules,\n"
               "                       frame buffer, consoles back; handoff and return need\n"
               "                       authorization (polkit action org.passthru1.gpu.handoff)\n"
               "  consumers GPU        List the processes holding the device nodes of GPU and\n"
               "                       its companions (they make a handoff fail)\n"
               "  start DOMAIN         Hand the GPU that the libvirt domain DOMAIN lists among\n"
               "                       its PCI host devices off as handoff does, then start\n"
               "                       DOMAIN; same authorization as handoff\n"
               "  guests               List the libvirt domains holding handed-off devices, with\n"
               "                       their state and devices\n"
               "  libvirt-hook GUEST OPERATION SUB-OPERATION EXTRA\n"
               "                       libvirt's qemu hook (installed as qemu.d/passthru): hand\n"
               "                       the GPU among the guest's PCI host devices off on\n"
               "                       \"prepare begin\" (domain XML on standard input), return\n"
               "                       it on \"release end\"\n"
               "  help                 Show this help\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "     --json[=MODE]     Print JSON: MODE is \"short\" (one line, the default) or\n"
               "                       \"pretty\"; monitor prints one object per line\n"
               "     --color=WHEN      Colour the output: \"auto\" (the default: when standard\n"
               "                       output is a terminal), \"always\" or \"never\"\n"
               "     --no-color        Same as --color=never\n"
               "     --dry-run         detach, reattach, handoff, return, start: print the steps\n"
               "                       that would be done (handoff, start: and the consumers),\n"
               "                       change nothing\n"
               "     --override        detach, reattach, reserve: proceed although the host\n"
               "                       needs the device (boot VGA of a live session, root\n"
               "                       disk controller, ...); also needs org.passthru1.override\n"
               "     --no-ask-password Do not ask for a password: fail when polkit would need\n"
               "                       one (no polkit agent is started)\n"
               "     --stop-display-manager\n"
               "                       handoff, start: when the GPU drives the host's desktop,\n"
               "                       stop display-manager.service first (return starts it\n"
               "                       again)\n"
               "     --no-start        handoff with a DOMAIN: hand the GPU off without starting\n"
               "                       the domain\n"
               "\n"
               "Exit status:\n"
               "  0                    Success\n"
               "  1                    Failure: passthrud returned an error, is not running, or\n"
               "                       the system bus cannot be reached\n"
               "  2                    Usage error: unknown command or option, missing or extra\n"
               "                       arguments\n"
               "\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS\n"
               "                       Address of the system bus (default\n"
               "                       unix:path=/run/dbus/system_bus_socket)\n"
               "  NO_COLOR             Set and not empty: no colours unless --color=always\n"
               "  TERM                 Unset or \"dumb\": no colours unless --color=always\n"
               "\n"
               "Examples:\n"
               "  %1$s                       Overview: IOMMU, problems, GPUs\n"
               "  %1$s list                  Every group, and which can be passed through\n"
               "  %1$s show 26:00.0          One PCI function in detail\n"
               "  %1$s show group 16         One IOMMU group\n"
               "  %1$s diagnose              What to fix before passing a GPU through\n"
               "  %1$s list --json | jq '.groups[] | select(.viable) | .number'\n"
               "  %1$s monitor --json        Follow changes, one JSON object per line\n"
               "  %1$s detach group 16 --dry-run\n"
               "                                    What giving group 16 to vfio-pci would do\n"
               "  %1$s detach group 16       Give group 16 to vfio-pci\n"
               "  %1$s reattach 26:00.1      Give one function back to its host driver\n"
               "  %1$s reserve 26:00.0       Give 26:00.0 to vfio-pci at every boot\n"
               "  %1$s reservations          What is given to vfio-pci at boot\n"
               "  %1$s handoff 26:00.0 win10 --dry-run\n"
               "                                    What handing the GPU to win10 would do\n"
               "  %1$s handoff 26:00.0 win10\n"
               "                                    Hand the GPU at 26:00.0 to win10, start win10\n"
               "  %1$s return 26:00.0        Give it back to the host\n"
               "  %1$s start win10           Hand win10's GPU off and start win10\n"
               "  %1$s guests                Which domains hold handed-off devices\n"
               "\n"
               "See passthructl(1); the JSON output is described in passthructl.md.\n",
               program_invocation_short_name);

        return flush_stdout();
}

static int verb_help(_unused_ sd_bus *bus, _unused_ char **args) {
        return help();
}

typedef struct Verb {
        const char *name;
        size_t min_args, max_args;
        bool needs_bus;
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        { "status",       0, 0, true,  verb_status       },
        { "list",         0, 0, true,  verb_list         },
        { "show",         1, 2, true,  verb_show         },
        { "diagnose",     0, 0, true,  verb_diagnose     },
        { "monitor",      0, 0, true,  verb_monitor      },
        { "rescan",       0, 0, true,  verb_rescan       },
        { "detach",       1, 2, true,  verb_detach       },
        { "reattach",     1, 2, true,  verb_reattach     },
        { "reserve",      1, 1, true,  verb_reserve      },
        { "unreserve",    1, 1, true,  verb_unreserve    },
        { "reservations", 0, 0, true,  verb_reservations },
        { "handoff",      1, 2, true,  verb_handoff      },
        { "return",       1, 1, true,  verb_return       },
        { "consumers",    1, 1, true,  verb_consumers    },
        { "start",        1, 1, true,  verb_start        },
        { "guests",       0, 0, true,  verb_guests       },
        { "libvirt-hook", 3, SIZE_MAX, false, verb_libvirt_hook },
        { "help",         0, 0, false, verb_help         },
};

static int verify_args(const Verb *v, char **args, size_t n) {
        bool assign = streq(v->name, "detach") || streq(v->name, "reattach");
        bool reserve = streq(v->name, "reserve") || streq(v->name, "unreserve");
        bool handoff = streq(v->name, "handoff") || streq(v->name, "return");
        bool gpu = handoff || streq(v->name, "consumers");
        bool start = streq(v->name, "start");
        uint32_t number;

        /* libvirt passes its arguments and nothing else. */
        if (streq(v->name, "libvirt-hook") &&
            (arg_json || arg_dry_run || arg_override || arg_stop_display_manager || arg_no_start || !arg_ask_password))
                return log_usage("'libvirt-hook' takes no options: libvirt runs it as "
                                 "'passthructl libvirt-hook GUEST OPERATION SUB-OPERATION EXTRA'.");

        /* Ignoring them would do for real what was meant as a trial, or without the
         * override (or the display manager's stop) asked for, or start what was not to be. */
        if (arg_dry_run && !assign && !handoff && !start)
                return log_usage("Option '--dry-run' is only for 'detach', 'reattach', 'handoff', 'return' and 'start'.");
        if (arg_override && !assign && !streq(v->name, "reserve"))
                return log_usage("Option '--override' is only for 'detach', 'reattach' and 'reserve'.");
        if (arg_stop_display_manager && !streq(v->name, "handoff") && !start)
                return log_usage("Option '--stop-display-manager' is only for 'handoff' and 'start'.");
        if (arg_no_start && !streq(v->name, "handoff"))
                return log_usage("Option '--no-start' is only for 'handoff'.");
        if (arg_no_start && (n == 1 || (n == 2 && isempty(args[1]))))
                return log_usage("Option '--no-start' needs a DOMAIN: 'handoff' without one starts nothing.");

        /* A reservation is of one function: its address, never a group's number. */
        if (reserve && n > 0 && streq(args[0], "group"))
                return log_usage("'%s' takes the ADDRESS of one function, not a group: %s each function "
                                 "of the group ('passthructl show group N' lists them).", v->name, v->name);
        /* A handoff is of a GPU; its group comes along. */
        if (gpu && n > 0 && streq(args[0], "group"))
                return log_usage("'%s' takes the ADDRESS of a GPU, not a group: the GPU's companions "
                                 "come along ('passthructl status' lists the GPUs).", v->name);

        if (n < v->min_args) {
                if (assign)
                        return log_usage("'%s' needs an ADDRESS, or 'group N'.", v->name);
                if (reserve)
                        return log_usage("'%s' needs an ADDRESS.", v->name);
                if (gpu)
                        return log_usage("'%s' needs the ADDRESS of a GPU.", v->name);
                if (start)
                        return log_usage("'start' needs the name (or UUID) of a libvirt DOMAIN.");
                if (streq(v->name, "libvirt-hook"))
                        return log_usage("'libvirt-hook' needs the arguments libvirt passes to its qemu hook: "
                                         "GUEST OPERATION SUB-OPERATION [EXTRA].");
                return log_usage("Too few arguments for '%s'.", v->name);
        }
        if (n > v->max_args) {
                if (reserve)
                        return log_usage("Too many arguments for '%s': one ADDRESS at a time.", v->name);
                if (streq(v->name, "handoff"))
                        return log_usage("Too many arguments for 'handoff': a GPU's ADDRESS and "
                                         "at most one DOMAIN.");
                if (gpu)
                        return log_usage("Too many arguments for '%s': one GPU's ADDRESS.", v->name);
                if (start)
                        return log_usage("Too many arguments for 'start': one DOMAIN.");
                return log_usage("Too many arguments for '%s'.", v->name);
        }

        /* ADDRESS, or "group N". */
        if (streq(v->name, "show") || assign) {
                if (streq(args[0], "group")) {
                        if (n < 2)
                                return log_usage("'%s group' needs an IOMMU group number.", v->name);
                        if (safe_atou32(args[1], &number) < 0)
                                return log_usage("Invalid IOMMU group number '%s'.", args[1]);
                } else if (n > 1)
                        return log_usage("Too many arguments for '%s': one ADDRESS, or 'group N'.", v->name);
        }

        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (--help, --version), < 0 on usage errors. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_COLOR,
                ARG_NO_COLOR,
                ARG_DRY_RUN,
                ARG_OVERRIDE,
                ARG_NO_ASK_PASSWORD,
                ARG_STOP_DISPLAY_MANAGER,
                ARG_NO_START,
        };
        static const struct option options[] = {
                { "help",                 no_argument,       NULL, 'h'                      },
                { "version",              no_argument,       NULL, ARG_VERSION              },
                { "json",                 optional_argument, NULL, ARG_JSON                 },
                { "color",                required_argument, NULL, ARG_COLOR                },
                { "colour",               required_argument, NULL, ARG_COLOR                },
                { "no-color",             no_argument,       NULL, ARG_NO_COLOR             },
                { "dry-run",              no_argument,       NULL, ARG_DRY_RUN              },
                { "override",             no_argument,       NULL, ARG_OVERRIDE             },
                { "no-ask-password",      no_argument,       NULL, ARG_NO_ASK_PASSWORD      },
                { "stop-display-manager", no_argument,       NULL, ARG_STOP_DISPLAY_MANAGER },
                { "no-start",             no_argument,       NULL, ARG_NO_START             },
                {}
        };
        int c, r;

        /* We word the errors ourselves: ':' makes getopt_long() tell missing arguments
         * apart, and opterr = 0 keeps it quiet. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {

                case 'h':
                        r = help();
                        return r < 0 ? r : 0;

                case ARG_VERSION:
                        printf("passthructl %s\n", PACKAGE_VERSION);
                        r = flush_stdout();
                        return r < 0 ? r : 0;

                case ARG_JSON:
                        if (!optarg || streq(optarg, "short"))
                                arg_json_pretty = false;
                        else if (streq(optarg, "pretty"))
                                arg_json_pretty = true;
                        else
                                return log_usage("Unknown --json= mode '%s': expected 'short' or 'pretty'.", optarg);
                        arg_json = true;
                        break;

                case ARG_COLOR:
                        r = color_mode_from_string(optarg);
                        if (r < 0)
                                return log_usage("Unknown --color= value '%s': expected 'auto', 'always' or 'never'.", optarg);
                        arg_color = r;
                        break;

                case ARG_NO_COLOR:
                        arg_color = COLOR_NEVER;
                        break;

                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;

                case ARG_OVERRIDE:
                        arg_override = true;
                        break;

                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;

                case ARG_STOP_DISPLAY_MANAGER:
                        arg_stop_display_manager = true;
                        break;

                case ARG_NO_START:
                        arg_no_start = true;
                        break;

                case ':':
                        return log_usage("Option '%s' needs an argument.", argv[optind - 1]);

                case '?': {
                        const char *arg = argv[optind - 1];

                        if (startswith(arg, "--")) {
                                const char *eq = strchr(arg, '=');

                                if (eq && optopt != 0)
                                        return log_usage("Option '%.*s' takes no argument.", (int) (eq - arg), arg);
                                return log_usage("Unknown option '%s'.", arg);
                        }
                        return log_usage("Unknown option '-%c'.", optopt);
                }

                default:
                        return log_usage("Unhandled option.");
                }

        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        char **args;
        size_t n_args;
        int r;

        /* libvirt's hook protocol: libvirt's arguments verbatim, no option parsing (a guest's
         * name may begin with '-'), its own exit statuses. */
        if (argc >= 2 && streq(argv[1], "libvirt-hook"))
                return run_libvirt_hook(argv + 2, (size_t) (argc - 2));

        r = parse_argv(argc, argv);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
        if (r == 0)
                return EXIT_SUCCESS;

        if (optind < argc) {
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        if (streq(verbs[i].name, argv[optind])) {
                                verb = verbs + i;
                                break;
                        }
                if (!verb) {
                        (void) log_usage("Unknown command '%s'.", argv[optind]);
                        return EXIT_USAGE;
                }
                args = argv + optind + 1;
                n_args = (size_t) (argc - optind - 1);
        } else {
                verb = verbs; /* status */
                args = argv + argc;
                n_args = 0;
        }

        if (verify_args(verb, args, n_args) < 0)
                return EXIT_USAGE;

        colors_setup(arg_color);

        if (verb->needs_bus) {
                r = bus_connect_system(&bus);
                if (r < 0)
                        return EXIT_FAILURE;
        }

        r = verb->run(bus, args);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
