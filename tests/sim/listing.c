/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listing.c: parser for pcisim machine listings (see listing.h and README.md).
 * Owns the text → Listing conversion, the defaults of the optional sections and
 * the driver → module name table. Errors name FILE:LINE and what was expected.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "sim-util.h"

typedef enum Section {
        SECTION_DEVICES,
        SECTION_DRIVERS,
        SECTION_BOOT_VGA,
        SECTION_SRIOV,
        SECTION_IOMMU,
        SECTION_INTERRUPT_REMAPPING,
        SECTION_CMDLINE,
        SECTION_FRAMEBUFFER,
        SECTION_MODULES,
        SECTION_DRM,
        SECTION_NET,
        SECTION_BLOCK,
        SECTION_SOUND,
        SECTION_GRAPHICS,
        SECTION_VTCONSOLE,
        SECTION_MODULE_DEPS,
        SECTION_MODULE_NODES,
        _SECTION_MAX,
} Section;

static const char *const section_names[_SECTION_MAX] = {
        [SECTION_DEVICES] = NULL,
        [SECTION_DRIVERS] = "drivers",
        [SECTION_BOOT_VGA] = "boot_vga",
        [SECTION_SRIOV] = "sriov",
        [SECTION_IOMMU] = "iommu",
        [SECTION_INTERRUPT_REMAPPING] = "interrupt_remapping",
        [SECTION_CMDLINE] = "cmdline",
        [SECTION_FRAMEBUFFER] = "framebuffer",
        [SECTION_MODULES] = "modules",
        [SECTION_DRM] = "drm",
        [SECTION_NET] = "net",
        [SECTION_BLOCK] = "block",
        [SECTION_SOUND] = "sound",
        [SECTION_GRAPHICS] = "graphics",
        [SECTION_VTCONSOLE] = "vtconsole",
        [SECTION_MODULE_DEPS] = "module_deps",
        [SECTION_MODULE_NODES] = "module_nodes",
};

typedef struct Parser {
        Listing *listing;
        const char *filename;
        unsigned line;
        char *error;
        size_t allocated;
        bool seen_iommu, seen_ir, seen_cmdline, seen_fb;
} Parser;

static _printf_(2, 3) int parse_error(Parser *p, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return -ENOMEM;

        free(p->error);
        p->error = strdup_printf("%s:%u: %s", p->filename, p->line, msg);
        return p->error ? -EINVAL : -ENOMEM;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parses exactly n hex digits. */
static int parse_hex_n(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                int h = hexval(s[i]);
                if (h < 0)
                        return -EINVAL;
                v = v << 4 | (unsigned) h;
        }
        *ret = v;
        return 0;
}

int listing_parse_address(const char *s, unsigned *ret_domain, unsigned *ret_bus, unsigned *ret_slot, unsigned *ret_func) {
        unsigned domain = 0, bus, slot, func;
        size_t l = strlen(s);

        if (l == 12) {
                if (s[4] != ':' || parse_hex_n(s, 4, &domain) < 0)
                        return -EINVAL;
                s += 5;
                l -= 5;
        }
        if (l != 7 || s[2] != ':' || s[5] != '.')
                return -EINVAL;
        if (parse_hex_n(s, 2, &bus) < 0 || parse_hex_n(s + 3, 2, &slot) < 0 || parse_hex_n(s + 6, 1, &func) < 0)
                return -EINVAL;
        if (slot > 0x1f || func > 7)
                return -EINVAL;

        if (ret_domain)
                *ret_domain = domain;
        if (ret_bus)
                *ret_bus = bus;
        if (ret_slot)
                *ret_slot = slot;
        if (ret_func)
                *ret_func = func;
        return 0;
}

static uint32_t address_key(unsigned domain, unsigned bus, unsigned slot, unsigned func) {
        /* 16 bit domain, 8 bit bus, 5 bit slot, 3 bit func; +1 so that 0 means "empty" in the hash.
         * Domain ffff:ff:1f.7 would wrap to 0, so fold it onto a value no real address takes. */
        uint32_t k = (uint32_t) domain << 16 | bus << 8 | slot << 3 | func;
        return k + 1 == 0 ? 1 : k + 1;
}

static size_t hash_slot(uint32_t key, size_t size) {
        uint32_t h = key * 2654435761u;
        return h & (size - 1);
}

static int hash_rebuild(Listing *l) {
        size_t size = 64;

        while (size < l->n_devices * 2)
                size *= 2;

        free(l->hash_keys);
        free(l->hash_values);
        l->hash_keys = calloc(size, sizeof(uint32_t));
        l->hash_values = calloc(size, sizeof(int));
        if (!l->hash_keys || !l->hash_values)
                return -ENOMEM;
        l->hash_size = size;

        for (size_t i = 0; i < l->n_devices; i++) {
                const ListingDevice *d = l->devices + i;
                uint32_t k = address_key(d->domain, d->bus, d->slot, d->func);
                size_t s = hash_slot(k, size);

                while (l->hash_keys[s] != 0)
                        s = (s + 1) & (size - 1);
                l->hash_keys[s] = k;
                l->hash_values[s] = (int) i;
        }
        return 0;
}

int listing_find(const Listing *l, unsigned domain, unsigned bus, unsigned slot, unsigned func) {
        uint32_t k;
        size_t s;

        if (!l || l->hash_size == 0)
                return -1;

        k = address_key(domain, bus, slot, func);
        for (s = hash_slot(k, l->hash_size); l->hash_keys[s] != 0; s = (s + 1) & (l->hash_size - 1))
                if (l->hash_keys[s] == k)
                        return l->hash_values[s];
        return -1;
}

/* Adds the last appended device to the hash, growing it when needed. */
static int hash_add_last(Listing *l) {
        const ListingDevice *d = l->devices + l->n_devices - 1;
        uint32_t k;
        size_t s;

        if (l->n_devices * 2 > l->hash_size)
                return hash_rebuild(l);

        k = address_key(d->domain, d->bus, d->slot, d->func);
        s = hash_slot(k, l->hash_size);
        while (l->hash_keys[s] != 0)
                s = (s + 1) & (l->hash_size - 1);
        l->hash_keys[s] = k;
        l->hash_values[s] = (int) (l->n_devices - 1);
        return 0;
}

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

