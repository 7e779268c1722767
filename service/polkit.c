/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Authorization through polkitd's CheckAuthorization, asked asynchronously so that the
 * daemon keeps serving while an administrator types a password. The subject is the
 * caller's unique bus name ("system-bus-name"), never a pid or uid, which could be reused.
 * When the answer arrives, the original method call is put back into sd-bus's read queue
 * and its handler runs again from the start, looking every object up anew; it then finds
 * the answer here. Touches no files.
 */
#include "log.h"
#include "polkit.h"

struct PolkitQuery {
        PolkitQuery *next;
        sd_bus_message *request; /* the method call being authorized */
        sd_bus_slot *slot;       /* the CheckAuthorization call in flight */
        char *action;
        bool answered;
        bool allowed;
        bool interactive; /* the caller allowed interactive authorization */
        sd_bus_error error; /* why not, when answered and not allowed */
};

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        free(q->action);
        free(q);
        return NULL;
}

void polkit_registry_done(PolkitRegistry *r) {
        while (r->queries) {
                PolkitQuery *q = r->queries;
                r->queries = q->next;
                query_free(q);
        }
}

static int deny(PolkitQuery *q, const char *name, const char *reason) {
        q->answered = true;
        q->allowed = false;
        return sd_bus_error_setf(&q->error, name, "Not authorized: %s (polkit action %s).", reason, q->action);
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        int authorized, challenge, r;

        q->slot = sd_bus_slot_unref(q->slot);

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                log_warning("polkit could not decide on %s, denying: %s", q->action, e->message ?: e->name);
                (void) deny(q, SD_BUS_ERROR_ACCESS_DENIED,
                            "the authorization service (polkit) did not answer; only root may do this now");
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        log_warning_errno(r, "Malformed answer from polkit about %s, denying: %m", q->action);
                        (void) deny(q, SD_BUS_ERROR_ACCESS_DENIED, "the authorization service answered nonsense");
                } else if (authorized) {
                        q->answered = q->allowed = true;
                } else if (challenge && !q->interactive)
                        (void) deny(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                    "authentication is required; call again allowing interactive authorization "
                                    "(e.g. from a session with a polkit agent)");
                else if (challenge)
                        (void) deny(q, SD_BUS_ERROR_ACCESS_DENIED,
                                    "authentication is required but no polkit agent answered; run the call from "
                                    "a session with one (passthructl starts pkttyagent on a terminal)");
                else
                        (void) deny(q, SD_BUS_ERROR_ACCESS_DENIED,
                                    "an administrator has to grant it (a polkit rule, or run it as root)");
        }

        /* Run the method again from the start (arguments unread): it picks the answer up in
         * polkit_check(). */
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0)
                return log_error_errno(r, "Failed to resume the authorized call: %m");
        return 0;
}

static int caller_is_root(sd_bus_message *message) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        /* Only what the bus itself vouches for counts, not what was read from /proc later. */
        if (sd_bus_creds_get_augmented_mask(creds) & SD_BUS_CREDS_EUID)
                return 0;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        return uid == 0;
}

static int append_details(sd_bus_message *m, const char *const *details) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                r = sd_bus_message_append(m, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static PolkitQuery *registry_find(PolkitRegistry *registry, sd_bus_message *message, const char *action) {
        for (PolkitQuery *q = registry->queries; q; q = q->next)
                if (q->request == message && streq(q->action, action))
                        return q;
        return NULL;
}

/* The method is answered (allowed or denied): forget every query made for it. */
static void registry_forget(PolkitRegistry *registry, sd_bus_message *message) {
        for (PolkitQuery **p = &registry->queries; *p;) {
                PolkitQuery *q = *p;
                if (q->request == message) {
                        *p = q->next;
                        query_free(q);
                } else
                        p = &q->next;
        }
}

static int ask(sd_bus_message *message, const char *action, const char *const *details, PolkitRegistry *registry,
               sd_bus_error *error);

int polkit_check_actions(sd_bus_message *message, const char *const *actions, const char *const *details,
                         PolkitRegistry *registry, sd_bus_error *error) {
        int r;

        /* Each action in turn: the first without an answer is asked (the method runs again
         * with the answer); a denial answers the call; all allowed: go on. */
        for (const char *const *a = actions; *a; a++) {
                PolkitQuery *q = registry_find(registry, message, *a);

                if (!q) {
                        /* 1: root, allowed every action without asking; < 0: denied */
                        r = ask(message, *a, details, registry, error);
                        if (r != 0)
                                registry_forget(registry, message);
                        return r;
                }
                if (!q->answered)
                        return 0;
                if (!q->allowed) {
                        r = sd_bus_error_copy(error, &q->error);
                        registry_forget(registry, message);
                        return r < 0 ? r : -EACCES;
                }
        }
        registry_forget(registry, message);
        return 1;
}

int polkit_check(sd_bus_message *message, const char *action, const char *const *details,
                 PolkitRegistry *registry, sd_bus_error *error) {
        const char *actions[] = { action, NULL };
        return polkit_check_actions(message, actions, details, registry, error);
}

static int ask(sd_bus_message *message, const char *action, const char *const *details, PolkitRegistry *registry,
               sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        PolkitQuery *q;
        const char *sender;
        int r;

        r = caller_is_root(message);
        if (r > 0)
                return 1;
        if (r < 0)
                log_debug_errno(r, "Failed to learn the caller's uid, asking polkit: %m");

        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized: the caller has no bus name.");

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->action = strdup(action);
        if (!q->action) {
                query_free(q);
                return -ENOMEM;
        }

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(message), &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r >= 0)
                r = append_details(call, details);
        if (r >= 0)
                /* flags: 1 = AllowUserInteraction, as the caller asked in its message header */
                r = sd_bus_message_append(call, "us",
                                          (uint32_t) !!sd_bus_message_get_allow_interactive_authorization(message), "");
        if (r >= 0)
                /* An administrator may take a while to type a password. */
                r = sd_bus_call_async(sd_bus_message_get_bus(message), &q->slot, call, on_check_authorization, q,
                                      UINT64_C(300) * 1000 * 1000);
        if (r < 0) {
                query_free(q);
                return r;
        }

        q->request = sd_bus_message_ref(message);
        q->interactive = sd_bus_message_get_allow_interactive_authorization(message);
        q->next = registry->queries;
        registry->queries = q;
        return 0;
}
