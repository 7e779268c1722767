/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a plan as a transaction (see transaction.h): journal, helper with deadline, verify,
 * and the undo. Touches the runtime directory (journal) and, through vfio.c in helpers,
 * the kernel's files.
 */
#include <stdio.h>

#include "log.h"
#include "sysfs.h"
#include "release.h"
#include "transaction.h"
#include "util.h"

static void advance(Transaction *t);

int transaction_new(Journal *journal, Plan *plan, sd_event *event, struct kmod_ctx *kmod, int dirfd,
                    uint64_t timeout_usec, const TransactionHooks *hooks, void *userdata, Transaction **ret) {
        Transaction *t;

        t = calloc(1, sizeof(Transaction));
        if (!t)
                return -ENOMEM;
        t->journal = *journal;
        *journal = (Journal) {};
        if (plan) {
                t->plan = *plan;
                *plan = (Plan) {};
        }
        t->event = sd_event_ref(event);
        t->kmod = kmod;
        t->dirfd = dirfd;
        t->timeout_usec = timeout_usec;
        t->hooks = *hooks;
        t->userdata = userdata;
        *ret = t;
        return 0;
}

Transaction *transaction_free(Transaction *t) {
        if (!t)
                return NULL;
        worker_free(t->worker);
        journal_done(&t->journal);
        plan_done(&t->plan);
        plan_done(&t->done);
        plan_done(&t->undo);
        free(t->failure);
        free(t->failure_argument);
        free(t->undo_problems);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}

bool transaction_has_function(const Transaction *t, const PciAddress *a) {
        for (size_t i = 0; i < t->journal.n_origins; i++)
                if (pci_address_equal(&t->journal.origins[i].address, a))
                        return true;
        return false;
}

static void settle(Transaction *t) {
        /* Last thing on every path: the owner may free t here once it is finished. */
        if (t->hooks.settled)
                t->hooks.settled(t, t->userdata);
}

static int run_current_step(void *userdata) {
        Transaction *t = userdata;
        return step_execute(t->current, t->kmod);
}

static const char *errno_name(int error) {
        const char *n = strerrorname_np(ERRNO_VALUE(error));
        return n ?: "?";
}

/* Adds "problem" to what the undo could not restore (reported to the caller and logged). */
static void add_undo_problem(Transaction *t, const char *problem) {
        char *n = NULL;

        log_error("Undo of group %u: %s", t->journal.group, problem);
        if (asprintf(&n, "%s%s%s", strempty(t->undo_problems), t->undo_problems ? "; " : "", problem) < 0)
                return;
        free(t->undo_problems);
        t->undo_problems = n;
}

static void note_undo_problem(Transaction *t, const Step *s, int error, const char *what) {
        _cleanup_free_ char *desc = step_describe(s), *problem = NULL;

        if (asprintf(&problem, "%s: %s", strempty(desc), what ?: strerror(ERRNO_VALUE(error))) >= 0)
                add_undo_problem(t, problem);
}

static int append_problem(char **problems, const char *problem) {
        char *n;

        if (asprintf(&n, "%s%s%s", strempty(*problems), *problems ? "; " : "", problem) < 0)
                return -ENOMEM;
        free(*problems);
        *problems = n;
        return 0;
}

