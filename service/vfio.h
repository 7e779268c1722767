/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel sequences that move a PCI function between drivers through driver_override
 * (never new_id): the steps, planned from what sysfs shows, each executed by one write
 * (or one libkmod call) and then verified against what the kernel actually did.
 * Touches /sys/bus/pci/devices/ADDR/driver_override, /sys/bus/pci/drivers/DRV/unbind,
 * /sys/bus/pci/drivers_probe, /sys/module and /dev/vfio. No sd-bus, no event loop.
 */
#pragma once

#include <libkmod.h>
#include <stdint.h>

#include "pci-address.h"

typedef enum StepKind {
        STEP_LOAD_MODULE,    /* argument: module */
        STEP_UNLOAD_MODULE,  /* argument: module (only when undoing our own load) */
        STEP_SET_OVERRIDE,   /* argument: the driver to write to driver_override */
        STEP_CLEAR_OVERRIDE,
        STEP_UNBIND,         /* argument: the driver bound now */
        STEP_PROBE,          /* argument: the driver expected after drivers_probe */
        STEP_UNCHANGED,      /* argument: the driver the function stays on, NULL: none */
        /* The host's hold on a GPU (release.c): */
        STEP_UNBIND_CONSOLE,     /* argument: "vtconN" */
        STEP_BIND_CONSOLE,
        STEP_UNBIND_FRAMEBUFFER, /* argument: the platform device, "efi-framebuffer.0" */
        STEP_BIND_FRAMEBUFFER,
        /* Run by the daemon itself, not by a helper (TransactionHooks.run_step): */
        STEP_STOP_UNIT,          /* argument: the unit, "display-manager.service" (systemd's D-Bus API) */
        STEP_START_UNIT,
        STEP_CHECK_CONSUMERS,    /* argument: the GPU; fails when a process still holds its nodes */
        STEP_START_DOMAIN,       /* argument: the libvirt domain's name (libvirt's API, virDomainCreate) */
        _STEP_KIND_MAX,
        _STEP_KIND_INVALID = -EINVAL,
} StepKind;

const char *step_kind_to_string(StepKind k) _pure_;
/* Does a step of this kind write to a PCI function (its address is meaningful)? */
bool step_kind_is_function(StepKind k) _const_;
/* Is a step of this kind run by the daemon (bus calls, /proc), not in a helper process? */
bool step_kind_is_inline(StepKind k) _const_;
StepKind step_kind_from_string(const char *s) _pure_;

typedef struct Step {
        StepKind kind;
        PciAddress address; /* unused for module steps */
        char *argument;
        int64_t group; /* STEP_PROBE to vfio-pci: the group whose /dev/vfio node must appear; -1 */
} Step;

typedef struct Plan {
        Step *steps;
        size_t n_steps;
} Plan;

void plan_done(Plan *p);
int plan_add(Plan *p, StepKind kind, const PciAddress *a, const char *argument, int64_t group);
bool plan_has_module_step(const Plan *p, StepKind kind, const char *module);

/* Where a function is, or should be. */
typedef struct FunctionState {
        PciAddress address;
        int64_t group;
        char *driver;   /* NULL: none */
        char *module;   /* the driver's module; NULL: built in, none or unknown */
        char *override; /* NULL: none */
} FunctionState;

void function_state_done(FunctionState *s);
int function_state_copy(FunctionState *dst, const FunctionState *src);

/* Reads the function's driver, its module and (with_override) driver_override from sysfs.
 * Reading driver_override takes the kernel's device lock, which an unbind stuck in a driver
 * holds: only with_override = false never blocks. */
int function_state_read(const PciAddress *a, int64_t group, bool with_override, FunctionState *ret);

/* Appends the steps that move a function from `from` to `to` (driver and override):
 * override first (so that nothing else can grab the function once it is unbound), unbind,
 * then the target driver's module when its driver is not registered (to->module), then
 * drivers_probe. load_module_first: the module step comes first instead (Detach loads
 * vfio-pci before it touches anything). A function already there gets STEP_UNCHANGED. */
int plan_move(Plan *p, const FunctionState *from, const FunctionState *to, bool load_module_first);

/* "0000:26:00.0: unbind from nvidia" */
char *step_describe(const Step *s);

/* Performs the step's write (or libkmod call); may block forever in the kernel, so the
 * daemon runs it in a helper process. Returns 0 or the kernel's -errno. */
int step_execute(const Step *s, struct kmod_ctx *kmod);

/* Checks that the kernel did what the step asked (the driver link, driver_override, the
 * module and /dev/vfio/N); 0, or -errno with *ret_what saying what is wrong. */
int step_verify(const Step *s, char **ret_what);

/* Modules a load of `module` brings in that are not loaded now, the module itself first
 * then its dependencies (the order to unload them in). */
int modules_to_be_loaded(struct kmod_ctx *kmod, const char *module, char ***ret);

/* Is the module in use: a module depends on it (refcnt) or one of its drivers has a PCI
 * function bound? 1, 0, or -errno. */
int module_in_use(const char *module);

/* Is /sys/module/MODULE there? */
bool module_loaded(const char *module);
