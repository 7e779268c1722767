/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver moves: which steps plan_move() plans for each kind of move, how steps are
 * described, and step_execute()/step_verify() against a fake sysfs tree. A fake tree has
 * no kernel behind it (writing "unbind" removes no link), so each step's write and its
 * verification are tested separately, with the tree arranged by hand in between.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "sysfs.h"
#include "tests.h"
#include "util.h"
#include "vfio.h"

#define GPU "0000:26:00.0"

static char root[] = "/tmp/test-vfio-XXXXXX";

#include "fake-root.h"

static const PciAddress gpu = { 0, 0x26, 0x00, 0 };
static const PciAddress audio = { 0, 0x26, 0x00, 1 };

/* A plan as one line, e.g. "load-module vfio_pci; unbind 0000:26:00.0 nvidia". */
static const char *plan_show(const Plan *p) {
        static char buf[4096];
        size_t k = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < p->n_steps; i++) {
                const Step *s = &p->steps[i];
                char a[PCI_ADDRESS_STRING_MAX];

                k += snprintf(buf + k, sizeof(buf) - k, "%s%s", i > 0 ? "; " : "", step_kind_to_string(s->kind));
                if (s->kind != STEP_LOAD_MODULE && s->kind != STEP_UNLOAD_MODULE)
                        k += snprintf(buf + k, sizeof(buf) - k, " %s", pci_address_format(&s->address, a));
                if (s->argument)
                        k += snprintf(buf + k, sizeof(buf) - k, " %s", s->argument);
                if (s->group >= 0)
                        k += snprintf(buf + k, sizeof(buf) - k, " group %" PRIi64, s->group);
        }
        return buf;
}

/* ---- planning ---- */