int plan_restore(const Journal *j, bool unload_loaded, Plan *p, char **problems) {
        int r;

        /* What a Return has bound again goes first, as the Handoff released it: the consoles,
         * then the frame buffer they draw on. */
        for (char **c = j->bound_consoles; c && *c; c++)
                if (console_bound(*c) > 0) {
                        r = plan_add(p, STEP_UNBIND_CONSOLE, NULL, *c, -1);
                        if (r < 0)
                                return r;
                }
        for (char **f = j->bound_framebuffers; f && *f; f++)
                if (framebuffer_bound(*f) > 0) {
                        r = plan_add(p, STEP_UNBIND_FRAMEBUFFER, NULL, *f, -1);
                        if (r < 0)
                                return r;
                }

        /* Per function, in reverse: its override back first (so the right driver can take
         * it), then off its current driver, its module if gone, and drivers_probe. The
         * override is written without being read: reading it would wait for the kernel's
         * device lock in this process (a daemon restarted while an unbind is still stuck),
         * a write waits in a helper, with a deadline. */
        for (size_t i = j->n_origins; i > 0; i--) {
                const FunctionState *origin = &j->origins[i - 1];
                FunctionState now = {}, target = {};
                char a[PCI_ADDRESS_STRING_MAX];

                r = function_state_read(&origin->address, origin->group, false, &now);
                if (r < 0) {
                        _cleanup_free_ char *problem = NULL;
                        if (asprintf(&problem, "%s could not be read (%s)", pci_address_format(&origin->address, a),
                                     strerror(ERRNO_VALUE(r))) < 0 ||
                            append_problem(problems, problem) < 0)
                                return -ENOMEM;
                        continue;
                }
                r = function_state_copy(&target, origin);
                if (r >= 0) {
                        if (target.driver && sysfs_pci_driver_registered(target.driver))
                                target.module = mfree(target.module);
                        r = target.override ? plan_add(p, STEP_SET_OVERRIDE, &origin->address, target.override, -1)
                                            : plan_add(p, STEP_CLEAR_OVERRIDE, &origin->address, NULL, -1);
                        if (r >= 0 && free_and_strdup(&now.override, target.override) < 0)
                                r = -ENOMEM;
                        if (r >= 0)
                                r = plan_move(p, &now, &target, false);
                }
                function_state_done(&now);
                function_state_done(&target);
                if (r < 0)
                        return r;
        }
        if (unload_loaded)
                for (char **m = j->loaded_modules; m && *m; m++) {
                        r = plan_add(p, STEP_UNLOAD_MODULE, NULL, *m, -1);
                        if (r < 0)
                                return r;
                }

        /* The host's hold, in the reverse of the order it was released in: the modules
         * unloaded (holders last), the firmware frame buffer, then the consoles on it. What
         * is there already is left alone. */
        for (size_t i = strv_length(j->unloaded_modules); i > 0; i--) {
                const char *m = j->unloaded_modules[i - 1];
                if (module_loaded(m) || plan_has_module_step(p, STEP_LOAD_MODULE, m))
                        continue;
                r = plan_add(p, STEP_LOAD_MODULE, NULL, m, -1);
                if (r < 0)
                        return r;
        }
        for (char **f = j->framebuffers; f && *f; f++)
                if (framebuffer_bound(*f) == 0) {
                        r = plan_add(p, STEP_BIND_FRAMEBUFFER, NULL, *f, -1);
                        if (r < 0)
                                return r;
                }
        for (char **c = j->consoles; c && *c; c++)
                if (console_bound(*c) == 0) {
                        r = plan_add(p, STEP_BIND_CONSOLE, NULL, *c, -1);
                        if (r < 0)
                                return r;
                }
        /* Last, on a console again: the display manager (starting an active unit is a no-op).
         * A Return's undo stops nothing: this is its last step, and a start job that failed
         * leaves the unit not running. */
        for (char **u = j->stopped_units; u && *u; u++) {
                r = plan_add(p, STEP_START_UNIT, NULL, *u, -1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Records the modules a load brings in (mods: the module, then its dependencies) before it
 * runs, in the order the undo unloads them: a later load's modules before an earlier one's,
 * since they may depend on those (a Return loads nvidia, then nvidia_modeset on top of it). */
static int journal_add_loaded(Journal *j, char *const *mods) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (char *const *m = mods; m && *m; m++) {
                r = strv_extend_unique(&l, *m);
                if (r < 0)
                        return r;
        }
        for (char **m = j->loaded_modules; m && *m; m++) {
                r = strv_extend_unique(&l, *m);
                if (r < 0)
                        return r;
        }
        strv_free(j->loaded_modules);
        j->loaded_modules = TAKE_PTR(l);
        return 0;
}

static void begin_undo(Transaction *t) {
        _cleanup_free_ char *problems = NULL;
        int r;

        t->undoing = true;
        t->undo_next = 0;
        plan_done(&t->undo);

        r = plan_restore(&t->journal, true, &t->undo, &problems);
        if (problems)
                add_undo_problem(t, problems);
        if (r < 0)
                log_error_errno(r, "Failed to plan the undo: %m");
        advance(t);
}


static void fail(Transaction *t, const Step *s, size_t index, int error, const char *what) {
        _cleanup_free_ char *desc = step_describe(s);

        free(t->failure);
        t->failure = NULL;
        t->failure_errno = error;
        t->failure_kind = s->kind;
        (void) free_and_strdup(&t->failure_argument, s->argument);
        if (asprintf(&t->failure, "Step %zu of %zu (%s: %s) failed: %s (%s)", index + 1, t->plan.n_steps,
                     step_kind_to_string(s->kind), strempty(desc), what ?: strerror(ERRNO_VALUE(error)),
                     errno_name(error)) < 0)
                t->failure = NULL;
        log_warning("%s; undoing.", strempty(t->failure));
        begin_undo(t);
}

static void step_finished_with(Transaction *t, const Step *s, int result, const char *what);

static void step_finished(Transaction *t, const Step *s, int result) {
        _cleanup_free_ char *what = NULL;

        if (result >= 0)
                result = step_verify(s, &what);
        step_finished_with(t, s, result, what);
}

void transaction_step_done(Transaction *t, int result, const char *what) {
        step_finished_with(t, t->current, result, what);
}

static void step_finished_with(Transaction *t, const Step *s, int result, const char *what) {
        if (t->undoing) {
                if (result < 0)
                        note_undo_problem(t, s, result, what);
                else if (t->hooks.verified)
                        t->hooks.verified(t, s, t->userdata);
                t->undo_next++;
                advance(t);
                return;
        }
        if (result < 0) {
                fail(t, s, t->next, result, what);
                return;
        }
        if (t->hooks.verified)
                t->hooks.verified(t, s, t->userdata);
        (void) plan_add(&t->done, s->kind, &s->address, s->argument, s->group);
        t->next++;
        advance(t);
}

static void on_step_done(Worker *w, int result, void *userdata) {
        Transaction *t = userdata;
        const Step *s = t->current;

        if (result == -ETIME) {
                _cleanup_free_ char *desc = step_describe(s);
                bool first = t->outcome == TRANSACTION_RUNNING;

                t->stuck = true;
                t->stuck_on_function = step_kind_is_function(s->kind);
                t->stuck_address = s->address;
                if (first) {
                        free(t->failure);
                        if (asprintf(&t->failure, "Step %zu of %zu (%s: %s) did not return within %" PRIu64 " s",
                                     (t->undoing ? t->undo_next : t->next) + 1,
                                     t->undoing ? t->undo.n_steps : t->plan.n_steps, step_kind_to_string(s->kind),
                                     strempty(desc), t->timeout_usec / 1000000) < 0)
                                t->failure = NULL;
                        t->outcome = TRANSACTION_STUCK;
                }
                log_error("%s: the kernel is stuck in it. The undo waits until it returns.", strempty(desc));
                settle(t);
                return;
        }
        t->worker = worker_free(t->worker);
        step_finished(t, s, result);
}

static void on_step_finally(Worker *w, int result, void *userdata) {
        Transaction *t = userdata;
        _cleanup_free_ char *desc = step_describe(t->current);

        log_notice("The stuck step \"%s\" returned (%s) after its deadline; undoing the transaction.", strempty(desc),
                   result < 0 ? strerror(ERRNO_VALUE(result)) : "success");
        t->stuck = false;
        t->worker = worker_free(t->worker);
        if (t->undoing) {
                if (result < 0)
                        note_undo_problem(t, t->current, result, NULL);
                t->undo_next++;
                advance(t);
        } else
                begin_undo(t);
}

static void succeed(Transaction *t) {
        int r;

        if (t->hooks.committed)
                t->hooks.committed(t, t->userdata);
        r = journal_remove(t->dirfd, t->journal.group);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the journal of group %u: %m", t->journal.group);
        t->outcome = TRANSACTION_SUCCEEDED;
        t->finished = true;
        settle(t);
}

static void undo_finished(Transaction *t) {
        int r;

        r = journal_remove(t->dirfd, t->journal.group);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the journal of group %u: %m", t->journal.group);
        if (t->undo_problems)
                log_error("The undo of group %u's %s left problems: %s", t->journal.group,
                          operation_to_string(t->journal.operation), t->undo_problems);
        else
                log_info("Group %u is back where it was before the %s.", t->journal.group,
                         operation_to_string(t->journal.operation));
        if (t->outcome == TRANSACTION_RUNNING)
                t->outcome = TRANSACTION_FAILED;
        t->finished = true;
        settle(t);
}

static void advance(Transaction *t) {
        const Step *s;
        int r;

        for (;;) {
                if (!t->undoing) {
                        if (t->next >= t->plan.n_steps) {
                                succeed(t);
                                return;
                        }
                        s = &t->plan.steps[t->next];
                        if (s->kind == STEP_UNCHANGED) {
                                (void) plan_add(&t->done, s->kind, &s->address, s->argument, s->group);
                                t->next++;
                                continue;
                        }
                        if (s->kind == STEP_LOAD_MODULE) {
                                _cleanup_strv_free_ char **mods = NULL;
                                /* Recorded before the load, so that a crash during it unloads them. */
                                r = t->kmod ? modules_to_be_loaded(t->kmod, s->argument, &mods) : 0;
                                if (r >= 0)
                                        r = journal_add_loaded(&t->journal, mods);
                                if (r < 0) {
                                        fail(t, s, t->next, r, "cannot resolve the module's dependencies");
                                        return;
                                }
                        }
                        if (s->kind == STEP_BIND_CONSOLE || s->kind == STEP_BIND_FRAMEBUFFER) {
                                /* Likewise: the undo releases it again. */
                                char ***bound = &t->journal.bound_framebuffers;
                                if (s->kind == STEP_BIND_CONSOLE)
                                        bound = &t->journal.bound_consoles;
                                r = strv_extend_unique(bound, s->argument);
                                if (r < 0) {
                                        fail(t, s, t->next, r, NULL);
                                        return;
                                }
                        }
                        t->journal.step = t->next;
                } else {
                        if (t->undo_next >= t->undo.n_steps) {
                                undo_finished(t);
                                return;
                        }
                        s = &t->undo.steps[t->undo_next];
                        if (s->kind == STEP_UNCHANGED) {
                                t->undo_next++;
                                continue;
                        }
                        if (s->kind == STEP_UNLOAD_MODULE) {
                                r = module_in_use(s->argument);
                                if (r != 0) {
                                        /* Not loaded any more is fine; used by others: keep it. */
                                        log_debug("Keeping module %s loaded: %s.", s->argument,
                                                  r > 0 ? "in use" : strerror(ERRNO_VALUE(r)));
                                        t->undo_next++;
                                        continue;
                                }
                                if (!module_loaded(s->argument)) {
                                        t->undo_next++;
                                        continue;
                                }
                        }
                        t->journal.step = t->undo_next;
                }

                free(t->journal.step_text);
                t->journal.step_text = step_describe(s);
                r = journal_write(t->dirfd, &t->journal);
                if (r < 0) {
                        log_error_errno(r, "Failed to write the journal of group %u: %m", t->journal.group);
                        if (!t->undoing) {
                                fail(t, s, t->next, r, "the transaction journal could not be written");
                                return;
                        }
                }

                if (t->hooks.progress)
                        t->hooks.progress(t, s, t->undoing, t->userdata);
                t->current = s;
                if (step_kind_is_inline(s->kind)) {
                        r = t->hooks.run_step ? t->hooks.run_step(t, s, t->userdata) : -EOPNOTSUPP;
                        if (r < 0)
                                transaction_step_done(t, r, NULL);
                        return;
                }
                r = worker_start(t->event, t->timeout_usec, run_current_step, t, on_step_done, on_step_finally, t,
                                 &t->worker);
                if (r < 0)
                        step_finished(t, s, r);
                return;
        }
}

int transaction_start(Transaction *t) {
        t->undoing = false;
        t->next = 0;
        advance(t);
        return 0;
}

int transaction_start_undo(Transaction *t) {
        begin_undo(t);
        return 0;
}