static bool is_address_start(const char *s) {
        /* "BB:DD.F" or "DDDD:BB:DD.F" */
        size_t n = strcspn(s, " \t");
        char buf[16];

        if (n != 7 && n != 12)
                return false;
        memcpy(buf, s, n);
        buf[n] = 0;
        return listing_parse_address(buf, NULL, NULL, NULL, NULL) >= 0;
}

static uint32_t default_prog_if(uint32_t class16) {
        switch (class16) {
        case 0x0c03:
                return 0x30; /* xHCI */
        case 0x0106:
                return 0x01; /* AHCI */
        case 0x0108:
                return 0x02; /* NVM Express */
        default:
                return 0x00;
        }
}

static int parse_device_line(Parser *p, char *line) {
        Listing *l = p->listing;
        ListingDevice d = {
                .group = -1,
                .physfn = -1,
                .line = p->line,
        };
        char *s = line, *e, *class_end, *ids_open;
        unsigned v, w;
        char addr[16];
        size_t n;
        int r, existing;

        if ((e = (char *) startswith(s, "IOMMU Group "))) {
                char *end;
                long g;

                n = strcspn(e, " \t");
                errno = 0;
                g = strtol(e, &end, 10);
                if (n == 0 || end != e + n || errno != 0 || g < 0 || g > 1000000 || !isdigit((unsigned char) *e))
                        return parse_error(p, "bad IOMMU group number '%.*s', expected 'IOMMU Group N ADDRESS ...'",
                                           (int) n, e);
                d.group = (int) g;
                s = e + n;
                while (*s == ' ' || *s == '\t')
                        s++;
        } else if (!is_address_start(s))
                return parse_error(p, "expected 'IOMMU Group N ADDRESS CLASS [cccc]: NAME [vvvv:dddd] (rev rr)'");

        /* Address */
        n = strcspn(s, " \t");
        if (n == 0 || n >= sizeof(addr))
                return parse_error(p, "bad PCI address '%.*s', expected BB:DD.F or DDDD:BB:DD.F", (int) n, s);
        memcpy(addr, s, n);
        addr[n] = 0;
        if (listing_parse_address(addr, &d.domain, &d.bus, &d.slot, &d.func) < 0)
                return parse_error(p, "bad PCI address '%s', expected BB:DD.F or DDDD:BB:DD.F", addr);
        s += n;
        while (*s == ' ' || *s == '\t')
                s++;

        /* Class name and "[cccc]: " */
        class_end = strstr(s, "]: ");
        if (!class_end) {
                if ((e = strstr(s, "]:")) && e[2] == 0)
                        class_end = e; /* "[cccc]:" at the very end, name missing */
                else
                        return parse_error(p, "missing '[cccc]:' class code after the address");
        }
        if (class_end - s < 5 || class_end[-5] != '[')
                return parse_error(p, "missing '[cccc]:' class code after the address");
        if (parse_hex_n(class_end - 4, 4, &v) < 0)
                return parse_error(p, "bad hex in class code '%.6s'", class_end - 5);
        d.class = v << 8 | default_prog_if(v);
        e = class_end - 5;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
        d.class_name = strndup(s, (size_t) (e - s));
        if (!d.class_name)
                return -ENOMEM;
        s = class_end + 2;

        /* Optional " (rev rr)" */
        s = strip(s);
        e = NULL;
        for (char *q = s; (q = strstr(q, "(rev ")); q++)
                e = q;
        if (e && (e == s || e[-1] == ' ' || e[-1] == '\t')) {
                if (strlen(e) != 8 || e[7] != ')') {
                        free(d.class_name);
                        return parse_error(p, "bad revision '%s', expected '(rev rr)' at the end of the line", e);
                }
                if (parse_hex_n(e + 5, 2, &v) < 0) {
                        free(d.class_name);
                        return parse_error(p, "bad hex in revision '%s'", e);
                }
                d.revision = (uint8_t) v;
                *e = 0;
                s = strip(s);
        }
        n = strlen(s);

        /* The last "[vvvv:dddd]" */
        if (n == 0 || s[n - 1] != ']' || !(ids_open = strrchr(s, '['))) {
                free(d.class_name);
                return parse_error(p, "missing '[vvvv:dddd]' vendor:device ids at the end of the line");
        }
        if (!memchr(ids_open, ':', (size_t) (s + n - ids_open))) {
                free(d.class_name);
                return parse_error(p, "missing '[vvvv:dddd]' vendor:device ids at the end of the line");
        }
        if (s + n - ids_open != 11 || ids_open[5] != ':' ||
            parse_hex_n(ids_open + 1, 4, &v) < 0 || parse_hex_n(ids_open + 6, 4, &w) < 0) {
                free(d.class_name);
                return parse_error(p, "bad hex in vendor:device ids '%s', expected '[vvvv:dddd]'", ids_open);
        }
        d.vendor = (uint16_t) v;
        d.device = (uint16_t) w;
        d.subsystem_vendor = d.vendor;
        d.subsystem_device = d.device;
        *ids_open = 0;
        d.name = strdup(strip(s));
        if (!d.name) {
                free(d.class_name);
                return -ENOMEM;
        }

        existing = listing_find(l, d.domain, d.bus, d.slot, d.func);
        if (existing >= 0) {
                free(d.class_name);
                free(d.name);
                return parse_error(p, "duplicate address %04x:%02x:%02x.%x, first listed on line %u",
                                   d.domain, d.bus, d.slot, d.func, l->devices[existing].line);
        }

        if (l->n_devices >= p->allocated) {
                size_t a = p->allocated ? p->allocated * 2 : 64;
                ListingDevice *nd = realloc(l->devices, a * sizeof(ListingDevice));
                if (!nd) {
                        free(d.class_name);
                        free(d.name);
                        return -ENOMEM;
                }
                l->devices = nd;
                p->allocated = a;
        }
        l->devices[l->n_devices++] = d;

        r = hash_add_last(l);
        if (r < 0)
                return r;
        return 0;
}

/* Splits s into at most max whitespace separated words; returns the count, or max + 1 if there are more. */
static size_t split_words(char *s, char **words, size_t max) {
        size_t n = 0;

        for (;;) {
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == 0)
                        return n;
                if (n == max)
                        return max + 1;
                words[n++] = s;
                s += strcspn(s, " \t");
                if (*s)
                        *s++ = 0;
        }
}

