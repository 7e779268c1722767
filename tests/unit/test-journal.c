/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transaction journals and the host-driver record in a temporary runtime directory:
 * what is written is read back, files are replaced atomically, and malformed files are
 * refused (journals) or their bad lines skipped (the record).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "journal.h"
#include "tests.h"
#include "util.h"

static char root[] = "/tmp/test-journal-XXXXXX";

/* A fresh, empty runtime directory for each test. */
static int new_dir(const char *name) {
        char path[1024];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, name);
        fd = runtime_dir_open(path);
        CHECK(fd >= 0);
        return fd;
}

static void put(int dirfd, const char *name, const char *content) {
        CHECK_INTEQ(write_file_atomic_at(dirfd, name, content), 0);
}

/* The names in the directory, sorted, space separated (dot files included). */
static const char *listing(int dirfd) {
        static char buf[1024];
        struct dirent **names;
        int n;
        char path[64];
        size_t k = 0;

        snprintf(path, sizeof(path), "/proc/self/fd/%i", dirfd);
        buf[0] = '\0';
        n = scandir(path, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (!streq(names[i]->d_name, ".") && !streq(names[i]->d_name, ".."))
                        k += snprintf(buf + k, sizeof(buf) - k, "%s%s", k > 0 ? " " : "", names[i]->d_name);
                free(names[i]);
        }
        if (n >= 0)
                free(names);
        return buf;
}

static const PciAddress gpu = { 0, 0x26, 0x00, 0 };
static const PciAddress audio = { 0, 0x26, 0x00, 1 };
static const PciAddress usb = { 0, 0x28, 0x00, 3 };

static void test_runtime_dir_open_creates_the_directory(void) {
        char path[1024];
        struct stat st;
        int fd;

        snprintf(path, sizeof(path), "%s/created", root);
        fd = runtime_dir_open(path);
        CHECK(fd >= 0);
        CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
        /* Opening it again is fine. */
        safe_close(fd);
        fd = runtime_dir_open(path);
        CHECK(fd >= 0);
        safe_close(fd);
}

