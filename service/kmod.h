/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel modules through libkmod: which module serves a modalias, whether a module exists.
 */
#pragma once

#include <libkmod.h>

#include "macro.h"

typedef enum ModuleStatus {
        MODULE_MISSING,   /* neither built in nor in /lib/modules */
        MODULE_AVAILABLE, /* can be loaded */
        MODULE_LOADED,
        MODULE_BUILTIN,
        _MODULE_STATUS_MAX,
        _MODULE_STATUS_INVALID = -EINVAL,
} ModuleStatus;

int kmod_setup(struct kmod_ctx **ret);

/* The first module whose alias matches; *ret = NULL (and 0) when none does. */
int kmod_module_for_modalias(struct kmod_ctx *ctx, const char *modalias, char **ret);

int kmod_module_status(struct kmod_ctx *ctx, const char *name, ModuleStatus *ret);