static void test_detach_from_nvidia_loads_module_then_overrides_unbinds_and_probes(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState from = { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" };
        FunctionState to = { .address = gpu, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                             .override = "vfio-pci" };

        CHECK_INTEQ(plan_move(&p, &from, &to, true), 0);
        CHECK_STREQ(plan_show(&p),
                    "load-module vfio_pci; "
                    "set-override " GPU " vfio-pci; "
                    "unbind " GPU " nvidia; "
                    "probe " GPU " vfio-pci group 16");
}

static void test_function_already_on_vfio_with_override_is_unchanged(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState here = { .address = gpu, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                               .override = "vfio-pci" };

        CHECK_INTEQ(plan_move(&p, &here, &here, true), 0);
        CHECK_INTEQ(p.n_steps, 1);
        CHECK_STREQ(plan_show(&p), "unchanged " GPU " vfio-pci");

        /* The same without loading the module first. */
        plan_done(&p);
        CHECK_INTEQ(plan_move(&p, &here, &here, false), 0);
        CHECK_STREQ(plan_show(&p), "unchanged " GPU " vfio-pci");
}

static void test_reattach_loads_unregistered_module_after_unbind(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState from = { .address = audio, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                               .override = "vfio-pci" };
        /* to.module set: snd_hda_intel is not registered, its module must be loaded. */
        FunctionState to = { .address = audio, .group = 16, .driver = "snd_hda_intel", .module = "snd_hda_intel" };

        CHECK_INTEQ(plan_move(&p, &from, &to, false), 0);
        CHECK_STREQ(plan_show(&p),
                    "clear-override 0000:26:00.1; "
                    "unbind 0000:26:00.1 vfio-pci; "
                    "load-module snd_hda_intel; "
                    "probe 0000:26:00.1 snd_hda_intel");
}

static void test_reattach_to_no_driver_clears_and_unbinds_without_probe(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState from = { .address = gpu, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                               .override = "vfio-pci" };
        FunctionState to = { .address = gpu, .group = 16 };

        CHECK_INTEQ(plan_move(&p, &from, &to, false), 0);
        CHECK_STREQ(plan_show(&p), "clear-override " GPU "; unbind " GPU " vfio-pci");
}

static void test_driverless_function_to_vfio_overrides_and_probes_without_unbind(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState from = { .address = gpu, .group = 16 };
        /* vfio-pci registered already: no module step. */
        FunctionState to = { .address = gpu, .group = 16, .driver = "vfio-pci", .override = "vfio-pci" };

        CHECK_INTEQ(plan_move(&p, &from, &to, true), 0);
        CHECK_STREQ(plan_show(&p), "set-override " GPU " vfio-pci; probe " GPU " vfio-pci group 16");
}

static void test_module_step_is_planned_once_for_two_functions(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState gpu_from = { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" };
        FunctionState audio_from = { .address = audio, .group = 16, .driver = "snd_hda_intel",
                                     .module = "snd_hda_intel" };
        FunctionState gpu_to = { .address = gpu, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                                 .override = "vfio-pci" };
        FunctionState audio_to = { .address = audio, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                                   .override = "vfio-pci" };

        CHECK(!plan_has_module_step(&p, STEP_LOAD_MODULE, "vfio_pci"));
        CHECK_INTEQ(plan_move(&p, &gpu_from, &gpu_to, true), 0);
        CHECK(plan_has_module_step(&p, STEP_LOAD_MODULE, "vfio_pci"));
        CHECK(!plan_has_module_step(&p, STEP_UNLOAD_MODULE, "vfio_pci"));
        CHECK(!plan_has_module_step(&p, STEP_LOAD_MODULE, "nvidia"));
        CHECK_INTEQ(plan_move(&p, &audio_from, &audio_to, true), 0);
        CHECK_STREQ(plan_show(&p),
                    "load-module vfio_pci; "
                    "set-override " GPU " vfio-pci; "
                    "unbind " GPU " nvidia; "
                    "probe " GPU " vfio-pci group 16; "
                    "set-override 0000:26:00.1 vfio-pci; "
                    "unbind 0000:26:00.1 snd_hda_intel; "
                    "probe 0000:26:00.1 vfio-pci group 16");
}

static void test_function_already_there_is_unchanged_after_shared_module_step(void) {
        _cleanup_(plan_done) Plan p = {};
        FunctionState gpu_from = { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" };
        FunctionState to = { .address = gpu, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                             .override = "vfio-pci" };
        FunctionState audio_here = { .address = audio, .group = 16, .driver = "vfio-pci", .module = "vfio_pci",
                                     .override = "vfio-pci" };

        /* The group's module step is not the function's own: it still gets "unchanged". */
        CHECK_INTEQ(plan_move(&p, &gpu_from, &to, true), 0);
        CHECK_INTEQ(plan_move(&p, &audio_here, &audio_here, true), 0);
        CHECK_STREQ(plan_show(&p),
                    "load-module vfio_pci; "
                    "set-override " GPU " vfio-pci; "
                    "unbind " GPU " nvidia; "
                    "probe " GPU " vfio-pci group 16; "
                    "unchanged 0000:26:00.1 vfio-pci");
}

/* ---- descriptions and names ---- */

/* step_describe() of a step built from the arguments; NULL when it describes nothing. */
static const char *describe(StepKind kind, const PciAddress *a, const char *argument, int64_t group) {
        static char buf[256];
        _cleanup_free_ char *t = NULL;
        Step s = { .kind = kind, .address = a ? *a : (PciAddress) {}, .argument = (char *) argument, .group = group };

        t = step_describe(&s);
        if (!t)
                return NULL;
        snprintf(buf, sizeof(buf), "%s", t);
        return buf;
}

static void test_step_describe_says_what_each_kind_does(void) {
        CHECK_STREQ(describe(STEP_LOAD_MODULE, NULL, "vfio_pci", -1), "load module vfio_pci");
        CHECK_STREQ(describe(STEP_UNLOAD_MODULE, NULL, "vfio_pci", -1), "unload module vfio_pci");
        CHECK_STREQ(describe(STEP_SET_OVERRIDE, &gpu, "vfio-pci", -1), GPU ": driver_override = vfio-pci");
        CHECK_STREQ(describe(STEP_CLEAR_OVERRIDE, &gpu, NULL, -1), GPU ": clear driver_override");
        CHECK_STREQ(describe(STEP_UNBIND, &gpu, "nvidia", -1), GPU ": unbind from nvidia");
        CHECK_STREQ(describe(STEP_PROBE, &gpu, "vfio-pci", 16), GPU ": probe drivers, expect vfio-pci and /dev/vfio/16");
        CHECK_STREQ(describe(STEP_PROBE, &gpu, "nvidia", -1), GPU ": probe drivers, expect nvidia");
        CHECK_STREQ(describe(STEP_PROBE, &gpu, NULL, -1), GPU ": probe drivers, expect a host driver");
        CHECK_STREQ(describe(STEP_UNCHANGED, &gpu, "vfio-pci", -1), GPU ": already on vfio-pci");
        CHECK_STREQ(describe(STEP_UNCHANGED, &gpu, NULL, -1), GPU ": already without a driver");
        CHECK(describe(_STEP_KIND_MAX, &gpu, NULL, -1) == NULL);
}

static void test_step_kind_names_round_trip(void) {
        for (StepKind k = 0; k < _STEP_KIND_MAX; k++) {
                CHECK(step_kind_to_string(k) != NULL);
                CHECK_INTEQ(step_kind_from_string(step_kind_to_string(k)), k);
        }
        CHECK_STREQ(step_kind_to_string(STEP_SET_OVERRIDE), "set-override");
        CHECK_INTEQ(step_kind_from_string("load-module"), STEP_LOAD_MODULE);
}

static void test_step_kind_refuses_invalid_input(void) {
        CHECK_INTEQ(step_kind_from_string(NULL), _STEP_KIND_INVALID);
        CHECK_INTEQ(step_kind_from_string(""), _STEP_KIND_INVALID);
        CHECK_INTEQ(step_kind_from_string("bind"), _STEP_KIND_INVALID);
        CHECK_INTEQ(step_kind_from_string("Unbind"), _STEP_KIND_INVALID);
        CHECK(step_kind_to_string(_STEP_KIND_MAX) == NULL);
        CHECK(step_kind_to_string(_STEP_KIND_INVALID) == NULL);
        CHECK(step_kind_to_string(-1) == NULL);
}

/* ---- the fake sysfs tree ---- */

_printf_(1, 2) static void remove_at(const char *fmt, ...) {
        char path[1024];
        va_list ap;

        va_start(ap, fmt);
        fake_path_v(path, fmt, ap);
        va_end(ap);
        (void) unlink(path);
        (void) rmdir(path);
}

/* The whole of root/PATH, "" when missing; exact bytes, the trailing newline included. */
_printf_(1, 2) static const char *contents(const char *fmt, ...) {
        static char buf[4096];
        char path[1024];
        va_list ap;
        ssize_t n;
        int fd;

        va_start(ap, fmt);
        fake_path_v(path, fmt, ap);
        va_end(ap);
        buf[0] = '\0';
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return buf;
        n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        return buf;
}

static void bind_gpu_to(const char *driver) {
        char target[256];

        if (!driver) {
                remove_at("sys/bus/pci/devices/" GPU "/driver");
                return;
        }
        put(NULL, "sys/bus/pci/drivers/%s", driver);
        snprintf(target, sizeof(target), "../../drivers/%s", driver);
        link_to(target, "sys/bus/pci/devices/" GPU "/driver");
}

static void build_tree(void) {
        put("(null)\n", "sys/bus/pci/devices/" GPU "/driver_override");
        put("", "sys/bus/pci/drivers/nvidia/unbind");
        link_to("../../../../module/nvidia", "sys/bus/pci/drivers/nvidia/module");
        put(NULL, "sys/module/nvidia");
        put("", "sys/bus/pci/drivers/vfio-pci/unbind");
        link_to("../../../../module/vfio_pci", "sys/bus/pci/drivers/vfio-pci/module");
        put(NULL, "sys/module/vfio_pci");
        put("", "sys/bus/pci/drivers_probe");
        put("", "dev/vfio/16");
        bind_gpu_to("nvidia");
}

static Step step(StepKind kind, const char *argument, int64_t group) {
        return (Step) { .kind = kind, .address = gpu, .argument = (char *) argument, .group = group };
}

static void test_function_state_reads_driver_module_and_null_override_as_none(void) {
        FunctionState s = {};

        CHECK_INTEQ(function_state_read(&gpu, 16, true, &s), 0);
        CHECK_STREQ(s.driver, "nvidia");
        CHECK_STREQ(s.module, "nvidia");
        CHECK(s.override == NULL);
        CHECK_INTEQ(s.group, 16);
        CHECK(pci_address_equal(&s.address, &gpu));
        function_state_done(&s);
}

static void test_function_state_reads_override_and_no_driver(void) {
        FunctionState s = {};

        put("vfio-pci\n", "sys/bus/pci/devices/" GPU "/driver_override");
        bind_gpu_to(NULL);
        CHECK_INTEQ(function_state_read(&gpu, 16, true, &s), 0);
        CHECK(s.driver == NULL);
        CHECK(s.module == NULL);
        CHECK_STREQ(s.override, "vfio-pci");
        function_state_done(&s);

        put("(null)\n", "sys/bus/pci/devices/" GPU "/driver_override");
        bind_gpu_to("nvidia");
}

static void test_function_state_of_missing_function_is_enoent(void) {
        FunctionState s = {};
        PciAddress a = { 0, 0x27, 0, 0 };

        CHECK_INTEQ(function_state_read(&a, -1, true, &s), -ENOENT);
}

static void test_set_override_writes_the_driver_into_driver_override(void) {
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci", -1);

        put("", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_execute(&s, NULL), 0);
        CHECK_STREQ(contents("sys/bus/pci/devices/" GPU "/driver_override"), "vfio-pci");
}

static void test_set_override_verify_passes_when_driver_override_holds_it(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci", -1);

        put("vfio-pci\n", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_verify(&s, &what), 0);
        CHECK(what == NULL);
}

static void test_set_override_verify_fails_when_driver_override_does_not_hold_it(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_SET_OVERRIDE, "vfio-pci", -1);

        put("(null)\n", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_verify(&s, &what), -EIO);
        CHECK_STREQ(what, GPU ": driver_override reads \"(null)\" after the write");
}

static void test_clear_override_writes_a_newline_and_verifies_null(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_CLEAR_OVERRIDE, NULL, -1);

        put("", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_execute(&s, NULL), 0);
        CHECK_STREQ(contents("sys/bus/pci/devices/" GPU "/driver_override"), "\n");

        put("(null)\n", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_verify(&s, &what), 0);

        put("vfio-pci\n", "sys/bus/pci/devices/" GPU "/driver_override");
        CHECK_INTEQ(step_verify(&s, &what), -EIO);
        CHECK_STREQ(what, GPU ": driver_override reads \"vfio-pci\" after the write");
        put("(null)\n", "sys/bus/pci/devices/" GPU "/driver_override");
}

static void test_unbind_writes_the_address_to_the_drivers_unbind(void) {
        Step s = step(STEP_UNBIND, "nvidia", -1);

        put("", "sys/bus/pci/drivers/nvidia/unbind");
        CHECK_INTEQ(step_execute(&s, NULL), 0);
        CHECK_STREQ(contents("sys/bus/pci/drivers/nvidia/unbind"), GPU);
}

static void test_unbind_refuses_a_driver_name_with_a_slash(void) {
        Step s = step(STEP_UNBIND, "../../devices/" GPU, -1);

        CHECK_INTEQ(step_execute(&s, NULL), -EINVAL);
}

static void test_unbind_verify_fails_while_the_link_names_the_driver(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_UNBIND, "nvidia", -1);

        bind_gpu_to("nvidia");
        CHECK_INTEQ(step_verify(&s, &what), -EBUSY);
        CHECK_STREQ(what, GPU " is still bound to nvidia after the unbind");
}

