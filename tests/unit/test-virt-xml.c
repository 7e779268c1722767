/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PCI hostdevs of a libvirt domain's XML: which elements count, how addresses are read,
 * and each kind of malformed address refused. No libvirt involved. */
#include <errno.h>

#include "virt-xml.h"
#include "tests.h"

#define DOMAIN(devices) \
        "<domain type='kvm'><name>win11</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>" \
        "<devices>" devices "</devices></domain>"

#define PCI_HOSTDEV(attrs, address) \
        "<hostdev mode='subsystem' type='pci' " attrs "><source><address " address "/></source></hostdev>"

static const char *addr(const VirtHostdev *h, char buf[static PCI_ADDRESS_STRING_MAX]) {
        return pci_address_format(&h->address, buf);
}

/* Parses xml expecting success; returns the count, the list in *ret. */
static size_t parse_ok(const char *xml, VirtHostdev **ret) {
        const char *reason = "unset";
        size_t n = 12345;

        *ret = NULL;
        CHECK_INTEQ(virt_xml_parse_pci_hostdevs(xml, ret, &n, &reason), 0);
        CHECK(reason == NULL);
        return n;
}

static void check_bad(const char *xml, const char *reason_part) {
        VirtHostdev *l = (VirtHostdev *) 0x1;
        const char *reason = NULL;
        size_t n = 7;

        CHECK_INTEQ(virt_xml_parse_pci_hostdevs(xml, &l, &n, &reason), -EINVAL);
        CHECK(reason && strstr(reason, reason_part));
        if (!reason || !strstr(reason, reason_part))
                fprintf(stderr, "  reason: %s (expected to contain \"%s\")\n", reason ?: "(null)", reason_part);
        CHECK(l == (VirtHostdev *) 0x1); /* nothing written on failure */
        CHECK_INTEQ(n, 7);
}

static void test_no_devices_at_all(void) {
        _cleanup_free_ VirtHostdev *l = NULL;

        CHECK_INTEQ(parse_ok("<domain type='kvm'><name>empty</name></domain>", &l), 0);
        CHECK(l == NULL);
}

static void test_no_hostdevs(void) {
        _cleanup_free_ VirtHostdev *l = NULL;

        CHECK_INTEQ(parse_ok(DOMAIN("<disk type='file' device='disk'><source file='/x.img'/></disk>"
                                    "<interface type='network'><source network='default'/></interface>"),
                             &l),
                    0);
        CHECK(l == NULL);
}

static void test_gpu_and_audio_in_document_order(void) {
        _cleanup_free_ VirtHostdev *l = NULL;
        char buf[PCI_ADDRESS_STRING_MAX];
        size_t n;

        n = parse_ok(DOMAIN(PCI_HOSTDEV("managed='yes'", "domain='0x0000' bus='0x26' slot='0x00' function='0x0'")
                            "<disk type='file' device='disk'><source file='/x.img'/></disk>"
                            PCI_HOSTDEV("managed='yes'", "domain='0x0000' bus='0x26' slot='0x00' function='0x1'")),
                     &l);
        CHECK_INTEQ(n, 2);
        if (n != 2)
                return;
        CHECK_STREQ(addr(&l[0], buf), "0000:26:00.0");
        CHECK_STREQ(addr(&l[1], buf), "0000:26:00.1");
        CHECK(l[0].managed && l[1].managed);
        CHECK(!l[0].interface && !l[1].interface);
}

static void test_managed_yes_no_and_absent(void) {
        _cleanup_free_ VirtHostdev *l = NULL;
        size_t n;

        n = parse_ok(DOMAIN(PCI_HOSTDEV("managed='yes'", "domain='0x0000' bus='0x01' slot='0x00' function='0x0'")
                            PCI_HOSTDEV("managed='no'", "domain='0x0000' bus='0x02' slot='0x00' function='0x0'")
                            PCI_HOSTDEV("", "domain='0x0000' bus='0x03' slot='0x00' function='0x0'")),
                     &l);
        CHECK_INTEQ(n, 3);
        if (n != 3)
                return;
        CHECK(l[0].managed);
        CHECK(!l[1].managed);
        CHECK(!l[2].managed);
}

static void test_managed_other_value_is_refused(void) {
        check_bad(DOMAIN(PCI_HOSTDEV("managed='true'", "domain='0x0000' bus='0x01' slot='0x00' function='0x0'")),
                  "managed");
        check_bad(DOMAIN(PCI_HOSTDEV("managed=''", "domain='0x0000' bus='0x01' slot='0x00' function='0x0'")),
                  "managed");
}

static void test_non_pci_hostdevs_are_ignored(void) {
        _cleanup_free_ VirtHostdev *l = NULL;
        char buf[PCI_ADDRESS_STRING_MAX];
        size_t n;

        n = parse_ok(DOMAIN("<hostdev mode='subsystem' type='usb' managed='yes'>"
                            "<source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>"
                            "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>"
                            "<address bus='0' target='0' unit='0'/></source></hostdev>"
                            "<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.50014057667280d8'/></hostdev>"
                            "<hostdev mode='subsystem' type='mdev' model='vfio-pci'>"
                            "<source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"
                            "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>"
                            PCI_HOSTDEV("", "domain='0x0000' bus='0x0a' slot='0x00' function='0x0'")),
                     &l);
        CHECK_INTEQ(n, 1);
        if (n == 1)
                CHECK_STREQ(addr(&l[0], buf), "0000:0a:00.0");
}

