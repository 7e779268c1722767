/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listing.h: parser for the machine description pcisim boots, i.e. the text
 * the usual "IOMMU Group N <lspci -nns line>" script prints, followed by
 * optional "# SECTION" blocks (drivers, boot_vga, sriov, iommu,
 * interrupt_remapping, cmdline, framebuffer, modules, drm, net, block, sound,
 * graphics, vtconsole, module_deps, module_nodes). Owns nothing but the parsed
 * representation; no sysfs knowledge lives here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ListingIommu {
        LISTING_IOMMU_AMD,
        LISTING_IOMMU_INTEL,
        LISTING_IOMMU_NONE,
} ListingIommu;

typedef enum ListingFramebuffer {
        LISTING_FRAMEBUFFER_NONE,
        LISTING_FRAMEBUFFER_EFI,
        LISTING_FRAMEBUFFER_SIMPLE,
} ListingFramebuffer;

typedef struct ListingDevice {
        unsigned domain, bus, slot, func;
        int group;                      /* -1: the line had no "IOMMU Group N" prefix */
        uint32_t class;                 /* 24 bit, class << 16 | subclass << 8 | prog-if */
        char *class_name;               /* "VGA compatible controller" */
        char *name;                     /* "NVIDIA Corporation TU117 [GeForce GTX 1650]" */
        uint16_t vendor, device;
        uint16_t subsystem_vendor, subsystem_device;
        uint8_t revision;
        char *driver;                   /* from "# drivers", NULL: no driver */
        bool boot_vga;
        int physfn;                     /* index of the PF for SR-IOV VFs, else -1 */
        unsigned line;                  /* line number in the listing */
} ListingDevice;

typedef struct ListingModuleAlias {
        char *module;
        char *pattern;
} ListingModuleAlias;

/* A node a function's driver creates while bound: "# drm", "# net", "# block", "# sound" and
 * "# graphics" items (a "# graphics" item may belong to the platform framebuffer instead). */
typedef enum ListingNodeKind {
        LISTING_NODE_DRM,
        LISTING_NODE_NET,
        LISTING_NODE_BLOCK,
        LISTING_NODE_SOUND,
        LISTING_NODE_GRAPHICS,
        _LISTING_NODE_KIND_MAX,
} ListingNodeKind;

typedef struct ListingNode {
        ListingNodeKind kind;
        int device;                     /* index into Listing.devices; -1: graphics of the platform framebuffer */
        ListingFramebuffer platform;    /* graphics with device -1: which one */
        char *name;                     /* "card0", "renderD128", "enp33s0", "nvme0n1", "controlC1", "fb0" */
        unsigned minor;                 /* drm: the number in the name (major 226); sound: the static
                                         * ALSA minor (major 116); graphics: N of fbN (major 29) */
        unsigned card;                  /* sound: the card number */
        bool sound_card;                /* sound: the card itself ("card1"), which has no device number */
        char *path;                     /* block: the path whose file system gives MAJ:MIN */
        unsigned line;                  /* line number in the listing */
} ListingNode;

/* "# vtconsole": a console driver registered with the VT layer. */
typedef enum ListingVtconKind {
        LISTING_VTCON_DUMMY,            /* the system driver: "(S) dummy device" */
        LISTING_VTCON_FB,               /* fbcon, modular: "(M) frame buffer device" */
} ListingVtconKind;

typedef struct ListingVtcon {
        unsigned number;                /* N of vtconN */
        ListingVtconKind kind;
        unsigned line;
} ListingVtcon;

/* A "# module_deps" line (items: the modules MODULE depends on) or a "# module_nodes" line
 * (items: names under /dev that exist while MODULE is loaded). Names are normalized ('-' → '_')
 * for modules, kept as written for nodes. */
typedef struct ListingModuleItems {
        char *module;
        char **items;                   /* NULL terminated */
        size_t n_items;
        unsigned line;
} ListingModuleItems;

typedef struct Listing {
        char *filename;                 /* as given to the parser, for FILE:LINE messages later */

        ListingDevice *devices;
        size_t n_devices;

        ListingIommu iommu;
        bool interrupt_remapping;
        char *cmdline;
        ListingFramebuffer framebuffer;

        ListingModuleAlias *modules;
        size_t n_modules;

        ListingNode *nodes;             /* in listing order; a sound card before its nodes */
        size_t n_nodes;

        ListingVtcon *vtcons;           /* in listing order */
        size_t n_vtcons;

        ListingModuleItems *module_deps;
        size_t n_module_deps;
        ListingModuleItems *module_nodes;
        size_t n_module_nodes;

        /* private: address → index hash */
        uint32_t *hash_keys;
        int *hash_values;
        size_t hash_size;
} Listing;

/* Parse a listing. On failure returns a negative errno and, for syntax errors (-EINVAL), sets
 * *ret_error to "FILE:LINE: what was expected". */
int listing_parse_file(const char *path, Listing **ret, char **ret_error);
int listing_parse_string(const char *text, const char *filename, Listing **ret, char **ret_error);
Listing *listing_free(Listing *l);

/* Index of the device with this address, or -1. */
int listing_find(const Listing *l, unsigned domain, unsigned bus, unsigned slot, unsigned func);

/* Parses "BB:DD.F" or "DDDD:BB:DD.F" (hex), the whole string. */
int listing_parse_address(const char *s, unsigned *ret_domain, unsigned *ret_bus, unsigned *ret_slot, unsigned *ret_func);

const char *listing_iommu_to_string(ListingIommu i);
const char *listing_framebuffer_to_string(ListingFramebuffer f);
/* "drm", "net", "block", "sound", "graphics": the section, the directory name below the function
 * in /sys and the class name. */
const char *listing_node_kind_to_string(ListingNodeKind k);
const char *listing_vtcon_kind_to_string(ListingVtconKind k);

/* The "# module_deps" line of a module (normalized name), or NULL. */
const ListingModuleItems *listing_module_deps(const Listing *l, const char *module);

/* Kernel module name a driver name belongs to ("xhci_hcd" → "xhci_pci"), NULL for built-in
 * drivers (pcieport). Returns a newly allocated string via *ret. */
int listing_driver_module(const char *driver, char **ret);