static void test_unbind_verify_passes_once_the_link_is_gone(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_UNBIND, "nvidia", -1);

        bind_gpu_to(NULL);
        CHECK_INTEQ(step_verify(&s, &what), 0);
        CHECK(what == NULL);
        bind_gpu_to("nvidia");
}

static void test_probe_writes_the_address_to_drivers_probe(void) {
        Step s = step(STEP_PROBE, "vfio-pci", 16);

        put("", "sys/bus/pci/drivers_probe");
        CHECK_INTEQ(step_execute(&s, NULL), 0);
        CHECK_STREQ(contents("sys/bus/pci/drivers_probe"), GPU);
}

static void test_probe_verify_names_the_driver_actually_bound(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_PROBE, "vfio-pci", 16);

        /* drivers_probe succeeds even when nothing bound: the link is the check. */
        bind_gpu_to("nvidia");
        CHECK_INTEQ(step_verify(&s, &what), -ENXIO);
        CHECK_STREQ(what, "the kernel accepted drivers_probe but " GPU " is on nvidia, not vfio-pci");
}

static void test_probe_verify_fails_when_nothing_bound(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_PROBE, "vfio-pci", 16);

        bind_gpu_to(NULL);
        CHECK_INTEQ(step_verify(&s, &what), -ENXIO);
        CHECK_STREQ(what, "the kernel accepted drivers_probe but " GPU " is on no driver, not vfio-pci");
        bind_gpu_to("nvidia");
}

