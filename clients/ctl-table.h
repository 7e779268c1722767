/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Aligned text tables for passthructl's human output. A table holds rows of cells (each
 * with an optional colour) and "lines": full-width text (section headers such as
 * "Group 16: not viable") that do not take part in the column widths, so the columns stay
 * aligned across sections. Columns whose cells are all empty are left out, the last
 * column is not padded, and nothing is truncated. Cell text is made printable (control
 * characters shown as \xNN); lines are taken as they are. Owns copies of everything added
 * to it.
 */
#pragma once

#include <stdio.h>

#include "ctl-util.h"

typedef struct Table Table;

Table *table_new(size_t n_columns);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Header cells, shown highlighted as the first row when the table has data rows. */
int table_set_header(Table *t, const char * const *names);

/* Spaces put in front of every data row (not in front of lines). */
void table_set_indent(Table *t, size_t indent);

/* Appends a data row: n_columns cells; NULL is an empty cell. colors may be NULL, or
 * hold one ANSI sequence (or NULL) per cell, used only when colours are on. */
int table_add_row(Table *t, const char * const *cells, const char * const *colors);

/* Appends a full-width line (may be ""), printed as it is: the caller makes text coming
 * from elsewhere printable (strdup_printable()) and adds colours with ansi(). */
int table_add_line(Table *t, const char *fmt, ...) _printf_(2, 3);

size_t table_rows(const Table *t);

int table_print(const Table *t, FILE *f);
