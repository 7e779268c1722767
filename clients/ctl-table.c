/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-table.h: passthructl's aligned tables. Owns its cells and lines.
 */
#include <stdarg.h>

#include "ctl-table.h"

typedef struct Cell {
        char *text;         /* printable copy, never NULL */
        size_t width;       /* display width of text */
        const char *color;  /* static ANSI sequence or NULL */
} Cell;

typedef struct Row {
        char *line;         /* non-NULL: a full-width line, cells unused */
        size_t first_cell;  /* index into Table.cells */
} Row;

struct Table {
        size_t n_columns;
        size_t indent;

        Cell *header;       /* n_columns cells, or NULL */

        Cell *cells;
        size_t n_cells, allocated_cells;

        Row *rows;
        size_t n_rows, allocated_rows;
        size_t n_data_rows;
};

Table *table_new(size_t n_columns) {
        Table *t;

        if (n_columns == 0)
                return NULL;

        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        return t;
}

static void cells_free(Cell *c, size_t n) {
        if (!c)
                return;
        for (size_t i = 0; i < n; i++)
                free(c[i].text);
        free(c);
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;

        cells_free(t->header, t->header ? t->n_columns : 0);
        cells_free(t->cells, t->n_cells);
        for (size_t i = 0; i < t->n_rows; i++)
                free(t->rows[i].line);
        free(t->rows);
        return mfree(t);
}

static int cell_set(Cell *c, const char *text, const char *color) {
        c->text = strdup_printable(strempty(text));
        if (!c->text)
                return -ENOMEM;
        c->width = utf8_width(c->text);
        c->color = color;
        return 0;
}

int table_set_header(Table *t, const char * const *names) {
        Cell *h;
        int r;

        h = calloc(t->n_columns, sizeof(Cell));
        if (!h)
                return -ENOMEM;

        for (size_t i = 0; i < t->n_columns; i++) {
                r = cell_set(h + i, names[i], NULL);
                if (r < 0) {
                        cells_free(h, i);
                        return r;
                }
        }

        cells_free(t->header, t->header ? t->n_columns : 0);
        t->header = h;
        return 0;
}

void table_set_indent(Table *t, size_t indent) {
        t->indent = indent;
}

static int table_grow_rows(Table *t) {
        Row *p;
        size_t a;

        if (t->n_rows < t->allocated_rows)
                return 0;

        a = MAX(t->allocated_rows * 2, (size_t) 64);
        p = realloc(t->rows, a * sizeof(Row));
        if (!p)
                return -ENOMEM;
        t->rows = p;
        t->allocated_rows = a;
        return 0;
}

int table_add_row(Table *t, const char * const *cells, const char * const *colors) {
        size_t first;
        int r;

        r = table_grow_rows(t);
        if (r < 0)
                return r;

        if (t->n_cells + t->n_columns > t->allocated_cells) {
                size_t a = MAX(t->allocated_cells * 2, t->n_columns * 64);
                Cell *p;

                p = realloc(t->cells, a * sizeof(Cell));
                if (!p)
                        return -ENOMEM;
                t->cells = p;
                t->allocated_cells = a;
        }

        first = t->n_cells;
        for (size_t i = 0; i < t->n_columns; i++) {
                r = cell_set(t->cells + first + i, cells[i], colors ? colors[i] : NULL);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                free(t->cells[first + j].text);
                        return r;
                }
        }
        t->n_cells += t->n_columns;

        t->rows[t->n_rows++] = (Row) {
                .first_cell = first,
        };
        t->n_data_rows++;
        return 0;
}

int table_add_line(Table *t, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        r = table_grow_rows(t);
        if (r < 0)
                return r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        t->rows[t->n_rows++] = (Row) {
                .line = s,
        };
        return 0;
}

size_t table_rows(const Table *t) {
        return t->n_data_rows;
}

static void print_spaces(FILE *f, size_t n) {
        static const char spaces[] = "                                                                ";

        while (n > 0) {
                size_t k = MIN(n, sizeof(spaces) - 1);

                fwrite(spaces, 1, k, f);
                n -= k;
        }
}

static void print_cells(const Table *t, FILE *f, const Cell *cells, const size_t *widths, bool header) {
        size_t last = SIZE_MAX;
        bool first = true;

        /* The last visible non-empty cell: no padding after it, no trailing blanks. */
        for (size_t i = 0; i < t->n_columns; i++)
                if (widths[i] > 0 && cells[i].width > 0)
                        last = i;

        print_spaces(f, t->indent);
        for (size_t i = 0; last != SIZE_MAX && i <= last; i++) {
                const char *color;

                if (widths[i] == 0)
                        continue;
                if (!first)
                        fputs("  ", f);
                first = false;

                color = header ? ANSI_HIGHLIGHT : cells[i].color;
                if (color && colors_enabled()) {
                        fputs(color, f);
                        fputs(cells[i].text, f);
                        fputs(ANSI_NORMAL, f);
                } else
                        fputs(cells[i].text, f);

                if (i < last)
                        print_spaces(f, widths[i] - cells[i].width);
        }
        fputc('\n', f);
}

int table_print(const Table *t, FILE *f) {
        _cleanup_free_ size_t *widths = NULL;

        widths = calloc(t->n_columns, sizeof(size_t));
        if (!widths)
                return -ENOMEM;

        for (size_t r = 0; r < t->n_rows; r++) {
                const Cell *c;

                if (t->rows[r].line)
                        continue;
                c = t->cells + t->rows[r].first_cell;
                for (size_t i = 0; i < t->n_columns; i++)
                        widths[i] = MAX(widths[i], c[i].width);
        }

        /* A column that has data gets at least the width of its header. */
        if (t->header && t->n_data_rows > 0) {
                for (size_t i = 0; i < t->n_columns; i++)
                        if (widths[i] > 0)
                                widths[i] = MAX(widths[i], t->header[i].width);
                print_cells(t, f, t->header, widths, true);
        }

        for (size_t r = 0; r < t->n_rows; r++) {
                const Row *row = t->rows + r;

                if (row->line) {
                        fputs(row->line, f);
                        fputc('\n', f);
                        continue;
                }
                print_cells(t, f, t->cells + row->first_cell, widths, false);
        }

        if (ferror(f))
                return -EIO;
        return 0;
}