static void test_probe_verify_fails_when_the_vfio_node_is_missing(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_PROBE, "vfio-pci", 16);

        bind_gpu_to("vfio-pci");
        remove_at("dev/vfio/16");
        CHECK_INTEQ(step_verify(&s, &what), -ENXIO);
        CHECK_STREQ(what, GPU " is on vfio-pci but /dev/vfio/16 did not appear");

        what = mfree(what);
        put("", "dev/vfio/16");
        CHECK_INTEQ(step_verify(&s, &what), 0);
        CHECK(what == NULL);
        bind_gpu_to("nvidia");
}

static void test_probe_for_any_host_driver_refuses_vfio_and_no_driver(void) {
        _cleanup_free_ char *what = NULL;
        Step s = step(STEP_PROBE, NULL, -1);

        bind_gpu_to("nvidia");
        CHECK_INTEQ(step_verify(&s, &what), 0);

        bind_gpu_to("vfio-pci");
        CHECK_INTEQ(step_verify(&s, &what), -ENXIO);
        CHECK_STREQ(what, "the kernel accepted drivers_probe but " GPU " is on vfio-pci");

        what = mfree(what);
        bind_gpu_to(NULL);
        CHECK_INTEQ(step_verify(&s, &what), -ENXIO);
        CHECK_STREQ(what, "the kernel accepted drivers_probe but " GPU " is on no driver");
        bind_gpu_to("nvidia");
}

