/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reservations file: parsing (good lines, malformed ones skipped, later lines winning),
 * sorted add/replace/remove, the text written and read back, atomic saving with its mode,
 * $CONFIGURATION_DIRECTORY, and passthru.disable on the kernel command line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "reservations.h"
#include "tests.h"

static PciAddress addr(uint32_t domain, uint8_t bus, uint8_t slot, uint8_t function) {
        return (PciAddress) { .domain = domain, .bus = bus, .slot = slot, .function = function };
}

static void test_parse(void) {
        Reservations r = {};
        PciAddress gpu = addr(0, 0x26, 0, 0), audio = addr(0, 0x26, 0, 1);

        CHECK_INTEQ(reservations_parse("# comment\n"
                                       "\n"
                                       "  0000:26:00.1 10de:10fa   HDMI audio  \n"
                                       "26:00.0 10DE:1F82 NVIDIA Corporation TU117 [GeForce GTX 1650]\n"
                                       "not-an-address 10de:1f82\n"
                                       "0000:26:00.8 10de:1f82 function out of range\n"
                                       "0000:27:00.0 10de:1f8 short ids\n"
                                       "0000:27:00.0 10de:1f82x trailing\n"
                                       "0000:27:00.0\n"
                                       "0000:28:00.0 1022:1487\n"
                                       "0000:28:00.0 1022:1488 later wins\n",
                                       "test", &r),
                    0);
        CHECK_INTEQ(r.n, 3);
        if (r.n == 3) {
                /* sorted by address */
                CHECK(pci_address_equal(&r.items[0].address, &gpu));
                CHECK(pci_address_equal(&r.items[1].address, &audio));
                CHECK_INTEQ(r.items[0].vendor_id, 0x10de);
                CHECK_INTEQ(r.items[0].product_id, 0x1f82);
                CHECK_STREQ(r.items[0].description, "NVIDIA Corporation TU117 [GeForce GTX 1650]");
                CHECK_STREQ(r.items[1].description, "HDMI audio");
                CHECK_INTEQ(r.items[2].product_id, 0x1488);
                CHECK_STREQ(r.items[2].description, "later wins");
        }
        CHECK(reservations_find(&r, &gpu) != NULL);
        CHECK(reservations_find(&r, &(PciAddress) { .bus = 0x99 }) == NULL);
        reservations_done(&r);
        CHECK_INTEQ(r.n, 0);
        reservations_done(&r); /* twice is harmless */
        reservations_done(NULL);
}

static void test_add_remove_format(void) {
        Reservations r = {}, back = {};
        PciAddress a = addr(0, 0x26, 0, 0), b = addr(0, 0x01, 0, 0), c = addr(1, 0, 0, 0);
        char *text;

        CHECK_INTEQ(reservations_add(&r, &a, 0x10de, 0x1f82, "GPU"), 0);
        CHECK_INTEQ(reservations_add(&r, &c, 0x8086, 0x1234, NULL), 0);
        CHECK_INTEQ(reservations_add(&r, &b, 0x2646, 0x5017, "disk\nwith\tcontrol\x01" "characters"), 0);
        CHECK_INTEQ(reservations_add(&r, &a, 0x10de, 0x2184, "replaced"), 0);
        CHECK_INTEQ(r.n, 3);
        CHECK(pci_address_equal(&r.items[0].address, &b));
        CHECK(pci_address_equal(&r.items[2].address, &c));
        CHECK_STREQ(r.items[0].description, "disk with control characters");
        CHECK_INTEQ(r.items[1].product_id, 0x2184);

        text = reservations_format(&r);
        CHECK(text != NULL);
        CHECK(text && strstr(text, "\n0000:01:00.0 2646:5017 disk with control characters\n"));
        CHECK(text && strstr(text, "\n0000:26:00.0 10de:2184 replaced\n"));
        CHECK(text && strstr(text, "\n0001:00:00.0 8086:1234\n"));
        CHECK(text && text[0] == '#');
        CHECK_INTEQ(reservations_parse(text ?: "", "round trip", &back), 0);
        CHECK_INTEQ(back.n, 3);
        for (size_t i = 0; i < back.n && i < r.n; i++) {
                CHECK(pci_address_equal(&back.items[i].address, &r.items[i].address));
                CHECK_INTEQ(back.items[i].product_id, r.items[i].product_id);
        }
        free(text);
        reservations_done(&back);

        CHECK(reservations_remove(&r, &a));
        CHECK(!reservations_remove(&r, &a));
        CHECK_INTEQ(r.n, 2);
        CHECK(reservations_remove(&r, &b));
        CHECK(reservations_remove(&r, &c));
        CHECK_INTEQ(r.n, 0);
        reservations_done(&r);
}

