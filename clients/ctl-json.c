/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-json.h: passthructl's JSON writer. Owns only the writer's buffer.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#include "ctl-json.h"
#include "ctl-util.h"

void json_init(JsonWriter *w, bool pretty) {
        *w = (JsonWriter) {
                .pretty = pretty,
        };
}

void json_init_stream(JsonWriter *w, bool pretty, FILE *f) {
        *w = (JsonWriter) {
                .pretty = pretty,
                .stream = f,
        };
}

#define JSON_STREAM_CHUNK (64u * 1024u)

static void json_write_out(JsonWriter *w) {
        if (!w->stream || w->len == 0)
                return;
        if (w->write_error == 0 && fwrite(w->buf, 1, w->len, w->stream) != w->len)
                w->write_error = errno > 0 ? -errno : -EIO;
        w->len = 0;
        w->buf[0] = '\0';
}

void json_done(JsonWriter *w) {
        if (!w)
                return;
        w->buf = mfree(w->buf);
        w->len = w->allocated = 0;
}

static bool json_reserve(JsonWriter *w, size_t n) {
        size_t need, a;
        char *p;

        if (w->oom)
                return false;

        /* Streaming: hand the text over before the buffer has to grow past the chunk. */
        if (w->stream && w->len > 0 && w->len + n + 1 > JSON_STREAM_CHUNK)
                json_write_out(w);

        need = w->len + n + 1; /* always room for the terminating NUL */
        if (need <= w->allocated)
                return true;

        a = MAX(w->allocated * 2, MAX(need, (size_t) (w->stream ? JSON_STREAM_CHUNK : 4096)));
        p = realloc(w->buf, a);
        if (!p) {
                w->oom = true;
                return false;
        }
        w->buf = p;
        w->allocated = a;
        return true;
}

static void json_put(JsonWriter *w, const char *s, size_t n) {
        if (!json_reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
}

static void json_putc(JsonWriter *w, char c) {
        if (!json_reserve(w, 1))
                return;
        w->buf[w->len++] = c;
        w->buf[w->len] = '\0';
}

static void json_newline(JsonWriter *w) {
        json_putc(w, '\n');
        for (unsigned i = 0; i < w->depth; i++)
                json_put(w, "  ", 2);
}

/* Everything that starts a value (or a key) goes through here. */
static void json_before_value(JsonWriter *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (w->need_comma)
                json_putc(w, ',');
        if (w->pretty && w->depth > 0)
                json_newline(w);
}

static void json_after_value(JsonWriter *w) {
        w->need_comma = true;
        w->empty = false;
}

static void json_begin(JsonWriter *w, char c) {
        json_before_value(w);
        json_putc(w, c);
        w->depth++;
        w->need_comma = false;
        w->empty = true;
}

static void json_end(JsonWriter *w, char c) {
        if (w->depth > 0)
                w->depth--;
        if (w->pretty && !w->empty)
                json_newline(w);
        json_putc(w, c);
        json_after_value(w);
}

void json_begin_object(JsonWriter *w) {
        json_begin(w, '{');
}

void json_end_object(JsonWriter *w) {
        json_end(w, '}');
}

void json_begin_array(JsonWriter *w) {
        json_begin(w, '[');
}

void json_end_array(JsonWriter *w) {
        json_end(w, ']');
}

static void json_put_escaped(JsonWriter *w, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        size_t start = 0;

        json_putc(w, '"');
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F)
                        continue;

                /* Flush the plain run before this character, then the escape. */
                json_put(w, s + start, i - start);
                start = i + 1;

                if (c == '"')
                        json_put(w, "\\\"", 2);
                else if (c == '\\')
                        json_put(w, "\\\\", 2);
                else {
                        char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF] };
                        json_put(w, e, sizeof(e));
                }
        }
        json_put(w, s + start, n - start);
        json_putc(w, '"');
}

void json_key(JsonWriter *w, const char *key) {
        json_before_value(w);
        json_put_escaped(w, key, strlen(key));
        json_putc(w, ':');
        if (w->pretty)
                json_putc(w, ' ');
        w->after_key = true;
        w->need_comma = true;
}

void json_stringn(JsonWriter *w, const char *s, size_t n) {
        json_before_value(w);
        json_put_escaped(w, s, n);
        json_after_value(w);
}

void json_string(JsonWriter *w, const char *s) {
        json_stringn(w, strempty(s), strlen(strempty(s)));
}

void json_stringf(JsonWriter *w, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        char buf[64];
        va_list ap;
        int r;

        /* Short strings (ids, numbers) are formatted on the stack. */
        va_start(ap, fmt);
        r = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (r < 0) {
                w->oom = true;
                return;
        }
        if ((size_t) r < sizeof(buf)) {
                json_stringn(w, buf, (size_t) r);
                return;
        }

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                s = NULL;
                w->oom = true;
                return;
        }
        json_stringn(w, s, (size_t) r);
}

void json_unsigned(JsonWriter *w, uint64_t u) {
        char b[24];
        int n;

        n = snprintf(b, sizeof(b), "%" PRIu64, u);
        json_before_value(w);
        json_put(w, b, (size_t) n);
        json_after_value(w);
}

void json_signed(JsonWriter *w, int64_t i) {
        char b[24];
        int n;

        n = snprintf(b, sizeof(b), "%" PRIi64, i);
        json_before_value(w);
        json_put(w, b, (size_t) n);
        json_after_value(w);
}

void json_double(JsonWriter *w, double d) {
        char b[32];
        int n;

        /* JSON has no NaN or infinities. */
        if (!isfinite(d)) {
                json_null(w);
                return;
        }
        n = snprintf(b, sizeof(b), "%.17g", d);
        json_before_value(w);
        json_put(w, b, (size_t) n);
        json_after_value(w);
}

void json_bool(JsonWriter *w, bool b) {
        json_before_value(w);
        if (b)
                json_put(w, "true", 4);
        else
                json_put(w, "false", 5);
        json_after_value(w);
}

void json_null(JsonWriter *w) {
        json_before_value(w);
        json_put(w, "null", 4);
        json_after_value(w);
}

void json_kv_string(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string(w, s);
}

void json_kv_unsigned(JsonWriter *w, const char *key, uint64_t u) {
        json_key(w, key);
        json_unsigned(w, u);
}

void json_kv_bool(JsonWriter *w, const char *key, bool b) {
        json_key(w, key);
        json_bool(w, b);
}

int json_finish(JsonWriter *w, const char **ret, size_t *ret_len) {
        json_putc(w, '\n');
        if (w->oom)
                return -ENOMEM;

        if (w->stream) {
                json_write_out(w);
                if (w->write_error == 0 && fflush(w->stream) != 0)
                        w->write_error = errno > 0 ? -errno : -EIO;
                if (ret)
                        *ret = "";
                if (ret_len)
                        *ret_len = 0;
                return w->write_error;
        }

        *ret = w->buf;
        *ret_len = w->len;
        return 0;
}

char *json_escape(const char *s) {
        _cleanup_(json_done) JsonWriter w;
        char *r;

        json_init(&w, false);
        json_string(&w, s);
        if (w.oom)
                return NULL;
        r = TAKE_PTR(w.buf);
        return r ?: strdup("");
}

int output_json(JsonWriter *w) {
        int r;

        r = json_finish(w, NULL, NULL);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return 0;
}
