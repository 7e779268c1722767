/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Applying the boot-time reservations (passthrud --apply-reservations).
 */
#pragma once

#include "manager.h"

/* Gives every reserved function that may go to vfio-pci (see reservations-apply.c). 0 when
 * all went or nothing was to be done (no reservation, passthru.disable=1), -EIO when some
 * stay with the host, other -errno when it could not run at all. */
int reservations_apply(Manager *m);
