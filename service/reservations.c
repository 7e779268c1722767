/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reservations file (see reservations.h): parsing, formatting, atomic saving. Touches
 * only the configuration directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "iommu.h"
#include "log.h"
#include "reservations.h"
#include "util.h"

#define DESCRIPTION_MAX 200

void reservations_done(Reservations *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++)
                free(r->items[i].description);
        r->items = mfree(r->items);
        r->n = 0;
}

static size_t reservations_index(const Reservations *r, const PciAddress *a, bool *found) {
        size_t lo = 0, hi = r->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = pci_address_compare(&r->items[mid].address, a);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

const Reservation *reservations_find(const Reservations *r, const PciAddress *a) {
        bool found;
        size_t i = reservations_index(r, a, &found);
        return found ? &r->items[i] : NULL;
}

static char *description_clean(const char *s) {
        size_t n;
        char *d;

        while (s && (*s == ' ' || *s == '\t'))
                s++;
        if (isempty(s))
                return NULL;
        n = strnlen(s, DESCRIPTION_MAX);
        d = strndup(s, n);
        if (!d)
                return NULL;
        for (char *p = d; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';
        for (char *e = d + strlen(d); e > d && e[-1] == ' '; e--)
                e[-1] = '\0';
        return d;
}

int reservations_add(Reservations *r, const PciAddress *a, uint16_t vendor_id, uint16_t product_id,
                     const char *description) {
        _cleanup_free_ char *d = NULL;
        Reservation *items;
        bool found;
        size_t i;

        if (description) {
                d = description_clean(description);
                if (!d && !isempty(description) && strspn(description, " \t") != strlen(description))
                        return -ENOMEM;
        }
        i = reservations_index(r, a, &found);
        if (found) {
                free(r->items[i].description);
                r->items[i].vendor_id = vendor_id;
                r->items[i].product_id = product_id;
                r->items[i].description = TAKE_PTR(d);
                return 0;
        }
        items = reallocarray(r->items, r->n + 1, sizeof(Reservation));
        if (!items)
                return -ENOMEM;
        r->items = items;
        memmove(&items[i + 1], &items[i], (r->n - i) * sizeof(Reservation));
        items[i] = (Reservation) {
                .address = *a,
                .vendor_id = vendor_id,
                .product_id = product_id,
                .description = TAKE_PTR(d),
        };
        r->n++;
        return 0;
}

bool reservations_remove(Reservations *r, const PciAddress *a) {
        bool found;
        size_t i = reservations_index(r, a, &found);

        if (!found)
                return false;
        free(r->items[i].description);
        memmove(&r->items[i], &r->items[i + 1], (r->n - i - 1) * sizeof(Reservation));
        r->n--;
        return true;
}

static int parse_ids(const char *s, uint16_t *ret_vendor, uint16_t *ret_product) {
        unsigned v[2];

        for (int k = 0; k < 2; k++) {
                v[k] = 0;
                for (int i = 0; i < 4; i++, s++) {
                        int h = unhexchar(*s);

                        if (h < 0)
                                return -EINVAL;
                        v[k] = v[k] * 16 + (unsigned) h;
                }
                if (k == 0 && *s++ != ':')
                        return -EINVAL;
        }
        if (*s != '\0')
                return -EINVAL;
        *ret_vendor = (uint16_t) v[0];
        *ret_product = (uint16_t) v[1];
        return 0;
}

int reservations_parse(const char *text, const char *origin, Reservations *ret) {
        _cleanup_(reservations_done) Reservations r = {};
        _cleanup_strv_free_ char **lines = NULL;
        unsigned n = 0;
        int k;

        lines = strv_split(text, "\n");
        if (!lines)
                return -ENOMEM;
        for (char **l = lines; *l; l++) {
                char *line = *l, *address, *ids, *rest;
                uint16_t vendor, product;
                const char *reason = NULL;
                PciAddress a;

                n++;
                line += strspn(line, " \t");
                if (line[0] == '\0' || line[0] == '#')
                        continue;
                address = line;
                line += strcspn(line, " \t");
                if (*line)
                        *line++ = '\0';
                line += strspn(line, " \t");
                ids = line;
                line += strcspn(line, " \t");
                rest = *line ? line + 1 : line;
                if (*line)
                        *line = '\0';

                if (pci_address_parse(address, &a, &reason) < 0) {
                        _cleanup_free_ char *shown = cescape_trunc(address, 32);
                        log_warning("%s:%u: \"%s\" is not a PCI address (%s); ignoring the line.", origin, n,
                                    strempty(shown), reason ?: "invalid");
                        continue;
                }
                if (parse_ids(ids, &vendor, &product) < 0) {
                        _cleanup_free_ char *shown = cescape_trunc(ids, 32);
                        log_warning("%s:%u: expected VENDOR:DEVICE (e.g. 10de:1f82) after the address, not \"%s\"; "
                                    "ignoring the line.",
                                    origin, n, strempty(shown));
                        continue;
                }
                k = reservations_add(&r, &a, vendor, product, rest);
                if (k < 0)
                        return k;
        }
        *ret = r;
        r = (Reservations) {};
        return 0;
}

int configuration_dir_path(char **ret) {
        const char *e = getenv("CONFIGURATION_DIRECTORY");

        if (isempty(e)) {
                *ret = strdup(CONFIGURATION_DIR_DEFAULT);
                return *ret ? 0 : -ENOMEM;
        }
        if (e[0] != '/')
                return -EINVAL;
        *ret = strndup(e, strcspn(e, ":"));
        return *ret ? 0 : -ENOMEM;
}

int reservations_load(const char *dir, Reservations *ret) {
        _cleanup_free_ char *text = NULL, *origin = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        *ret = (Reservations) {};
        dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dfd < 0 && errno == ENOENT)
                return 0;
        if (dfd < 0)
                return -errno;
        r = read_full_at(dfd, RESERVATIONS_FILE, 256 * 1024, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (asprintf(&origin, "%s/%s", dir, RESERVATIONS_FILE) < 0)
                return -ENOMEM;
        return reservations_parse(text, origin, ret);
}

char *reservations_format(const Reservations *r) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputs("# PCI functions passthru gives to vfio-pci early at boot (passthrud --apply-reservations,\n"
              "# run by passthrud-reservations.service), by address, and only while the function found\n"
              "# there has the VENDOR:DEVICE written here. Boot with passthru.disable=1 to skip them.\n"
              "# Maintained by passthrud: 'passthructl reserve|unreserve ADDRESS'. See passthrud(8).\n"
              "# ADDRESS VENDOR:DEVICE WHAT\n",
              f);
        for (size_t i = 0; i < r->n; i++) {
                char a[PCI_ADDRESS_STRING_MAX];
                fprintf(f, "%s %04x:%04x%s%s\n", pci_address_format(&r->items[i].address, a), r->items[i].vendor_id,
                        r->items[i].product_id, r->items[i].description ? " " : "", strempty(r->items[i].description));
        }
        if (fflush(f) != 0 || ferror(f))
                return NULL;
        fclose(TAKE_PTR(f));
        return TAKE_PTR(buf);
}

int reservations_save(const char *dir, const Reservations *r) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dfd = -EBADF;

        text = reservations_format(r);
        if (!text)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return write_file_atomic_mode_at(dfd, RESERVATIONS_FILE, text, 0644);
}

bool reservations_disabled_by_cmdline(const char *cmdline) {
        _cleanup_free_ char *v = cmdline_get(strempty(cmdline), RESERVATIONS_DISABLE_OPTION);

        if (!v)
                return false;
        return strv_contains((char **) (const char *const[]) { "", "1", "yes", "y", "true", "on", NULL }, v);
}