static void test_hostdev_without_mode_is_subsystem(void) {
        _cleanup_free_ VirtHostdev *l = NULL;

        CHECK_INTEQ(parse_ok(DOMAIN("<hostdev type='pci'><source><address domain='0x0000' bus='0x05' slot='0x00' "
                                    "function='0x0'/></source></hostdev>"),
                             &l),
                    1);
}

static void test_interface_type_hostdev_is_pci(void) {
        _cleanup_free_ VirtHostdev *l = NULL;
        char buf[PCI_ADDRESS_STRING_MAX];
        size_t n;

        n = parse_ok(DOMAIN("<interface type='hostdev' managed='yes'><mac address='52:54:00:6d:90:02'/>"
                            "<source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>"
                            "</source></interface>"
                            "<interface type='network'><source network='default'/></interface>"),
                     &l);
        CHECK_INTEQ(n, 1);
        if (n != 1)
                return;
        CHECK_STREQ(addr(&l[0], buf), "0000:03:10.1");
        CHECK(l[0].interface);
        CHECK(l[0].managed);
}

static void test_hostdevs_outside_devices_are_ignored(void) {
        _cleanup_free_ VirtHostdev *l = NULL;

        CHECK_INTEQ(parse_ok("<domain type='kvm'><metadata>"
                             PCI_HOSTDEV("", "domain='0x0000' bus='0x01' slot='0x00' function='0x0'")
                             "</metadata><devices/></domain>",
                             &l),
                    0);
}

static void test_hex_parsing(void) {
        _cleanup_free_ VirtHostdev *l = NULL;
        size_t n;

        n = parse_ok(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0xAB' slot='0x1F' function='0x7'")
                            PCI_HOSTDEV("", "domain='0x10000' bus='0xe1' slot='0x1f' function='0x0'")
                            PCI_HOSTDEV("", "domain='0x0' bus='0x1' slot='0x2' function='0x3'")
                            PCI_HOSTDEV("", "domain='0xffffffff' bus='0xff' slot='0x00' function='0x0'")),
                     &l);
        CHECK_INTEQ(n, 4);
        if (n != 4)
                return;
        CHECK_INTEQ(l[0].address.domain, 0);
        CHECK_INTEQ(l[0].address.bus, 0xab);
        CHECK_INTEQ(l[0].address.slot, 0x1f);
        CHECK_INTEQ(l[0].address.function, 7);
        CHECK_INTEQ(l[1].address.domain, 0x10000); /* VMD domains are wider than 16 bits */
        CHECK_INTEQ(l[1].address.bus, 0xe1);
        CHECK_INTEQ(l[2].address.domain, 0);
        CHECK_INTEQ(l[2].address.bus, 1);
        CHECK_INTEQ(l[2].address.slot, 2);
        CHECK_INTEQ(l[2].address.function, 3);
        CHECK_INTEQ(l[3].address.domain, 0xffffffffu);
}

static void test_malformed_addresses_are_refused(void) {
        /* not hex with 0x (libvirt writes 0x; decimal or octal would be guesses) */
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='26' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0000' bus='0x26' slot='0x00' function='0x0'")), "domain");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0X0000' bus='0x26' slot='0x00' function='0x0'")), "domain");
        /* no digits, bad digits, signs, spaces */
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x2g' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='-0x1' function='0x0'")), "slot");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus=' 0x26' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26 ' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='' bus='0x26' slot='0x00' function='0x0'")), "domain");
        /* too many digits or out of range */
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x100000000' bus='0x26' slot='0x00' function='0x0'")), "domain");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x126' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x026' slot='0x00' function='0x0'")), "bus");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x20' function='0x0'")), "slot");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x00' function='0x8'")), "function");
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x00' function='0x00'")), "function");
        /* missing attributes or elements */
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x00'")), "function");
        check_bad(DOMAIN(PCI_HOSTDEV("", "bus='0x26' slot='0x00' function='0x0'")), "domain");
        check_bad(DOMAIN("<hostdev mode='subsystem' type='pci'><source/></hostdev>"), "no <source><address/>");
        check_bad(DOMAIN("<hostdev mode='subsystem' type='pci'/>"), "no <source><address/>");
        /* an address of another bus */
        check_bad(DOMAIN(PCI_HOSTDEV("", "type='usb' bus='1' port='1'")), "type");
}

static void test_one_bad_hostdev_fails_the_whole(void) {
        check_bad(DOMAIN(PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x00' function='0x0'")
                         PCI_HOSTDEV("", "domain='0x0000' bus='0x26' slot='0x00' function='0x9'")),
                  "function");
}

static void test_not_a_domain(void) {
        check_bad("", "does not parse");
        check_bad("<domain><devices>", "does not parse");
        check_bad("not xml at all", "does not parse");
        check_bad("<network><name>default</name></network>", "not a <domain>");
}

int main(void) {
        RUN(test_no_devices_at_all);
        RUN(test_no_hostdevs);
        RUN(test_gpu_and_audio_in_document_order);
        RUN(test_managed_yes_no_and_absent);
        RUN(test_managed_other_value_is_refused);
        RUN(test_non_pci_hostdevs_are_ignored);
        RUN(test_hostdev_without_mode_is_subsystem);
        RUN(test_interface_type_hostdev_is_pci);
        RUN(test_hostdevs_outside_devices_are_ignored);
        RUN(test_hex_parsing);
        RUN(test_malformed_addresses_are_refused);
        RUN(test_one_bad_hostdev_fails_the_whole);
        RUN(test_not_a_domain);
        return TESTS_DONE();
}
