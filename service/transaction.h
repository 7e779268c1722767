/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A transaction: the steps of one Detach or Reattach run one by one, each journaled before
 * it runs, executed in a helper process with a deadline, and verified; on a failure the
 * functions touched are returned to where they were (override first, then driver, then the
 * modules the transaction loaded). Also used at start-up to finish the undo of a journal a
 * dead daemon left behind. No sd-bus: the owner learns of progress through hooks.
 */
#pragma once

#include <systemd/sd-event.h>

#include "journal.h"
#include "vfio.h"
#include "worker.h"

typedef struct Transaction Transaction;

typedef enum TransactionOutcome {
        TRANSACTION_RUNNING,
        TRANSACTION_SUCCEEDED,
        TRANSACTION_FAILED, /* undone; see failure, undo_problems */
        TRANSACTION_STUCK,  /* a step passed its deadline; the undo follows when the kernel returns */
} TransactionOutcome;

typedef struct TransactionHooks {
        /* A step is about to run (undo steps included, with undoing set). */
        void (*progress)(Transaction *t, const Step *s, bool undoing, void *userdata);
        /* The kernel did what a step asked: re-read the function, signal. */
        void (*verified)(Transaction *t, const Step *s, void *userdata);
        /* The forward steps all succeeded; called before the journal is removed. */
        void (*committed)(Transaction *t, void *userdata);
        /* The outcome is known (succeeded, failed after the undo, or stuck), or, after stuck,
         * the transaction is over (finished set). */
        void (*settled)(Transaction *t, void *userdata);
        /* Runs a step of an inline kind (step_kind_is_inline()); calls transaction_step_done()
         * once it is over (maybe before returning). Returns < 0 when it could not start. */
        int (*run_step)(Transaction *t, const Step *s, void *userdata);
} TransactionHooks;

struct Transaction {
        Journal journal; /* operation, group, origins, modules loaded */
        Plan plan;       /* forward steps */
        size_t next;
        Plan done;       /* forward steps done, for the reply */
        Plan undo;
        size_t undo_next;
        bool undoing;
        TransactionOutcome outcome;
        bool finished;       /* nothing more will happen; the owner may free it */
        bool stuck;          /* a helper is past its deadline now */
        PciAddress stuck_address;
        bool stuck_on_function;
        char *failure;       /* what failed, for the error reply */
        char *undo_problems; /* what the undo could not restore */
        int failure_errno;
        StepKind failure_kind; /* the kind of the step that failed */
        char *failure_argument; /* its argument (a module refusing to unload: InUse names it) */

        sd_event *event;
        struct kmod_ctx *kmod;
        int dirfd; /* runtime directory, not owned */
        uint64_t timeout_usec;
        Worker *worker;
        const Step *current;
        TransactionHooks hooks;
        void *userdata;
};

/* The steps that bring back everything the journal records (see begin_undo; Return): the
 * consoles and frame buffers a Return bound released again; each function to its origin;
 * with unload_loaded the modules the transaction loaded unloaded; the modules it unloaded
 * loaded again (in reverse), the frame buffers and consoles bound again. What cannot be read
 * is added to *problems. */
int plan_restore(const Journal *j, bool unload_loaded, Plan *p, char **problems);

/* Takes the journal (origins, operation, group) and the plan. */
int transaction_new(Journal *journal, Plan *plan, sd_event *event, struct kmod_ctx *kmod, int dirfd,
                    uint64_t timeout_usec, const TransactionHooks *hooks, void *userdata, Transaction **ret);
Transaction *transaction_free(Transaction *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Transaction *, transaction_free);

/* Runs the forward steps. */
int transaction_start(Transaction *t);
/* Returns every function of the journal to its origin (reconciliation after a crash). */
int transaction_start_undo(Transaction *t);

/* The end of a step run by hooks.run_step: result 0 or -errno, what a sentence (may be NULL). */
void transaction_step_done(Transaction *t, int result, const char *what);

/* Does the transaction touch function a? */
bool transaction_has_function(const Transaction *t, const PciAddress *a);