static void test_journal_round_trip(void) {
        _cleanup_close_ int dir = new_dir("round-trip");
        _cleanup_(journal_done) Journal back = {};
        FunctionState origins[] = {
                { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" },
                { .address = audio, .group = 16, .driver = "snd_hda_intel", .module = "snd_hda_intel",
                  .override = "snd_hda_intel" },
                /* No driver, and an override with spaces (written by someone else). */
                { .address = usb, .group = -1, .override = "not a driver  name" },
        };
        char *loaded[] = { "vfio_pci", "vfio_iommu_type1", "vfio", NULL };
        Journal j = {
                .operation = OPERATION_DETACH,
                .group = 16,
                .origins = origins,
                .n_origins = ELEMENTSOF(origins),
                .loaded_modules = loaded,
                .step = 3,
                .step_text = "0000:26:00.0: unbind from nvidia",
        };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(journal_read(dir, "group-16.journal", &back), 0);

        CHECK_INTEQ(back.operation, OPERATION_DETACH);
        CHECK_INTEQ(back.group, 16);
        CHECK_INTEQ(back.n_origins, 3);
        if (back.n_origins != 3)
                return;
        CHECK(pci_address_equal(&back.origins[0].address, &gpu));
        CHECK_INTEQ(back.origins[0].group, 16);
        CHECK_STREQ(back.origins[0].driver, "nvidia");
        CHECK_STREQ(back.origins[0].module, "nvidia");
        CHECK(back.origins[0].override == NULL);

        CHECK(pci_address_equal(&back.origins[1].address, &audio));
        CHECK_STREQ(back.origins[1].driver, "snd_hda_intel");
        CHECK_STREQ(back.origins[1].override, "snd_hda_intel");

        CHECK(pci_address_equal(&back.origins[2].address, &usb));
        CHECK_INTEQ(back.origins[2].group, -1);
        CHECK(back.origins[2].driver == NULL);
        CHECK(back.origins[2].module == NULL);
        CHECK_STREQ(back.origins[2].override, "not a driver  name");

        CHECK(strv_equal(back.loaded_modules, loaded));
        CHECK_INTEQ(back.step, 3);
        CHECK_STREQ(back.step_text, "0000:26:00.0: unbind from nvidia");
}

static void test_journal_of_a_reattach_without_origins_round_trips(void) {
        _cleanup_close_ int dir = new_dir("reattach");
        _cleanup_(journal_done) Journal back = {};
        Journal j = { .operation = OPERATION_REATTACH, .group = 7 };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(journal_read(dir, "group-7.journal", &back), 0);
        CHECK_INTEQ(back.operation, OPERATION_REATTACH);
        CHECK_INTEQ(back.group, 7);
        CHECK_INTEQ(back.n_origins, 0);
        CHECK(back.loaded_modules == NULL);
        CHECK_INTEQ(back.step, 0);
        CHECK_STREQ(back.step_text, "");
}

static void test_journal_write_replaces_the_file_atomically(void) {
        _cleanup_close_ int dir = new_dir("atomic");
        _cleanup_(journal_done) Journal back = {};
        Journal j = { .operation = OPERATION_DETACH, .group = 16, .step = 1, .step_text = "first" };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        j.step = 2;
        j.step_text = "second";
        CHECK_INTEQ(journal_write(dir, &j), 0);

        /* No temporary file left behind, and the second content replaced the first. */
        CHECK_STREQ(listing(dir), "group-16.journal");
        CHECK_INTEQ(journal_read(dir, "group-16.journal", &back), 0);
        CHECK_INTEQ(back.step, 2);
        CHECK_STREQ(back.step_text, "second");
}

static void test_journal_is_readable_by_people(void) {
        _cleanup_close_ int dir = new_dir("readable");
        _cleanup_free_ char *text = NULL;
        FunctionState origins[] = {
                { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" },
        };
        char *loaded[] = { "vfio_pci", NULL };
        Journal j = {
                .operation = OPERATION_DETACH,
                .group = 16,
                .origins = origins,
                .n_origins = 1,
                .loaded_modules = loaded,
                .step = 1,
                .step_text = "load module vfio_pci",
        };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(read_full_at(dir, "group-16.journal", 4096, &text, NULL), 0);
        CHECK_STREQ(text,
                    "passthru1-journal 1\n"
                    "# passthrud returns every function below to where it was when it starts.\n"
                    "operation detach\n"
                    "group 16\n"
                    "origin 0000:26:00.0 16 nvidia nvidia -\n"
                    "loaded vfio_pci\n"
                    "step 1 load module vfio_pci\n");
}

static int read_text(const char *text) {
        _cleanup_close_ int dir = new_dir("malformed");
        _cleanup_(journal_done) Journal j = {};

        put(dir, "group-16.journal", text);
        return journal_read(dir, "group-16.journal", &j);
}

#define GOOD_HEAD "passthru1-journal 1\noperation detach\ngroup 16\n"

static void test_journal_read_accepts_a_well_formed_journal(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.0 16 nvidia nvidia -\nstep 0 x\n"), 0);
}

static void test_handoff_record_round_trips_what_it_released(void) {
        _cleanup_close_ int dir = new_dir("handoff");
        _cleanup_(journal_done) Journal back = {};
        char *consoles[] = { (char *) "vtcon1", NULL }, *fbs[] = { (char *) "efi-framebuffer.0", NULL },
             *unloaded[] = { (char *) "nvidia_drm", (char *) "nvidia", NULL },
             *units[] = { (char *) "display-manager.service", NULL };
        Journal j = {
                .operation = OPERATION_HANDOFF, .group = 16, .has_gpu = true, .gpu = gpu,
                .domain = (char *) "win 10", .consoles = consoles, .framebuffers = fbs,
                .unloaded_modules = unloaded, .stopped_units = units,
        };
        char name[64];

        handoff_record_name(&gpu, name);
        CHECK_STREQ(name, "gpu-pci_0000_26_00_0.handoff");
        CHECK_INTEQ(journal_write_named(dir, name, &j), 0);
        CHECK_INTEQ(journal_read(dir, name, &back), 0);
        CHECK_INTEQ(back.operation, OPERATION_HANDOFF);
        CHECK(back.has_gpu && pci_address_equal(&back.gpu, &gpu));
        CHECK_STREQ(back.domain, "win 10");
        CHECK(strv_equal(back.consoles, consoles));
        CHECK(strv_equal(back.framebuffers, fbs));
        CHECK(strv_equal(back.unloaded_modules, unloaded));
        CHECK(strv_equal(back.stopped_units, units));
        /* a record is no journal: the start-up undo does not pick it up */
        char **journals = NULL, **records = NULL;
        CHECK_INTEQ(journal_list(dir, &journals), 0);
        CHECK(journals == NULL);
        CHECK_INTEQ(handoff_record_list(dir, &records), 0);
        CHECK(records && streq(records[0], name) && !records[1]);
        strv_free(records);
        CHECK_INTEQ(read_text(GOOD_HEAD "console ../vtcon1\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "unloaded \n"), -EBADMSG);
}

static void test_return_journal_round_trips_what_it_bound_again(void) {
        _cleanup_close_ int dir = new_dir("return");
        _cleanup_(journal_done) Journal back = {};
        char *consoles[] = { (char *) "vtcon1", NULL }, *fbs[] = { (char *) "efi-framebuffer.0", NULL },
             *loaded[] = { (char *) "nvidia_modeset", (char *) "nvidia", NULL };
        Journal j = {
                .operation = OPERATION_RETURN, .group = 16, .has_gpu = true, .gpu = gpu,
                .loaded_modules = loaded, .bound_consoles = consoles, .bound_framebuffers = fbs,
        };
        _cleanup_free_ char *text = NULL;

        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(read_full_at(dir, "group-16.journal", 4096, &text, NULL), 0);
        CHECK(strstr(text, "\nbound-console vtcon1\nbound-framebuffer efi-framebuffer.0\n"));
        CHECK_INTEQ(journal_read(dir, "group-16.journal", &back), 0);
        CHECK_INTEQ(back.operation, OPERATION_RETURN);
        CHECK(strv_equal(back.loaded_modules, loaded));
        CHECK(strv_equal(back.bound_consoles, consoles));
        CHECK(strv_equal(back.bound_framebuffers, fbs));
        /* not what the Handoff released: those the undo would bind, these it unbinds */
        CHECK(!back.consoles && !back.framebuffers);
        CHECK_INTEQ(read_text(GOOD_HEAD "bound-console ../vtcon1\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "bound-framebuffer \n"), -EBADMSG);
}

static void test_journal_read_refuses_bad_magic(void) {
        CHECK_INTEQ(read_text("passthru1-journal 2\noperation detach\ngroup 16\n"), -EBADMSG);
        CHECK_INTEQ(read_text("operation detach\ngroup 16\n"), -EBADMSG);
        CHECK_INTEQ(read_text(""), -EBADMSG);
}

static void test_journal_read_refuses_an_unknown_line(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "unload vfio_pci\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD " origin 0000:26:00.0 16 nvidia nvidia -\n"), -EBADMSG);
}

static void test_journal_read_refuses_a_bad_address(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.9 16 nvidia nvidia -\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "origin ../../etc 16 nvidia nvidia -\n"), -EBADMSG);
}

static void test_journal_read_refuses_a_driver_with_a_slash(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.0 16 ../nvidia nvidia -\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.0 16 nvidia nv/idia -\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "loaded ../vfio_pci\n"), -EBADMSG);
}

static void test_journal_read_refuses_a_group_or_step_that_is_not_a_number(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.0 abc nvidia nvidia -\n"), -EBADMSG);
        CHECK_INTEQ(read_text(GOOD_HEAD "step abc foo\n"), -EBADMSG);
}

static void test_journal_round_trips_a_whitespace_only_override(void) {
        _cleanup_close_ int dir = new_dir("whitespace-override");
        _cleanup_(journal_done) Journal back = {};
        FunctionState o = { .address = gpu, .group = 16, .override = (char *) " " };
        Journal j = { .operation = OPERATION_DETACH, .group = 16, .origins = &o, .n_origins = 1 };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(journal_read(dir, "group-16.journal", &back), 0);
        CHECK(back.n_origins == 1 && streq_ptr(back.origins[0].override, " "));
}

static void test_journal_read_refuses_a_short_origin(void) {
        CHECK_INTEQ(read_text(GOOD_HEAD "origin 0000:26:00.0 16 nvidia nvidia\n"), -EBADMSG);
}

static void test_journal_read_refuses_missing_or_unknown_operation_and_group(void) {
        CHECK_INTEQ(read_text("passthru1-journal 1\ngroup 16\n"), -EBADMSG);
        CHECK_INTEQ(read_text("passthru1-journal 1\noperation bind\ngroup 16\n"), -EBADMSG);
        CHECK_INTEQ(read_text("passthru1-journal 1\noperation detach\n"), -EBADMSG);
        CHECK_INTEQ(read_text("passthru1-journal 1\noperation detach\ngroup sixteen\n"), -EBADMSG);
}

static void test_journal_list_returns_only_journals_sorted(void) {
        _cleanup_close_ int dir = new_dir("list");
        _cleanup_strv_free_ char **l = NULL;

        CHECK_INTEQ(journal_list(dir, &l), 0);
        CHECK(l == NULL);

        put(dir, "group-9.journal", "x");
        put(dir, "group-16.journal", "x");
        put(dir, "group-10.journal", "x");
        put(dir, "host-drivers", "x");
        put(dir, ".group-3.journal.tmp", "x");
        put(dir, ".hidden.journal", "x");
        put(dir, "group-4.journal.bak", "x");
        put(dir, "notes.txt", "x");

        CHECK_INTEQ(journal_list(dir, &l), 0);
        CHECK_INTEQ(strv_length(l), 3);
        if (strv_length(l) != 3)
                return;
        CHECK_STREQ(l[0], "group-10.journal");
        CHECK_STREQ(l[1], "group-16.journal");
        CHECK_STREQ(l[2], "group-9.journal");
}

static void test_journal_remove_deletes_the_groups_journal(void) {
        _cleanup_close_ int dir = new_dir("remove");
        Journal j = { .operation = OPERATION_REATTACH, .group = 16 };

        CHECK_INTEQ(journal_write(dir, &j), 0);
        j.group = 17;
        CHECK_INTEQ(journal_write(dir, &j), 0);
        CHECK_INTEQ(journal_remove(dir, 16), 0);
        CHECK_STREQ(listing(dir), "group-17.journal");
}

static void test_journal_remove_of_a_missing_journal_is_not_an_error(void) {
        _cleanup_close_ int dir = new_dir("remove-missing");

        CHECK_INTEQ(journal_remove(dir, 16), 0);
}

static void test_records_round_trip(void) {
        _cleanup_close_ int dir = new_dir("records");
        FunctionState records[] = {
                { .address = gpu, .group = 16, .driver = "nvidia", .module = "nvidia" },
                { .address = audio, .group = 16, .driver = "snd_hda_intel", .module = "snd_hda_intel" },
                { .address = usb, .group = 20, .driver = "xhci_hcd" }, /* built in */
                { .address = { 1, 0x02, 0x1f, 7 }, .group = 21 },     /* no driver */
        };
        FunctionState *back = NULL;
        size_t n = 0;

        CHECK_INTEQ(records_save(dir, records, ELEMENTSOF(records)), 0);
        CHECK_STREQ(listing(dir), "host-drivers");
        CHECK_INTEQ(records_load(dir, &back, &n), 0);
        CHECK_INTEQ(n, 4);
        for (size_t i = 0; i < n && i < ELEMENTSOF(records); i++) {
                CHECK(pci_address_equal(&back[i].address, &records[i].address));
                CHECK(streq_ptr(back[i].driver, records[i].driver));
                CHECK(streq_ptr(back[i].module, records[i].module));
                CHECK(back[i].override == NULL);
                CHECK_INTEQ(back[i].group, -1); /* the record keeps no groups */
        }
        for (size_t i = 0; i < n; i++)
                function_state_done(&back[i]);
        free(back);
}

static void test_records_load_without_a_record_is_empty(void) {
        _cleanup_close_ int dir = new_dir("records-missing");
        FunctionState *back = NULL;
        size_t n = 1;

        CHECK_INTEQ(records_load(dir, &back, &n), 0);
        CHECK_INTEQ(n, 0);
        CHECK(back == NULL);
}

static void test_records_load_skips_malformed_lines(void) {
        _cleanup_close_ int dir = new_dir("records-malformed");
        FunctionState *back = NULL;
        size_t n = 0;

        put(dir, "host-drivers",
            "# comment\n"
            "0000:26:00.0 nvidia nvidia\n"
            "0000:26:00.9 snd_hda_intel snd_hda_intel\n"   /* function out of range */
            "0000:27:00.0 nvidia\n"                        /* two words */
            "0000:27:00.1 nvidia nvidia extra\n"           /* four words */
            "0000:28:00.0 ../nvidia nvidia\n"              /* driver with a slash */
            "0000:28:00.1 nvidia ..\n"                     /* module ".." */
            "\n"
            "0000:26:00.1 - -\n");
        CHECK_INTEQ(records_load(dir, &back, &n), 0);
        CHECK_INTEQ(n, 2);
        if (n == 2) {
                CHECK(pci_address_equal(&back[0].address, &gpu));
                CHECK_STREQ(back[0].driver, "nvidia");
                CHECK_STREQ(back[0].module, "nvidia");
                CHECK(pci_address_equal(&back[1].address, &audio));
                CHECK(back[1].driver == NULL);
                CHECK(back[1].module == NULL);
        }
        for (size_t i = 0; i < n; i++)
                function_state_done(&back[i]);
        free(back);
}

int main(void) {
        int r;

        if (!mkdtemp(root))
                return EXIT_FAILURE;

        RUN(test_runtime_dir_open_creates_the_directory);
        RUN(test_journal_round_trip);
        RUN(test_journal_of_a_reattach_without_origins_round_trips);
        RUN(test_handoff_record_round_trips_what_it_released);
        RUN(test_return_journal_round_trips_what_it_bound_again);
        RUN(test_journal_write_replaces_the_file_atomically);
        RUN(test_journal_is_readable_by_people);
        RUN(test_journal_read_accepts_a_well_formed_journal);
        RUN(test_journal_read_refuses_bad_magic);
        RUN(test_journal_read_refuses_an_unknown_line);
        RUN(test_journal_read_refuses_a_bad_address);
        RUN(test_journal_read_refuses_a_group_or_step_that_is_not_a_number);
        RUN(test_journal_round_trips_a_whitespace_only_override);
        RUN(test_journal_read_refuses_a_driver_with_a_slash);
        RUN(test_journal_read_refuses_a_short_origin);
        RUN(test_journal_read_refuses_missing_or_unknown_operation_and_group);
        RUN(test_journal_list_returns_only_journals_sorted);
        RUN(test_journal_remove_deletes_the_groups_journal);
        RUN(test_journal_remove_of_a_missing_journal_is_not_an_error);
        RUN(test_records_round_trip);
        RUN(test_records_load_without_a_record_is_empty);
        RUN(test_records_load_skips_malformed_lines);

        r = TESTS_DONE();
        {
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                if (system(cmd) != 0)
                        fprintf(stderr, "Failed to remove %s\n", root);
        }
        return r;
}