static int lookup_address(Parser *p, const char *word, const char *what) {
        unsigned domain, bus, slot, func;
        int i;

        if (listing_parse_address(word, &domain, &bus, &slot, &func) < 0)
                return parse_error(p, "bad PCI address '%s' in %s, expected BB:DD.F or DDDD:BB:DD.F", word, what);
        i = listing_find(p->listing, domain, bus, slot, func);
        if (i < 0)
                return parse_error(p, "address '%s' in %s is not in the listing", word, what);
        return i;
}

static bool valid_name(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

/* The number after a "card"/"renderD" prefix: decimal, no leading zero, at most MINORMASK. */
static int drm_minor(const char *name, unsigned *ret) {
        const char *s = startswith(name, "card") ?: startswith(name, "renderD");
        unsigned long v = 0;

        if (!s || !*s || strlen(s) > 7 || (s[0] == '0' && s[1]))
                return -EINVAL;
        for (const char *c = s; *c; c++) {
                if (!isdigit((unsigned char) *c))
                        return -EINVAL;
                v = v * 10 + (unsigned long) (*c - '0');
        }
        if (v > 0xfffff)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* dev_valid_name() for the characters we allow: 1–15 of [a-zA-Z0-9_.-], not "." or "..". */
static bool valid_ifname(const char *s, size_t max) {
        size_t l = strlen(s);

        if (l == 0 || l > max || streq(s, ".") || streq(s, ".."))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == l;
}

static const ListingNode *find_node(const Listing *l, ListingNodeKind kind, const char *name) {
        for (size_t i = 0; i < l->n_nodes; i++)
                if (l->nodes[i].kind == kind && streq(l->nodes[i].name, name))
                        return l->nodes + i;
        return NULL;
}

/* Appends a node; *ret (may be NULL) points to it until the next append. */
static int add_node(Parser *p, ListingNodeKind kind, int device, const char *name, unsigned minor, const char *path,
                    ListingNode **ret) {
        Listing *l = p->listing;
        const char *section = listing_node_kind_to_string(kind);
        const ListingNode *other;
        ListingNode *n;

        other = find_node(l, kind, name);
        if (other)
                return parse_error(p, "duplicate %s '%s' in section '%s', first listed on line %u",
                                   kind == LISTING_NODE_NET ? "interface" : "node", name, section, other->line);
        if (kind == LISTING_NODE_DRM)
                for (size_t i = 0; i < l->n_nodes; i++)
                        if (l->nodes[i].kind == LISTING_NODE_DRM && l->nodes[i].minor == minor)
                                return parse_error(p, "node '%s' in section 'drm' has minor %u like '%s' on line %u",
                                                   name, minor, l->nodes[i].name, l->nodes[i].line);

        n = realloc(l->nodes, (l->n_nodes + 1) * sizeof(ListingNode));
        if (!n)
                return -ENOMEM;
        l->nodes = n;
        n = l->nodes + l->n_nodes;
        *n = (ListingNode) {
                .kind = kind,
                .device = device,
                .name = strdup(name),
                .minor = minor,
                .path = path ? strdup(path) : NULL,
                .line = p->line,
        };
        l->n_nodes++;
        if (!n->name || (path && !n->path))
                return -ENOMEM;
        if (ret)
                *ret = n;
        return 0;
}

/* "ADDRESS NODE [NODE…]" */
static int parse_drm_line(Parser *p, char *line) {
        char *words[33];
        size_t n;
        int i, r;

        n = split_words(line, words, ELEMENTSOF(words));
        if (n < 2)
                return parse_error(p, "expected 'ADDRESS NODE [NODE...]' (card0, renderD128) in section 'drm'");
        if (n > ELEMENTSOF(words) - 1)
                return parse_error(p, "more than %zu nodes on one line in section 'drm'", ELEMENTSOF(words) - 2);
        i = lookup_address(p, words[0], "section 'drm'");
        if (i < 0)
                return i;
        for (size_t k = 1; k < n; k++) {
                unsigned minor;

                if (drm_minor(words[k], &minor) < 0)
                        return parse_error(p, "bad node name '%s' in section 'drm', expected cardN or renderDN", words[k]);
                r = add_node(p, LISTING_NODE_DRM, i, words[k], minor, NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "ADDRESS IFNAME" */
static int parse_net_line(Parser *p, char *line) {
        char *words[2];
        int i;

        if (split_words(line, words, 2) != 2)
                return parse_error(p, "expected 'ADDRESS IFNAME' in section 'net'");
        i = lookup_address(p, words[0], "section 'net'");
        if (i < 0)
                return i;
        if (!valid_ifname(words[1], 15))
                return parse_error(p, "bad interface name '%s' in section 'net', expected 1 to 15 of a-z A-Z 0-9 _ . -",
                                   words[1]);
        return add_node(p, LISTING_NODE_NET, i, words[1], 0, NULL, NULL);
}

/* "ADDRESS NAME PATH", PATH being the rest of the line (it may contain spaces) */
static int parse_block_line(Parser *p, char *line) {
        char *words[2], *path;
        int i;

        path = line + strcspn(line, " \t");
        path += strspn(path, " \t");
        path += strcspn(path, " \t");
        if (*path)
                *path++ = 0;
        path = strip(path);
        if (split_words(line, words, 2) != 2 || !*path)
                return parse_error(p, "expected 'ADDRESS NAME PATH' in section 'block'");
        i = lookup_address(p, words[0], "section 'block'");
        if (i < 0)
                return i;
        if (!valid_ifname(words[1], 31))
                return parse_error(p, "bad block device name '%s' in section 'block', expected 1 to 31 of a-z A-Z 0-9 _ . -",
                                   words[1]);
        if (path[0] != '/')
                return parse_error(p, "path '%s' in section 'block' is not absolute", path);
        return add_node(p, LISTING_NODE_BLOCK, i, words[1], 0, path, NULL);
}

/* Decimal digits, no leading zero, at most max; returns the end of the digits in *ret_end. */
static int parse_small_number(const char *s, unsigned max, unsigned *ret, const char **ret_end) {
        unsigned long v = 0;
        const char *c = s;

        if (!isdigit((unsigned char) *c) || (c[0] == '0' && isdigit((unsigned char) c[1])))
                return -EINVAL;
        for (; isdigit((unsigned char) *c); c++) {
                v = v * 10 + (unsigned long) (*c - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = (unsigned) v;
        *ret_end = c;
        return 0;
}

/* PREFIX followed by a number up to max and nothing else ("card1", "fb0", "vtcon1"). */
static int parse_prefixed_number(const char *s, const char *prefix, unsigned max, unsigned *ret) {
        const char *n = startswith(s, prefix), *end;
        unsigned v;

        if (!n || parse_small_number(n, max, &v, &end) < 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* ALSA's static minors (CONFIG_SND_DYNAMIC_MINORS=n, include/sound/minors.h): 32 per card,
 * control 0, hwdep 4-7, rawmidi 8-15, PCM playback 16-23, PCM capture 24-31. */
#define SOUND_MAX_CARD 7U

static int sound_minor(const char *name, unsigned card, unsigned *ret) {
        static const struct {
                const char *prefix;
                unsigned base, max_device;
                bool pcm;
        } types[] = {
                { "hwC",   4,  3, false },
                { "midiC", 8,  7, false },
                { "pcmC",  16, 7, true  },
        };
        unsigned c, dev;
        const char *s, *end;

        if (parse_prefixed_number(name, "controlC", SOUND_MAX_CARD, &c) >= 0) {
                if (c != card)
                        return -EXDEV;
                *ret = card * 32;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                s = startswith(name, types[i].prefix);
                if (!s)
                        continue;
                if (parse_small_number(s, SOUND_MAX_CARD, &c, &end) < 0 || *end != 'D')
                        return -EINVAL;
                if (parse_small_number(end + 1, types[i].max_device, &dev, &end) < 0)
                        return -EINVAL;
                if (types[i].pcm) {
                        if ((*end != 'p' && *end != 'c') || end[1])
                                return -EINVAL;
                } else if (*end)
                        return -EINVAL;
                if (c != card)
                        return -EXDEV;
                *ret = card * 32 + types[i].base + dev + (types[i].pcm && *end == 'c' ? 8 : 0);
                return 0;
        }
        return -EINVAL;
}

/* "ADDRESS cardN NODE [NODE…]" */
static int parse_sound_line(Parser *p, char *line) {
        Listing *l = p->listing;
        char *words[34];
        const ListingNode *card;
        ListingNode *n;
        unsigned number;
        size_t k;
        int i, r;

        k = split_words(line, words, ELEMENTSOF(words));
        if (k < 3)
                return parse_error(p, "expected 'ADDRESS cardN NODE [NODE...]' (26:00.1 card1 controlC1 pcmC1D3p) in section 'sound'");
        if (k > ELEMENTSOF(words) - 1)
                return parse_error(p, "more than %zu nodes on one line in section 'sound'", ELEMENTSOF(words) - 3);
        i = lookup_address(p, words[0], "section 'sound'");
        if (i < 0)
                return i;
        if (parse_prefixed_number(words[1], "card", SOUND_MAX_CARD, &number) < 0)
                return parse_error(p, "bad card '%s' in section 'sound', expected card0 to card%u", words[1], SOUND_MAX_CARD);

        card = find_node(l, LISTING_NODE_SOUND, words[1]);
        if (card && card->device != i) {
                const ListingDevice *o = l->devices + card->device;

                return parse_error(p, "%s in section 'sound' belongs to %04x:%02x:%02x.%x on line %u",
                                   words[1], o->domain, o->bus, o->slot, o->func, card->line);
        }
        if (!card) {
                r = add_node(p, LISTING_NODE_SOUND, i, words[1], 0, NULL, &n);
                if (r < 0)
                        return r;
                n->card = number;
                n->sound_card = true;
        }

        for (size_t w = 2; w < k; w++) {
                unsigned minor;

                r = sound_minor(words[w], number, &minor);
                if (r == -EXDEV)
                        return parse_error(p, "node '%s' in section 'sound' is not one of %s's (controlC%u, hwC%uD0, pcmC%uD0p, ...)",
                                           words[w], words[1], number, number, number);
                if (r < 0)
                        return parse_error(p, "bad node name '%s' in section 'sound', expected controlCn, hwCnDd (d 0-3), "
                                           "midiCnDd or pcmCnDd[pc] (d 0-7)", words[w]);
                r = add_node(p, LISTING_NODE_SOUND, i, words[w], minor, NULL, &n);
                if (r < 0)
                        return r;
                n->card = number;
        }
        return 0;
}

/* "ADDRESS|efi-framebuffer.0|simple-framebuffer.0 fbN" */
static int parse_graphics_line(Parser *p, char *line) {
        Listing *l = p->listing;
        ListingFramebuffer platform = LISTING_FRAMEBUFFER_NONE;
        char *words[2];
        ListingNode *n;
        unsigned number;
        int i = -1, r;

        if (split_words(line, words, 2) != 2)
                return parse_error(p, "expected 'ADDRESS fbN', 'efi-framebuffer.0 fbN' or 'simple-framebuffer.0 fbN' in section 'graphics'");
        if (streq(words[0], "efi-framebuffer.0"))
                platform = LISTING_FRAMEBUFFER_EFI;
        else if (streq(words[0], "simple-framebuffer.0"))
                platform = LISTING_FRAMEBUFFER_SIMPLE;
        else {
                i = lookup_address(p, words[0], "section 'graphics'");
                if (i < 0)
                        return i;
        }
        /* FB_MAX is 32 */
        if (parse_prefixed_number(words[1], "fb", 31, &number) < 0)
                return parse_error(p, "bad node name '%s' in section 'graphics', expected fb0 to fb31", words[1]);
        for (size_t k = 0; k < l->n_nodes; k++) {
                const ListingNode *o = l->nodes + k;

                if (o->kind == LISTING_NODE_GRAPHICS && o->device == i && o->platform == platform)
                        return parse_error(p, "%s has %s already in section 'graphics' (line %u)", words[0], o->name, o->line);
        }
        r = add_node(p, LISTING_NODE_GRAPHICS, i, words[1], number, NULL, &n);
        if (r < 0)
                return r;
        n->platform = platform;
        return 0;
}

/* "vtconN dummy|fb" */
static int parse_vtconsole_line(Parser *p, char *line) {
        Listing *l = p->listing;
        char *words[2];
        ListingVtcon *v;
        unsigned number;
        ListingVtconKind kind;

        if (split_words(line, words, 2) != 2)
                return parse_error(p, "expected 'vtconN dummy' or 'vtconN fb' in section 'vtconsole'");
        /* MAX_NR_CON_DRIVER is 16 */
        if (parse_prefixed_number(words[0], "vtcon", 15, &number) < 0)
                return parse_error(p, "bad console '%s' in section 'vtconsole', expected vtcon0 to vtcon15", words[0]);
        if (streq(words[1], "dummy"))
                kind = LISTING_VTCON_DUMMY;
        else if (streq(words[1], "fb"))
                kind = LISTING_VTCON_FB;
        else
                return parse_error(p, "bad console driver '%s' in section 'vtconsole', expected dummy or fb", words[1]);
        for (size_t k = 0; k < l->n_vtcons; k++) {
                if (l->vtcons[k].number == number)
                        return parse_error(p, "duplicate console '%s' in section 'vtconsole', first listed on line %u",
                                           words[0], l->vtcons[k].line);
                if (kind == LISTING_VTCON_DUMMY && l->vtcons[k].kind == LISTING_VTCON_DUMMY)
                        return parse_error(p, "a second system console driver '%s' in section 'vtconsole' (vtcon%u on line %u is one)",
                                           words[0], l->vtcons[k].number, l->vtcons[k].line);
        }
        v = realloc(l->vtcons, (l->n_vtcons + 1) * sizeof(ListingVtcon));
        if (!v)
                return -ENOMEM;
        l->vtcons = v;
        l->vtcons[l->n_vtcons++] = (ListingVtcon) {
                .number = number,
                .kind = kind,
                .line = p->line,
        };
        return 0;
}

/* A module name as the kernel keeps it: 1-55 of [a-zA-Z0-9_-], '-' written as '_'. */
static char *module_name(const char *s) {
        size_t l = strlen(s);
        char *n;

        if (l == 0 || l > 55 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != l)
                return NULL;
        n = strdup(s);
        if (!n)
                return NULL;
        for (char *c = n; *c; c++)
                if (*c == '-')
                        *c = '_';
        return n;
}

/* Names a "# module_nodes" line may not take: the simulator's own directories and what every
 * /dev has (pcisim's /dev shows the host's entries besides the simulated ones). */
static bool dev_name_reserved(const char *s) {
        static const char *const reserved[] = {
                "vfio", "dri", "snd", "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                "pts", "shm", "mqueue", "hugepages", "fd", "stdin", "stdout", "stderr", "fuse", "kmsg", "log",
        };
        unsigned n;

        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (streq(s, reserved[i]))
                        return true;
        return parse_prefixed_number(s, "fb", UINT32_MAX / 10, &n) >= 0; /* "# graphics" makes those */
}

static ListingModuleItems *find_module_items(ListingModuleItems *items, size_t n, const char *module) {
        for (size_t i = 0; i < n; i++)
                if (streq(items[i].module, module))
                        return items + i;
        return NULL;
}

const ListingModuleItems *listing_module_deps(const Listing *l, const char *module) {
        return find_module_items(l->module_deps, l->n_module_deps, module);
}

static void module_items_done(ListingModuleItems *m) {
        free(m->module);
        for (size_t i = 0; i < m->n_items; i++)
                free(m->items[i]);
        free(m->items);
}

/* "MODULE DEP [DEP…]" or "MODULE NODE [NODE…]" */
static int parse_module_items_line(Parser *p, char *line, bool deps) {
        Listing *l = p->listing;
        const char *section = deps ? "module_deps" : "module_nodes";
        ListingModuleItems **list = deps ? &l->module_deps : &l->module_nodes;
        size_t *n_list = deps ? &l->n_module_deps : &l->n_module_nodes;
        _cleanup_(module_items_done) ListingModuleItems m = {
                .line = p->line,
        };
        ListingModuleItems *other, *nl;
        char *words[33];
        size_t k;

        k = split_words(line, words, ELEMENTSOF(words));
        if (k < 2)
                return parse_error(p, deps ? "expected 'MODULE DEP [DEP...]' in section 'module_deps'" :
                                             "expected 'MODULE NODE [NODE...]' in section 'module_nodes'");
        if (k > ELEMENTSOF(words) - 1)
                return parse_error(p, "more than %zu items on one line in section '%s'", ELEMENTSOF(words) - 2, section);

        m.module = module_name(words[0]);
        if (!m.module)
                return parse_error(p, "bad module name '%s' in section '%s', expected 1 to 55 of a-z A-Z 0-9 _ -", words[0], section);
        other = find_module_items(*list, *n_list, m.module);
        if (other)
                return parse_error(p, "duplicate module '%s' in section '%s', first listed on line %u", m.module, section, other->line);
        if (streq(m.module, "pcieport"))
                return parse_error(p, "pcieport in section '%s' is built into the kernel, not a module", section);
        if (deps && (streq(m.module, "vfio_pci") || streq(m.module, "vfio") || streq(m.module, "vfio_iommu_type1")))
                return parse_error(p, "the dependencies of %s are pcisim's own, not for section 'module_deps'", m.module);

        m.items = calloc(k, sizeof(char *));
        if (!m.items)
                return -ENOMEM;
        for (size_t w = 1; w < k; w++) {
                char *item;

                if (deps) {
                        if (streq(words[w], "pcieport"))
                                return parse_error(p, "pcieport in section 'module_deps' is built into the kernel, not a module");
                        item = module_name(words[w]);
                        if (!item)
                                return parse_error(p, "bad module name '%s' in section 'module_deps', expected 1 to 55 of a-z A-Z 0-9 _ -",
                                                   words[w]);
                        if (streq(item, m.module)) {
                                free(item);
                                return parse_error(p, "module '%s' depends on itself in section 'module_deps'", m.module);
                        }
                } else {
                        if (!valid_ifname(words[w], 63))
                                return parse_error(p, "bad node name '%s' in section 'module_nodes', expected 1 to 63 of a-z A-Z 0-9 _ . -",
                                                   words[w]);
                        if (dev_name_reserved(words[w]))
                                return parse_error(p, "node name '%s' in section 'module_nodes' is reserved (/dev/%s is the host's or pcisim's own)",
                                                   words[w], words[w]);
                        for (size_t i = 0; i < l->n_module_nodes; i++)
                                for (size_t j = 0; j < l->module_nodes[i].n_items; j++)
                                        if (streq(l->module_nodes[i].items[j], words[w]))
                                                return parse_error(p, "duplicate node '%s' in section 'module_nodes', first listed on line %u",
                                                                   words[w], l->module_nodes[i].line);
                        item = strdup(words[w]);
                        if (!item)
                                return -ENOMEM;
                }
                for (size_t j = 0; j < m.n_items; j++)
                        if (streq(m.items[j], item)) {
                                _cleanup_free_ char *dup = item;

                                return parse_error(p, "'%s' twice on one line in section '%s'", dup, section);
                        }
                m.items[m.n_items++] = item;
        }

        nl = realloc(*list, (*n_list + 1) * sizeof(ListingModuleItems));
        if (!nl)
                return -ENOMEM;
        *list = nl;
        nl[(*n_list)++] = m;
        m = (ListingModuleItems) {};
        return 0;
}

/* Whether the dependencies reachable from module lead back to start (depth-limited by the number
 * of lines: every step follows one line). */
static bool deps_reach(const Listing *l, const char *module, const char *start, size_t depth) {
        const ListingModuleItems *m = listing_module_deps(l, module);

        if (!m || depth > l->n_module_deps)
                return false;
        for (size_t i = 0; i < m->n_items; i++)
                if (streq(m->items[i], start) || deps_reach(l, m->items[i], start, depth + 1))
                        return true;
        return false;
}

static bool module_known(const Listing *l, const char *module) {
        if (streq(module, "vfio_pci") || streq(module, "vfio") || streq(module, "vfio_iommu_type1"))
                return true;
        for (size_t i = 0; i < l->n_devices; i++) {
                _cleanup_free_ char *m = NULL;

                if (l->devices[i].driver && listing_driver_module(l->devices[i].driver, &m) > 0 && streq(m, module))
                        return true;
        }
        for (size_t i = 0; i < l->n_modules; i++)
                if (streq(l->modules[i].module, module))
                        return true;
        for (size_t i = 0; i < l->n_module_deps; i++) {
                if (streq(l->module_deps[i].module, module))
                        return true;
                for (size_t j = 0; j < l->module_deps[i].n_items; j++)
                        if (streq(l->module_deps[i].items[j], module))
                                return true;
        }
        return false;
}

/* What only the whole listing tells: dependency cycles, "# module_nodes" of modules nothing else
 * names, "# graphics" of a platform framebuffer the listing does not have. */
static int check_modules(Parser *p) {
        const Listing *l = p->listing;

        for (size_t i = 0; i < l->n_module_deps; i++) {
                p->line = l->module_deps[i].line;
                if (deps_reach(l, l->module_deps[i].module, l->module_deps[i].module, 0))
                        return parse_error(p, "module '%s' in section 'module_deps' depends on itself through its dependencies",
                                           l->module_deps[i].module);
        }
        for (size_t i = 0; i < l->n_module_nodes; i++) {
                p->line = l->module_nodes[i].line;
                if (!module_known(l, l->module_nodes[i].module))
                        return parse_error(p, "module '%s' in section 'module_nodes' is no module of the listing "
                                           "(drives a function in 'drivers', or named in 'module_deps' or 'modules')",
                                           l->module_nodes[i].module);
        }
        for (size_t i = 0; i < l->n_nodes; i++) {
                const ListingNode *n = l->nodes + i;

                if (n->kind != LISTING_NODE_GRAPHICS || n->device >= 0 || n->platform == l->framebuffer)
                        continue;
                p->line = n->line;
                return parse_error(p, "%s in section 'graphics' is not the platform framebuffer of section 'framebuffer' (%s)",
                                   listing_framebuffer_to_string(n->platform),
                                   listing_framebuffer_to_string(l->framebuffer));
        }
        return 0;
}

/* A node appears while its function is bound to the driver the listing gives it: without one
 * (or with vfio-pci, which creates none) it never would. */
static int check_nodes(Parser *p) {
        const Listing *l = p->listing;

        for (size_t i = 0; i < l->n_nodes; i++) {
                const ListingNode *n = l->nodes + i;
                const ListingDevice *d;

                if (n->device < 0)
                        continue; /* the platform framebuffer's */
                d = l->devices + n->device;
                p->line = n->line;
                if (!d->driver)
                        return parse_error(p, "%04x:%02x:%02x.%x in section '%s' has no driver in section 'drivers'; "
                                           "its %s appears while bound to that driver",
                                           d->domain, d->bus, d->slot, d->func, listing_node_kind_to_string(n->kind), n->name);
                if (streq(d->driver, "vfio-pci"))
                        return parse_error(p, "%04x:%02x:%02x.%x in section '%s' is bound to vfio-pci in section 'drivers', "
                                           "which creates no %s", d->domain, d->bus, d->slot, d->func,
                                           listing_node_kind_to_string(n->kind), n->name);
        }
        return 0;
}

static int parse_section_line(Parser *p, Section section, char *line) {
        Listing *l = p->listing;
        char *words[3];
        size_t n;
        int i, j;

        if (section == SECTION_DRM)
                return parse_drm_line(p, line);
        if (section == SECTION_NET)
                return parse_net_line(p, line);
        if (section == SECTION_BLOCK)
                return parse_block_line(p, line);
        if (section == SECTION_SOUND)
                return parse_sound_line(p, line);
        if (section == SECTION_GRAPHICS)
                return parse_graphics_line(p, line);
        if (section == SECTION_VTCONSOLE)
                return parse_vtconsole_line(p, line);
        if (section == SECTION_MODULE_DEPS || section == SECTION_MODULE_NODES)
                return parse_module_items_line(p, line, section == SECTION_MODULE_DEPS);

        if (section == SECTION_CMDLINE) {
                if (p->seen_cmdline)
                        return parse_error(p, "more than one line in section 'cmdline'");
                p->seen_cmdline = true;
                free(l->cmdline);
                l->cmdline = strdup(line);
                return l->cmdline ? 0 : -ENOMEM;
        }

        n = split_words(line, words, 2);

        switch (section) {

        case SECTION_DRIVERS:
                if (n != 2)
                        return parse_error(p, "expected 'ADDRESS DRIVER' in section 'drivers'");
                i = lookup_address(p, words[0], "section 'drivers'");
                if (i < 0)
                        return i;
                if (!valid_name(words[1]))
                        return parse_error(p, "bad driver name '%s' in section 'drivers'", words[1]);
                if (l->devices[i].driver)
                        return parse_error(p, "duplicate driver for %s in section 'drivers'", words[0]);
                l->devices[i].driver = strdup(words[1]);
                return l->devices[i].driver ? 0 : -ENOMEM;

        case SECTION_BOOT_VGA:
                if (n != 1)
                        return parse_error(p, "expected 'ADDRESS' in section 'boot_vga'");
                i = lookup_address(p, words[0], "section 'boot_vga'");
                if (i < 0)
                        return i;
                l->devices[i].boot_vga = true;
                return 0;

        case SECTION_SRIOV:
                if (n != 2)
                        return parse_error(p, "expected 'VF_ADDRESS PF_ADDRESS' in section 'sriov'");
                i = lookup_address(p, words[0], "section 'sriov'");
                if (i < 0)
                        return i;
                j = lookup_address(p, words[1], "section 'sriov'");
                if (j < 0)
                        return j;
                if (i == j)
                        return parse_error(p, "a VF cannot be its own PF in section 'sriov'");
                if (l->devices[j].physfn >= 0)
                        return parse_error(p, "PF %s is itself a VF in section 'sriov'", words[1]);
                if (l->devices[i].physfn >= 0)
                        return parse_error(p, "duplicate VF %s in section 'sriov'", words[0]);
                l->devices[i].physfn = j;
                return 0;

        case SECTION_IOMMU:
                if (p->seen_iommu)
                        return parse_error(p, "more than one line in section 'iommu'");
                if (n != 1)
                        return parse_error(p, "expected one of amd-iommu, intel-iommu, none in section 'iommu'");
                if (streq(words[0], "amd-iommu"))
                        l->iommu = LISTING_IOMMU_AMD;
                else if (streq(words[0], "intel-iommu"))
                        l->iommu = LISTING_IOMMU_INTEL;
                else if (streq(words[0], "none"))
                        l->iommu = LISTING_IOMMU_NONE;
                else
                        return parse_error(p, "expected one of amd-iommu, intel-iommu, none in section 'iommu', got '%s'", words[0]);
                p->seen_iommu = true;
                return 0;

        case SECTION_INTERRUPT_REMAPPING:
                if (p->seen_ir)
                        return parse_error(p, "more than one line in section 'interrupt_remapping'");
                if (n != 1 || (!streq(words[0], "yes") && !streq(words[0], "no")))
                        return parse_error(p, "expected 'yes' or 'no' in section 'interrupt_remapping'");
                l->interrupt_remapping = streq(words[0], "yes");
                p->seen_ir = true;
                return 0;

        case SECTION_FRAMEBUFFER:
                if (p->seen_fb)
                        return parse_error(p, "more than one line in section 'framebuffer'");
                if (n != 1)
                        return parse_error(p, "expected one of efi-framebuffer.0, simple-framebuffer.0, none in section 'framebuffer'");
                if (streq(words[0], "efi-framebuffer.0"))
                        l->framebuffer = LISTING_FRAMEBUFFER_EFI;
                else if (streq(words[0], "simple-framebuffer.0"))
                        l->framebuffer = LISTING_FRAMEBUFFER_SIMPLE;
                else if (streq(words[0], "none"))
                        l->framebuffer = LISTING_FRAMEBUFFER_NONE;
                else
                        return parse_error(p, "expected one of efi-framebuffer.0, simple-framebuffer.0, none in section 'framebuffer', got '%s'", words[0]);
                p->seen_fb = true;
                return 0;

        case SECTION_MODULES: {
                ListingModuleAlias *m;

                if (n != 2)
                        return parse_error(p, "expected 'MODULE PATTERN' in section 'modules'");
                if (!valid_name(words[0]))
                        return parse_error(p, "bad module name '%s' in section 'modules'", words[0]);
                m = realloc(l->modules, (l->n_modules + 1) * sizeof(ListingModuleAlias));
                if (!m)
                        return -ENOMEM;
                l->modules = m;
                m[l->n_modules] = (ListingModuleAlias) {
                        .module = strdup(words[0]),
                        .pattern = strdup(words[1]),
                };
                l->n_modules++;
                if (!m[l->n_modules - 1].module || !m[l->n_modules - 1].pattern)
                        return -ENOMEM;
                /* Module names are normalized the way the kernel does: '-' → '_' */
                for (char *c = m[l->n_modules - 1].module; *c; c++)
                        if (*c == '-')
                                *c = '_';
                return 0;
        }

        default:
                return -EINVAL;
        }
}

/* "# name" alone on a line, name of [a-z_] only: a section header. */
static const char *section_header(const char *line) {
        const char *s = startswith(line, "# ");

        if (!s || !*s)
                return NULL;
        for (const char *c = s; *c; c++)
                if (!(islower((unsigned char) *c) || *c == '_'))
                        return NULL;
        return s;
}

static void apply_defaults(Listing *l, bool seen_iommu, bool seen_ir) {
        if (!seen_iommu) {
                int i = listing_find(l, 0, 0, 0, 0);

                if (i < 0)
                        for (size_t k = 0; k < l->n_devices; k++)
                                if ((l->devices[k].class >> 8) == 0x0600) {
                                        i = (int) k;
                                        break;
                                }
                l->iommu = i >= 0 && l->devices[i].vendor == 0x1022 ? LISTING_IOMMU_AMD : LISTING_IOMMU_INTEL;
        }
        if (!seen_ir)
                l->interrupt_remapping = true;
}

static int default_cmdline(Listing *l) {
        const char *extra = l->iommu == LISTING_IOMMU_AMD ? " amd_iommu=on" :
                            l->iommu == LISTING_IOMMU_INTEL ? " intel_iommu=on" : "";

        l->cmdline = strdup_printf("BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p2 ro quiet iommu=pt%s", extra);
        return l->cmdline ? 0 : -ENOMEM;
}

int listing_parse_string(const char *text, const char *filename, Listing **ret, char **ret_error) {
        _cleanup_free_ char *copy = strdup(text);
        Parser p = {
                .filename = filename ?: "<string>",
        };
        Section section = SECTION_DEVICES;
        char *s, *next;
        int r = 0;

        if (!copy)
                return -ENOMEM;

        p.listing = calloc(1, sizeof(Listing));
        if (!p.listing)
                return -ENOMEM;

        for (s = copy; s; s = next) {
                const char *header;
                char *line;

                next = strchr(s, '\n');
                if (next)
                        *next++ = 0;
                p.line++;
                line = strip(s);

                if (*line == 0)
                        continue;

                if ((header = section_header(line))) {
                        Section k;

                        for (k = SECTION_DRIVERS; k < _SECTION_MAX; k++)
                                if (streq(header, section_names[k]))
                                        break;
                        if (k == _SECTION_MAX) {
                                r = parse_error(&p, "unknown section '%s', expected one of drivers, boot_vga, sriov, iommu, "
                                                "interrupt_remapping, cmdline, framebuffer, modules, drm, net, block, sound, "
                                                "graphics, vtconsole, module_deps, module_nodes", header);
                                break;
                        }
                        section = k;
                        continue;
                }

                if (line[0] == '#')
                        continue; /* comment */

                if (section == SECTION_DEVICES)
                        r = parse_device_line(&p, line);
                else
                        r = parse_section_line(&p, section, line);
                if (r < 0)
                        break;
        }

        if (r >= 0 && p.listing->n_devices == 0) {
                p.line = 0;
                r = parse_error(&p, "no devices in the listing, expected lines 'IOMMU Group N ADDRESS CLASS [cccc]: NAME [vvvv:dddd]'");
        }
        if (r >= 0)
                r = check_nodes(&p);
        if (r >= 0)
                r = check_modules(&p);
        if (r >= 0) {
                p.listing->filename = strdup(p.filename);
                if (!p.listing->filename)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                apply_defaults(p.listing, p.seen_iommu, p.seen_ir);
                if (!p.listing->cmdline)
                        r = default_cmdline(p.listing);
        }
        if (r >= 0 && !p.listing->hash_size)
                r = hash_rebuild(p.listing);

        if (r < 0) {
                listing_free(p.listing);
                if (ret_error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        free(p.error);
        *ret = p.listing;
        return 0;
}

int listing_parse_file(const char *path, Listing **ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;

                if (ret_error)
                        *ret_error = strdup_printf("Failed to open %s: %s", path, strerror(-r));
                return r;
        }

        {
                FILE *m = open_memstream(&text, &size);
                char buf[65536];
                size_t k;

                if (!m)
                        return -ENOMEM;
                while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
                        if (fwrite(buf, 1, k, m) != k) {
                                fclose(m);
                                return -ENOMEM;
                        }
                if (ferror(f)) {
                        int r = -errno ?: -EIO;

                        fclose(m);
                        if (ret_error)
                                *ret_error = strdup_printf("Failed to read %s: %s", path, strerror(-r));
                        return r;
                }
                if (fclose(m) != 0)
                        return -ENOMEM;
        }

        if (memchr(text, 0, size)) {
                if (ret_error)
                        *ret_error = strdup_printf("%s: contains NUL bytes, not a listing", path);
                return -EINVAL;
        }

        return listing_parse_string(text, path, ret, ret_error);
}

Listing *listing_free(Listing *l) {
        if (!l)
                return NULL;

        for (size_t i = 0; i < l->n_devices; i++) {
                free(l->devices[i].class_name);
                free(l->devices[i].name);
                free(l->devices[i].driver);
        }
        free(l->devices);
        for (size_t i = 0; i < l->n_modules; i++) {
                free(l->modules[i].module);
                free(l->modules[i].pattern);
        }
        free(l->modules);
        for (size_t i = 0; i < l->n_nodes; i++) {
                free(l->nodes[i].name);
                free(l->nodes[i].path);
        }
        free(l->nodes);
        free(l->vtcons);
        for (size_t i = 0; i < l->n_module_deps; i++)
                module_items_done(l->module_deps + i);
        free(l->module_deps);
        for (size_t i = 0; i < l->n_module_nodes; i++)
                module_items_done(l->module_nodes + i);
        free(l->module_nodes);
        free(l->filename);
        free(l->cmdline);
        free(l->hash_keys);
        free(l->hash_values);
        free(l);
        return NULL;
}

const char *listing_iommu_to_string(ListingIommu i) {
        switch (i) {
        case LISTING_IOMMU_AMD:
                return "amd-iommu";
        case LISTING_IOMMU_INTEL:
                return "intel-iommu";
        default:
                return "none";
        }
}

const char *listing_framebuffer_to_string(ListingFramebuffer f) {
        switch (f) {
        case LISTING_FRAMEBUFFER_EFI:
                return "efi-framebuffer.0";
        case LISTING_FRAMEBUFFER_SIMPLE:
                return "simple-framebuffer.0";
        default:
                return "none";
        }
}

const char *listing_node_kind_to_string(ListingNodeKind k) {
        switch (k) {
        case LISTING_NODE_DRM:
                return "drm";
        case LISTING_NODE_NET:
                return "net";
        case LISTING_NODE_BLOCK:
                return "block";
        case LISTING_NODE_SOUND:
                return "sound";
        case LISTING_NODE_GRAPHICS:
                return "graphics";
        default:
                return NULL;
        }
}

const char *listing_vtcon_kind_to_string(ListingVtconKind k) {
        return k == LISTING_VTCON_DUMMY ? "dummy" : "fb";
}

int listing_driver_module(const char *driver, char **ret) {
        static const struct {
                const char *driver, *module;
        } table[] = {
                { "pcieport",    NULL          },
                { "xhci_hcd",    "xhci_pci"    },
                { "piix4_smbus", "i2c_piix4"   },
                { "ehci-pci",    "ehci_pci"    },
        };
        char *m;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(driver, table[i].driver)) {
                        if (!table[i].module) {
                                *ret = NULL;
                                return 0;
                        }
                        m = strdup(table[i].module);
                        if (!m)
                                return -ENOMEM;
                        *ret = m;
                        return 1;
                }

        m = strdup(driver);
        if (!m)
                return -ENOMEM;
        for (char *c = m; *c; c++)
                if (*c == '-')
                        *c = '_';
        *ret = m;
        return 1;
}
