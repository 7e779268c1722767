/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address parsing: every accepted form, and each class of bad input refused. */
#include <errno.h>

#include "pci-address.h"
#include "tests.h"

static void check_ok(const char *in, const char *canonical) {
        char buf[PCI_ADDRESS_STRING_MAX];
        const char *reason = "unset";
        PciAddress a;

        CHECK_INTEQ(pci_address_parse(in, &a, &reason), 0);
        CHECK(reason == NULL);
        CHECK_STREQ(pci_address_format(&a, buf), canonical);
}

static void check_bad(const char *in, int error) {
        const char *reason = NULL;
        PciAddress a = { .domain = 0x1234 };

        CHECK_INTEQ(pci_address_parse(in, &a, &reason), error);
        CHECK(reason != NULL && reason[0] != '\0');
        CHECK_INTEQ(a.domain, 0x1234); /* nothing written on failure */
}

static void test_full_form(void) {
        check_ok("0000:26:00.0", "0000:26:00.0");
        check_ok("0000:00:1f.7", "0000:00:1f.7");
        check_ok("abcd:ef:1f.3", "abcd:ef:1f.3");
}

static void test_short_form_means_domain_zero(void) {
        check_ok("26:00.1", "0000:26:00.1");
        check_ok("00:00.0", "0000:00:00.0");
}

static void test_nodedev_form(void) {
        check_ok("pci_0000_26_00_0", "0000:26:00.0");
        check_ok("pci_0001_03_1f_7", "0001:03:1f.7");
}

static void test_upper_case_hex_is_accepted(void) {
        check_ok("0000:2A:00.0", "0000:2a:00.0");
        check_ok("pci_ABCD_EF_01_2", "abcd:ef:01.2");
}

static void test_wide_domain_only_above_ffff(void) {
        check_ok("10000:e1:00.0", "10000:e1:00.0"); /* VMD domains */
        check_bad("00000:26:00.0", -EINVAL);
        check_bad("0:26:00.0", -EINVAL);
}

static void test_empty_and_null(void) {
        check_bad("", -EINVAL);
        check_bad(NULL, -EINVAL);
}

static void test_out_of_range(void) {
        check_bad("0000:00:20.0", -ERANGE);
        check_bad("0000:00:02.8", -ERANGE);
        check_bad("pci_0000_00_20_0", -ERANGE);
}

static void test_malformed(void) {
        check_bad("26:00", -EINVAL);
        check_bad("26.00.0", -EINVAL);
        check_bad("0000:26:00.0:1", -EINVAL);
        check_bad("0000:026:00.0", -EINVAL);
        check_bad("0000:26:0.0", -EINVAL);
        check_bad("0000:26:00.00", -EINVAL);
        check_bad("0000:26:00.", -EINVAL);
        check_bad("0x26:00.0", -EINVAL);
        check_bad("pci_0000_26_00", -EINVAL);
        check_bad("pci_0000:26:00.0", -EINVAL);
        check_bad("gpu", -EINVAL);
}

static void test_path_and_control_characters(void) {
        check_bad("../..", -EINVAL);
        check_bad("0000:26:00.0/../../..", -EINVAL);
        check_bad("0000:26:00.0\n", -EINVAL);
        check_bad("0000:26:00.0\nfoo", -EINVAL);
        check_bad(" 0000:26:00.0", -EINVAL);
        check_bad("0000:26:00.0 ", -EINVAL);
        check_bad("0000:26:00\t.0", -EINVAL);
}

static void test_too_long(void) {
        char big[4097];

        memset(big, '0', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        check_bad(big, -EINVAL);
        /* Long but made of valid characters */
        check_bad("0000000000000000000000000000000000000000:26:00.0", -EINVAL);
}

static void test_formats(void) {
        PciAddress a = { .domain = 0, .bus = 0x26, .slot = 0, .function = 1 };
        PciAddress b = { .domain = 0x10000, .bus = 0xe1, .slot = 0x1f, .function = 7 };
        char buf[PCI_ADDRESS_STRING_MAX];

        CHECK_STREQ(pci_address_format_nodedev(&a, buf), "pci_0000_26_00_1");
        CHECK_STREQ(pci_address_format_short(&a, buf), "26:00.1");
        CHECK_STREQ(pci_address_format_short(&b, buf), "10000:e1:1f.7");
        CHECK_STREQ(pci_address_format_nodedev(&b, buf), "pci_10000_e1_1f_7");
}

static void test_compare_orders_by_domain_bus_slot_function(void) {
        PciAddress a = { 0, 0x26, 0, 0 }, b = { 0, 0x26, 0, 1 }, c = { 1, 0, 0, 0 };

        CHECK(pci_address_compare(&a, &b) < 0);
        CHECK(pci_address_compare(&b, &c) < 0);
        CHECK(pci_address_compare(&c, &a) > 0);
        CHECK(pci_address_equal(&a, &a));
        CHECK(pci_address_same_slot(&a, &b));
        CHECK(!pci_address_same_slot(&a, &c));
}

int main(void) {
        RUN(test_full_form);
        RUN(test_short_form_means_domain_zero);
        RUN(test_nodedev_form);
        RUN(test_upper_case_hex_is_accepted);
        RUN(test_wide_domain_only_above_ffff);
        RUN(test_empty_and_null);
        RUN(test_out_of_range);
        RUN(test_malformed);
        RUN(test_path_and_control_characters);
        RUN(test_too_long);
        RUN(test_formats);
        RUN(test_compare_orders_by_domain_bus_slot_function);
        return TESTS_DONE();
}
