/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-steps.h: the steps of Detach and Reattach, read from the bus and
 * written for people and as JSON.
 */
#include <ctype.h>

#include "ctl-steps.h"

void steps_done(Steps *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->items[i].step);
                free(s->items[i].description);
        }
        s->items = mfree(s->items);
        s->n = s->allocated = 0;
}

int steps_add(Steps *s, const char *step, const char *description) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (s->n >= s->allocated) {
                size_t n = MAX(s->allocated * 2, (size_t) 8);
                Step *p = realloc(s->items, n * sizeof(Step));

                if (!p)
                        return -ENOMEM;
                s->items = p;
                s->allocated = n;
        }

        a = strdup(step);
        b = strdup(description);
        if (!a || !b)
                return -ENOMEM;

        s->items[s->n++] = (Step) {
                .step = TAKE_PTR(a),
                .description = TAKE_PTR(b),
        };
        return 0;
}

int steps_read(sd_bus_message *m, Steps *s) {
        const char *step, *description;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(ss)");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read(m, "(ss)", &step, &description)) > 0) {
                r = steps_add(s, step, description);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

bool steps_remove(Steps *s, const char *step, const char *description) {
        for (size_t i = 0; i < s->n; i++) {
                if (!streq(s->items[i].step, step) || !streq(s->items[i].description, description))
                        continue;

                free(s->items[i].step);
                free(s->items[i].description);
                memmove(s->items + i, s->items + i + 1, (s->n - i - 1) * sizeof(Step));
                s->n--;
                return true;
        }
        return false;
}

bool steps_all_unchanged(const Steps *s) {
        for (size_t i = 0; i < s->n; i++)
                if (!streq(s->items[i].step, "unchanged"))
                        return false;
        return true;
}

/* "0000:26:00.0: …" → true, with the address lower-cased into buf. */
static bool description_address(const char *description, char buf[static 13]) {
        static const char pattern[] = "xxxx:xx:xx.x";

        for (size_t i = 0; i < 12; i++) {
                char c = description[i];

                if (pattern[i] == 'x' ? !isxdigit((unsigned char) c) : c != pattern[i])
                        return false;
                buf[i] = (char) tolower((unsigned char) c);
        }
        buf[12] = '\0';

        return IN_SET(description[12], ':', ' ', '\0');
}

size_t steps_count_functions(const Steps *s) {
        _cleanup_free_ char (*seen)[13] = NULL;
        size_t n = 0;

        if (s->n == 0)
                return 0;

        seen = calloc(s->n, sizeof(*seen));
        if (!seen)
                return 0;

        for (size_t i = 0; i < s->n; i++) {
                char address[13];
                bool known = false;

                if (!description_address(s->items[i].description, address))
                        continue;

                for (size_t j = 0; j < n && !known; j++)
                        known = streq(seen[j], address);
                if (!known)
                        memcpy(seen[n++], address, sizeof(address));
        }
        return n;
}

char *step_format_line(const char *step, const char *description) {
        _cleanup_free_ char *s = NULL, *d = NULL;
        const char *color = NULL;
        size_t width;
        char *line;

        s = strdup_printable(step);
        d = strdup_printable(description);
        if (!s || !d)
                return NULL;

        if (streq(step, "rollback"))
                color = ANSI_RED;
        else if (streq(step, "unchanged"))
                color = ANSI_GREY;

        width = utf8_width(s);
        if (asprintf(&line, "  %s%s%s%*s  %s\n",
                     color ? ansi(color) : "", s, color ? ansi_normal() : "",
                     (int) (width < STEP_WIDTH ? STEP_WIDTH - width : 0), "",
                     d) < 0)
                return NULL;
        return line;
}

void json_steps(JsonWriter *w, const Steps *s) {
        json_begin_array(w);
        for (size_t i = 0; i < s->n; i++) {
                json_begin_object(w);
                json_kv_string(w, "step", s->items[i].step);
                json_kv_string(w, "description", s->items[i].description);
                json_end_object(w);
        }
        json_end_array(w);
}
