/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon keeps in its runtime directory (/run/passthru1, $RUNTIME_DIRECTORY):
 * the journal of each open transaction ("group-N.journal": where every function it touches
 * was before, the modules it loaded, the step about to run), and the record of the host
 * drivers of the functions it gave to vfio-pci ("host-drivers"). Both are written atomically
 * and are readable by people. No sd-bus.
 */
#pragma once

#include "vfio.h"

typedef enum Operation {
        OPERATION_DETACH,
        OPERATION_REATTACH,
        OPERATION_HANDOFF,
        OPERATION_RETURN,
        _OPERATION_MAX,
        _OPERATION_INVALID = -EINVAL,
} Operation;

const char *operation_to_string(Operation o) _pure_;
Operation operation_from_string(const char *s) _pure_;

typedef struct Journal {
        Operation operation;
        unsigned group;
        FunctionState *origins; /* where each function was before; the undo returns it there */
        size_t n_origins;
        char **loaded_modules; /* modules this transaction loaded, unload order */
        size_t step;           /* index of the step about to run (informational) */
        char *step_text;

        /* Handoff and Return: the GPU, its domain, and the host's hold the Handoff releases,
         * as it was before (the undo and Return restore it): */
        bool has_gpu;
        PciAddress gpu;
        char *domain;            /* NULL: none ("detach only") */
        char **consoles;         /* vtconN bound to a frame buffer before */
        char **framebuffers;     /* firmware frame buffers bound before */
        char **unloaded_modules; /* modules loaded before and unloaded by it, in unload order */
        char **stopped_units;    /* units active before that it stopped (the display manager) */

        /* A Return: the consoles and frame buffers it has bound again so far, each recorded
         * before its bind, so that its undo (also after a crash) releases them again. */
        char **bound_consoles;
        char **bound_framebuffers;
} Journal;

void journal_done(Journal *j);

/* Opens (creating it if needed) the runtime directory. */
int runtime_dir_open(const char *path);

int journal_write(int dirfd, const Journal *j);
/* The same content under another name: the record of a GPU handed off ("gpu-…handoff"). */
int journal_write_named(int dirfd, const char *name, const Journal *j);
int journal_read(int dirfd, const char *name, Journal *ret);
int journal_remove(int dirfd, unsigned group);
/* The names of the journals left in the directory, sorted. */
int journal_list(int dirfd, char ***ret);

/* "gpu-pci_0000_26_00_0.handoff": the record of a handed-off GPU (a Journal of operation
 * handoff, written when it commits, removed when Return commits). */
void handoff_record_name(const PciAddress *gpu, char buf[static 64]);
/* The handoff records in the directory, sorted. */
int handoff_record_list(int dirfd, char ***ret);

/* The host-drivers record: (address, driver, module) of each function sent to vfio-pci. */
int records_load(int dirfd, FunctionState **ret, size_t *ret_n);
int records_save(int dirfd, const FunctionState *records, size_t n);
