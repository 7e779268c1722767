/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-steps.h: the steps of Detach, Reattach, Handoff and Return, read
 * from the bus and written for people and as JSON, and the consumers of a Handoff dry run.
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

size_t steps_count_changed(const Steps *s) {
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                if (!streq(s->items[i].step, "unchanged"))
                        n++;
        return n;
}

bool steps_all_unchanged(const Steps *s) {
        return steps_count_changed(s) == 0;
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
        return step_format_line_width(step, description, STEP_WIDTH);
}

char *step_format_line_width(const char *step, const char *description, size_t width) {
        _cleanup_free_ char *s = NULL, *d = NULL;
        const char *color = NULL;
        size_t w;
        char *line;

        s = strdup_printable(step);
        d = strdup_printable(description);
        if (!s || !d)
                return NULL;

        if (streq(step, "rollback"))
                color = ANSI_RED;
        else if (streq(step, "unchanged"))
                color = ANSI_GREY;

        w = utf8_width(s);
        if (asprintf(&line, "  %s%s%s%*s  %s\n",
                     color ? ansi(color) : "", s, color ? ansi_normal() : "",
                     (int) (w < width ? width - w : 0), "",
                     d) < 0)
                return NULL;
        return line;
}

int step_print(const char *step, const char *description, size_t width) {
        _cleanup_free_ char *line = NULL;

        line = step_format_line_width(step, description, width);
        if (!line)
                return -ENOMEM;
        return write_stdout(line, strlen(line));
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

void consumer_done(Consumer *c) {
        c->command = mfree(c->command);
        c->node = mfree(c->node);
        c->pid = 0;
}

/* "1234) holds /dev/dri/card0" → 1234 and "/dev/dri/card0". */
static bool consumer_tail(const char *s, uint32_t *ret_pid, const char **ret_node) {
        const char *node;
        uint64_t pid = 0;
        size_t n;

        n = strspn(s, "0123456789");
        if (n == 0 || n > 10)
                return false;
        for (size_t i = 0; i < n; i++)
                pid = pid * 10 + (uint64_t) (s[i] - '0');
        if (pid > UINT32_MAX)
                return false;

        node = startswith(s + n, ") holds ");
        if (isempty(node))
                return false;

        *ret_pid = (uint32_t) pid;
        *ret_node = node;
        return true;
}

int consumer_parse(const char *description, Consumer *ret) {
        static const char marker[] = " (pid ";
        const char *found = NULL, *node = NULL;
        uint32_t pid = 0;
        _cleanup_free_ char *command = NULL, *n = NULL;

        /* The last marker that is followed by the rest: a command may contain one too. */
        for (const char *p = strstr(description, marker); p; p = strstr(p + 1, marker)) {
                uint32_t q;
                const char *o;

                if (consumer_tail(p + strlen(marker), &q, &o)) {
                        found = p;
                        pid = q;
                        node = o;
                }
        }
        if (!found)
                return -EINVAL;

        command = strndup(description, (size_t) (found - description));
        n = strdup(node);
        if (!command || !n)
                return -ENOMEM;

        *ret = (Consumer) {
                .pid = pid,
                .command = TAKE_PTR(command),
                .node = TAKE_PTR(n),
        };
        return 0;
}
