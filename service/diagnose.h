/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The diagnosis of the host's passthrough setup: findings with a severity, a stable id and
 * advice for a person.
 */
#pragma once

#include "machine.h"

typedef enum Severity {
        SEVERITY_ERROR,
        SEVERITY_WARNING,
        SEVERITY_INFO,
        _SEVERITY_MAX,
        _SEVERITY_INVALID = -EINVAL,
} Severity;

const char *severity_to_string(Severity s) _pure_;

typedef struct Finding {
        Severity severity;
        const char *id; /* static */
        char *advice;
} Finding;

typedef struct Diagnosis {
        Finding *findings; /* most severe first */
        size_t n_findings;
} Diagnosis;

void diagnosis_done(Diagnosis *d);

/* Looks at the machine as it is now (re-reads the IOMMU state, the kernel command line,
 * the framebuffer and the vfio-pci module). */
int diagnose(Machine *m, Diagnosis *ret);
