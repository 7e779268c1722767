/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The steps of a Detach, Reattach, Handoff or Return: the (step, description) pairs
 * passthrud returns (a(ss)) and announces one by one with the Group's Progress signal.
 * Formats them for people, one line per step
 * ("  set-override    0000:26:00.0: driver_override = vfio-pci"), and as JSON
 * ([{"step":"set-override","description":"…"}, …]); splits the "consumer" entries of a
 * Handoff dry run. Owns copies of the strings it holds.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "ctl-json.h"
#include "ctl-util.h"

/* Human lines pad the step name to this width: the longest step of Detach and Reattach,
 * "clear-override"; those of Handoff and Return to the longest of theirs,
 * "unbind-framebuffer". */
#define STEP_WIDTH 14
#define HANDOFF_STEP_WIDTH 18

typedef struct Step {
        char *step;
        char *description;
} Step;

typedef struct Steps {
        Step *items;
        size_t n, allocated;
} Steps;

/* Frees the steps; usable as _cleanup_(steps_done) on a Steps variable. */
void steps_done(Steps *s);

/* Appends copies of step and description. */
int steps_add(Steps *s, const char *step, const char *description);

/* Reads a complete a(ss) from m and appends its elements. */
int steps_read(sd_bus_message *m, Steps *s);

/* Removes the first element equal to (step, description); returns whether there was one. */
bool steps_remove(Steps *s, const char *step, const char *description);

/* Whether every step is "unchanged" (true for no steps at all): the operation was a no-op. */
/* The steps other than "unchanged". */
size_t steps_count_changed(const Steps *s) _pure_;
bool steps_all_unchanged(const Steps *s) _pure_;

/* The number of different functions the steps name: descriptions that begin with a
 * canonical address "DDDD:BB:SS.F" followed by ':', ' ' or the end (case-insensitive). */
size_t steps_count_functions(const Steps *s);

/* The human line of one step, newline included: two spaces, the step padded to
 * STEP_WIDTH, two spaces, the description. Control characters are shown as \xNN;
 * "rollback" is red and "unchanged" grey when colours are on. */
char *step_format_line(const char *step, const char *description);
/* The same with the step padded to width. */
char *step_format_line_width(const char *step, const char *description, size_t width);

/* Writes the line of step_format_line_width() to standard output, flushed. */
int step_print(const char *step, const char *description, size_t width);

/* Writes [{"step":…,"description":…}, …]. */
void json_steps(JsonWriter *w, const Steps *s);

/* The step of the entries a Handoff dry run appends after its plan, one per process that
 * holds a node of the GPU or its companions. */
#define STEP_CONSUMER "consumer"

/* A process holding a GPU's node: GetConsumers()' (pid, command, node), or a "consumer"
 * entry split. */
typedef struct Consumer {
        uint32_t pid;
        char *command;
        char *node;
} Consumer;

void consumer_done(Consumer *c);

/* Splits the description of a "consumer" entry, "COMMAND (pid N) holds NODE", at the last
 * " (pid " followed by a decimal number, ") holds " and a non-empty NODE (a device node's
 * path; the command may hold anything). Returns 0, -EINVAL for another form, -ENOMEM. */
int consumer_parse(const char *description, Consumer *ret);