static void test_save_load(void) {
        char dir[] = "/tmp/test-reservations-XXXXXX", sub[64], file[96];
        Reservations r = {}, back = {};
        PciAddress a = addr(0, 0x26, 0, 0);
        struct stat st;
        mode_t old;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(sub, sizeof sub, "%s/etc", dir);
        snprintf(file, sizeof file, "%s/reservations", sub);

        /* No directory, no file: no reservation. */
        CHECK_INTEQ(reservations_load(sub, &back), 0);
        CHECK_INTEQ(back.n, 0);

        CHECK_INTEQ(reservations_add(&r, &a, 0x10de, 0x1f82, "GPU"), 0);
        old = umask(0077); /* the daemon's UMask=: the file must still be readable by people */
        CHECK_INTEQ(reservations_save(sub, &r), 0);
        umask(old);
        CHECK_INTEQ(stat(file, &st), 0);
        CHECK_INTEQ(st.st_mode & 0777, 0644);
        CHECK_INTEQ(reservations_load(sub, &back), 0);
        CHECK_INTEQ(back.n, 1);
        reservations_done(&back);

        /* No temporary file is left behind. */
        snprintf(file, sizeof file, "%s/.reservations.tmp", sub);
        CHECK(access(file, F_OK) < 0);

        /* A directory that cannot be one. */
        snprintf(file, sizeof file, "%s/plainfile", dir);
        close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        CHECK(reservations_save(file, &r) < 0);
        reservations_done(&r);

        snprintf(file, sizeof file, "rm -rf '%s'", dir);
        CHECK_INTEQ(system(file), 0);
}

static void test_configuration_dir(void) {
        char *p = NULL;

        unsetenv("CONFIGURATION_DIRECTORY");
        CHECK_INTEQ(configuration_dir_path(&p), 0);
        CHECK_STREQ(p, "/etc/passthru1");
        free(p);
        setenv("CONFIGURATION_DIRECTORY", "/etc/passthru1:/etc/other", 1);
        CHECK_INTEQ(configuration_dir_path(&p), 0);
        CHECK_STREQ(p, "/etc/passthru1");
        free(p);
        setenv("CONFIGURATION_DIRECTORY", "relative", 1);
        CHECK_INTEQ(configuration_dir_path(&p), -EINVAL);
        unsetenv("CONFIGURATION_DIRECTORY");
}

static void test_cmdline(void) {
        CHECK(!reservations_disabled_by_cmdline(NULL));
        CHECK(!reservations_disabled_by_cmdline("quiet splash"));
        CHECK(reservations_disabled_by_cmdline("quiet passthru.disable=1"));
        CHECK(reservations_disabled_by_cmdline("passthru.disable quiet"));
        CHECK(reservations_disabled_by_cmdline("passthru.disable=yes"));
        CHECK(!reservations_disabled_by_cmdline("passthru.disable=0"));
        CHECK(!reservations_disabled_by_cmdline("passthru.disabled=1"));
        CHECK(!reservations_disabled_by_cmdline("xpassthru.disable=1"));
        /* the last one wins, as for the kernel's own options */
        CHECK(!reservations_disabled_by_cmdline("passthru.disable=1 passthru.disable=0"));
}

int main(void) {
        log_set_max_level(LOG_ERR); /* the skipped lines warn */
        RUN(test_parse);
        RUN(test_add_remove_format);
        RUN(test_save_load);
        RUN(test_configuration_dir);
        RUN(test_cmdline);
        return TESTS_DONE();
}