static void test_module_steps_verify_against_sys_module(void) {
        _cleanup_free_ char *what = NULL;
        Step load_present = { .kind = STEP_LOAD_MODULE, .argument = (char *) "vfio_pci", .group = -1 };
        Step load_absent = { .kind = STEP_LOAD_MODULE, .argument = (char *) "snd_hda_intel", .group = -1 };
        Step unload_present = { .kind = STEP_UNLOAD_MODULE, .argument = (char *) "vfio_pci", .group = -1 };
        Step unload_absent = { .kind = STEP_UNLOAD_MODULE, .argument = (char *) "snd_hda_intel", .group = -1 };

        CHECK_INTEQ(step_verify(&load_present, &what), 0);
        CHECK_INTEQ(step_verify(&unload_absent, &what), 0);
        CHECK(what == NULL);

        CHECK_INTEQ(step_verify(&load_absent, &what), -ENOENT);
        CHECK_STREQ(what, "module snd_hda_intel is not loaded after loading it succeeded");
        what = mfree(what);
        CHECK_INTEQ(step_verify(&unload_present, &what), -EBUSY);
        CHECK_STREQ(what, "module vfio_pci is still loaded after unloading it succeeded");
}

static void test_module_steps_need_a_kmod_context(void) {
        Step load = { .kind = STEP_LOAD_MODULE, .argument = (char *) "vfio_pci", .group = -1 };

        CHECK_INTEQ(step_execute(&load, NULL), -EOPNOTSUPP);
}

static void test_verify_reports_a_function_that_disappeared(void) {
        _cleanup_free_ char *what = NULL;
        Step s = { .kind = STEP_UNBIND, .address = { 0, 0x27, 0, 0 }, .argument = (char *) "nvidia", .group = -1 };

        CHECK_INTEQ(step_verify(&s, &what), -ENODEV);
        CHECK_STREQ(what, "0000:27:00.0 disappeared");
}

static void test_unchanged_executes_and_verifies_as_nothing(void) {
        _cleanup_free_ char *what = NULL;
        Step s = { .kind = STEP_UNCHANGED, .address = { 0, 0x27, 0, 0 }, .argument = (char *) "nvidia", .group = -1 };

        CHECK_INTEQ(step_execute(&s, NULL), 0);
        CHECK_INTEQ(step_verify(&s, &what), 0);
        CHECK(what == NULL);
}

static void test_module_in_use_by_a_dependent_module(void) {
        put("2\n", "sys/module/vfio/refcnt");
        CHECK_INTEQ(module_in_use("vfio"), 1);
}

