/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a GPU handoff releases besides the PCI functions: the virtual consoles drawn by a
 * frame buffer driver (/sys/class/vtconsole/vtconN/bind), the firmware frame buffer
 * (efi-framebuffer.0, simple-framebuffer.0, vesa-framebuffer.0 on their platform drivers),
 * the GPU driver's module with the modules holding it (/sys/module/M/holders), and the
 * device nodes whose holders keep all of that busy (the consumers). The steps that change
 * these, executed and verified like vfio.c's. No sd-bus.
 */
#pragma once

#include "machine.h"
#include "vfio.h"

/* The platform devices of the firmware frame buffers, in the order they are looked at. */
extern const char *const firmware_framebuffers[];

/* The bound vtconsoles whose driver is a frame buffer ("(M) frame buffer device"), sorted. */
int consoles_on_framebuffer(char ***ret);
/* 1 when the vtconsole's bind reads 1, 0 when 0, -errno. */
int console_bound(const char *vtcon);

/* 1 when the platform device (e.g. "efi-framebuffer.0") is bound to its driver, 0 when not
 * (or absent), -errno. */
int framebuffer_bound(const char *device);

/* The modules to unload to free the GPU's driver module: every module holding it (and
 * those holding them), holders first, the module itself last. */
int module_unload_order(const char *module, char ***ret);

/* Does a driver of the module have a PCI function bound other than those of `except`?
 * 1, 0 or -errno. */
int module_drives_others(const char *module, const PciAddress *except, size_t n_except);

/* Appends the DRM nodes of a function (/dev/dri/NAME for each /sys/bus/pci/devices/ADDR/drm/
 * card* and renderD*) to *paths. */
int function_drm_nodes(const PciAddress *a, char ***paths);

/* The device nodes of the functions (DRM, sound, frame buffers; with_platform_fb: also the
 * firmware frame buffer's /dev/fbN; with_nvidia: /dev/nvidia*), absolute paths, sorted. */
int consumer_nodes(const PciAddress *functions, size_t n, bool with_platform_fb, bool with_nvidia, char ***ret);

/* Steps of kinds STEP_{UN,}BIND_CONSOLE and STEP_{UN,}BIND_FRAMEBUFFER (see vfio.h). */
int release_step_execute(const Step *s);
int release_step_verify(const Step *s, char **ret_what);
