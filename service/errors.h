/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The service's named D-Bus errors (org.passthru1.Error.*) and their errno mapping.
 */
#pragma once

#include <systemd/sd-bus.h>

#define PASSTHRU_ERROR_NO_SUCH_DEVICE "org.passthru1.Error.NoSuchDevice"
#define PASSTHRU_ERROR_NO_SUCH_GROUP "org.passthru1.Error.NoSuchGroup"
#define PASSTHRU_ERROR_NO_SUCH_DOMAIN "org.passthru1.Error.NoSuchDomain"
#define PASSTHRU_ERROR_NOT_VIABLE "org.passthru1.Error.NotViable"
#define PASSTHRU_ERROR_IN_USE "org.passthru1.Error.InUse"
#define PASSTHRU_ERROR_GUEST_RUNNING "org.passthru1.Error.GuestRunning"
#define PASSTHRU_ERROR_HOST_CRITICAL "org.passthru1.Error.HostCritical"
#define PASSTHRU_ERROR_BUSY "org.passthru1.Error.Busy"
#define PASSTHRU_ERROR_TIMEOUT "org.passthru1.Error.Timeout"
#define PASSTHRU_ERROR_STUCK "org.passthru1.Error.Stuck"
#define PASSTHRU_ERROR_FAILED "org.passthru1.Error.Failed"
#define PASSTHRU_ERROR_NOT_SUPPORTED "org.passthru1.Error.NotSupported"
#define PASSTHRU_ERROR_NOT_RESERVED "org.passthru1.Error.NotReserved"

/* Registered once, so that errno values returned by handlers map to our names. */
extern const sd_bus_error_map passthru_error_map[];
