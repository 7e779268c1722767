/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A streaming JSON writer into a growing memory buffer, for passthructl's --json output.
 * The caller emits begin/end/key/value calls in document order; the writer inserts the
 * commas (and, in pretty mode, newlines and indentation) and escapes strings (", \ and
 * control characters as \uXXXX; UTF-8 is passed through). The text is either kept in
 * memory or, for large outputs, streamed to a FILE in 64 KiB pieces. Allocation and write
 * failures are remembered and reported once by json_finish(), so callers need not check
 * every call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl-util.h"

typedef struct JsonWriter {
        char *buf;
        size_t len, allocated;
        FILE *stream;      /* non-NULL: written out whenever the buffer fills up */
        unsigned depth;
        bool pretty;
        bool need_comma;   /* a value was written at this level: the next one needs ',' */
        bool after_key;    /* the next value follows "key": on the same line */
        bool empty;        /* the container just opened has no members yet */
        bool oom;
        int write_error;   /* negative errno of a failed write to stream */
} JsonWriter;

/* Text in memory: json_finish() hands it out. */
void json_init(JsonWriter *w, bool pretty);
/* Text streamed to f: json_finish() writes the rest and flushes f. */
void json_init_stream(JsonWriter *w, bool pretty, FILE *f);
/* Frees the buffer; usable as _cleanup_(json_done) on a JsonWriter variable. */
void json_done(JsonWriter *w);

void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s);
void json_stringn(JsonWriter *w, const char *s, size_t n);
void json_unsigned(JsonWriter *w, uint64_t u);
void json_signed(JsonWriter *w, int64_t i);
void json_double(JsonWriter *w, double d);
void json_bool(JsonWriter *w, bool b);
void json_null(JsonWriter *w);
/* A string value made of printf-formatted text. */
void json_stringf(JsonWriter *w, const char *fmt, ...) _printf_(2, 3);

/* Shortcuts for "key": value. */
void json_kv_string(JsonWriter *w, const char *key, const char *s);
void json_kv_unsigned(JsonWriter *w, const char *key, uint64_t u);
void json_kv_bool(JsonWriter *w, const char *key, bool b);

/* Terminates the document with a newline. Returns 0, -ENOMEM or the write error. In memory
 * mode *ret and *ret_len describe the NUL-terminated text still owned by the writer; in
 * stream mode they may be NULL and are set to "" and 0. */
int json_finish(JsonWriter *w, const char **ret, size_t *ret_len);
/* json_finish() of a writer streaming to standard output, a failure logged. */
int output_json(JsonWriter *w);

/* Escapes s as a JSON string literal, quotes included, into a new string (for tests, and
 * for the values of monitor's human lines). */
char *json_escape(const char *s);
