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
} Journal;

void journal_done(Journal *j);

/* Opens (creating it if needed) the runtime directory. */
int runtime_dir_open(const char *path);

int journal_write(int dirfd, const Journal *j);
int journal_read(int dirfd, const char *name, Journal *ret);
int journal_remove(int dirfd, unsigned group);
/* The names of the journals left in the directory, sorted. */
int journal_list(int dirfd, char ***ret);

/* The host-drivers record: (address, driver, module) of each function sent to vfio-pci. */
int records_load(int dirfd, FunctionState **ret, size_t *ret_n);
int records_save(int dirfd, const FunctionState *records, size_t n);
