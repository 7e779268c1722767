/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkmod glue. libkmod reads /lib/modules/$(uname -r)/modules.{alias,dep,builtin}.bin,
 * /etc/modprobe.d and /sys/module itself; nothing here builds a path.
 */
#include <stdio.h>

#include "kmod.h"
#include "log.h"
#include "util.h"

static void kmod_log_to_debug(void *data, int priority, const char *file, int line, const char *fn,
                              const char *format, va_list args) {
        char buf[1024];

        if (log_get_max_level() < LOG_DEBUG)
                return;
        vsnprintf(buf, sizeof(buf), format, args);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("libkmod: %s", buf);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_ctx *, kmod_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_module *, kmod_module_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_list *, kmod_module_unref_list);

int kmod_setup(struct kmod_ctx **ret) {
        _cleanup_(kmod_unrefp) struct kmod_ctx *ctx = NULL;
        int r;

        ctx = kmod_new(NULL, NULL);
        if (!ctx)
                return -ENOMEM;
        kmod_set_log_fn(ctx, kmod_log_to_debug, NULL);
        /* Without an index (no /lib/modules for this kernel) lookups just find nothing. */
        r = kmod_load_resources(ctx);
        if (r < 0)
                log_debug_errno(r, "Failed to load the module indexes, lookups will find nothing: %m");
        *ret = TAKE_PTR(ctx);
        return 0;
}

int kmod_module_for_modalias(struct kmod_ctx *ctx, const char *modalias, char **ret) {
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *l;
        int r;

        *ret = NULL;
        if (isempty(modalias))
                return 0;
        r = kmod_module_new_from_lookup(ctx, modalias, &list);
        if (r < 0)
                return r;
        kmod_list_foreach(l, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = kmod_module_get_module(l);
                const char *name = mod ? kmod_module_get_name(mod) : NULL;

                if (!name)
                        continue;
                /* vfio-pci matches everything through driver_override only; it is never
                 * anybody's host driver. */
                if (streq(name, "vfio_pci"))
                        continue;
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
}

int kmod_module_status(struct kmod_ctx *ctx, const char *name, ModuleStatus *ret) {
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        int r, state;

        r = kmod_module_new_from_name(ctx, name, &mod);
        if (r < 0)
                return r;
        state = kmod_module_get_initstate(mod);
        if (state == KMOD_MODULE_BUILTIN)
                *ret = MODULE_BUILTIN;
        else if (state == KMOD_MODULE_LIVE || state == KMOD_MODULE_COMING)
                *ret = MODULE_LOADED;
        else if (kmod_module_get_path(mod))
                *ret = MODULE_AVAILABLE;
        else
                *ret = MODULE_MISSING;
        return 0;
}