static void test_module_in_use_by_a_bound_function(void) {
        put("0\n", "sys/module/nvidia/refcnt");
        put(NULL, "sys/module/nvidia/drivers");
        link_to("../../../bus/pci/drivers/nvidia", "sys/module/nvidia/drivers/pci:nvidia");
        link_to("../../../../devices/" GPU, "sys/bus/pci/drivers/nvidia/" GPU);
        CHECK_INTEQ(module_in_use("nvidia"), 1);

        remove_at("sys/bus/pci/drivers/nvidia/" GPU);
        CHECK_INTEQ(module_in_use("nvidia"), 0);
}

static void test_module_not_in_use_without_dependents_or_functions(void) {
        put("0\n", "sys/module/vfio_pci/refcnt");
        put(NULL, "sys/module/vfio_pci/drivers");
        link_to("../../../bus/pci/drivers/vfio-pci", "sys/module/vfio_pci/drivers/pci:vfio-pci");
        CHECK_INTEQ(module_in_use("vfio_pci"), 0);
        /* Not loaded: not in use. */
        CHECK_INTEQ(module_in_use("snd_hda_intel"), 0);
        CHECK_INTEQ(module_in_use("../vfio_pci"), -EINVAL);
}

static void test_module_loaded_looks_at_sys_module(void) {
        CHECK(module_loaded("vfio_pci"));
        CHECK(!module_loaded("snd_hda_intel"));
        CHECK(!module_loaded(".."));
        CHECK(!module_loaded(""));
}

int main(void) {
        int r;

        RUN(test_detach_from_nvidia_loads_module_then_overrides_unbinds_and_probes);
        RUN(test_function_already_on_vfio_with_override_is_unchanged);
        RUN(test_reattach_loads_unregistered_module_after_unbind);
        RUN(test_reattach_to_no_driver_clears_and_unbinds_without_probe);
        RUN(test_driverless_function_to_vfio_overrides_and_probes_without_unbind);
        RUN(test_module_step_is_planned_once_for_two_functions);
        RUN(test_function_already_there_is_unchanged_after_shared_module_step);
        RUN(test_step_describe_says_what_each_kind_does);
        RUN(test_step_kind_names_round_trip);
        RUN(test_step_kind_refuses_invalid_input);

        if (!mkdtemp(root))
                return EXIT_FAILURE;
        build_tree();
        if (sysfs_set_root(root) < 0)
                return EXIT_FAILURE;

        RUN(test_function_state_reads_driver_module_and_null_override_as_none);
        RUN(test_function_state_reads_override_and_no_driver);
        RUN(test_function_state_of_missing_function_is_enoent);
        RUN(test_set_override_writes_the_driver_into_driver_override);
        RUN(test_set_override_verify_passes_when_driver_override_holds_it);
        RUN(test_set_override_verify_fails_when_driver_override_does_not_hold_it);
        RUN(test_clear_override_writes_a_newline_and_verifies_null);
        RUN(test_unbind_writes_the_address_to_the_drivers_unbind);
        RUN(test_unbind_refuses_a_driver_name_with_a_slash);
        RUN(test_unbind_verify_fails_while_the_link_names_the_driver);
        RUN(test_unbind_verify_passes_once_the_link_is_gone);
        RUN(test_probe_writes_the_address_to_drivers_probe);
        RUN(test_probe_verify_names_the_driver_actually_bound);
        RUN(test_probe_verify_fails_when_nothing_bound);
        RUN(test_probe_verify_fails_when_the_vfio_node_is_missing);
        RUN(test_probe_for_any_host_driver_refuses_vfio_and_no_driver);
        RUN(test_module_steps_verify_against_sys_module);
        RUN(test_module_steps_need_a_kmod_context);
        RUN(test_verify_reports_a_function_that_disappeared);
        RUN(test_unchanged_executes_and_verifies_as_nothing);
        RUN(test_module_in_use_by_a_dependent_module);
        RUN(test_module_in_use_by_a_bound_function);
        RUN(test_module_not_in_use_without_dependents_or_functions);
        RUN(test_module_loaded_looks_at_sys_module);

        r = TESTS_DONE();
        {
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                if (system(cmd) != 0)
                        fprintf(stderr, "Failed to remove %s\n", root);
        }
        return r;
}
