/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PCI hostdevs of a libvirt domain's XML (see virt-xml.h): libxml2's tree of the text,
 * walked by hand from <domain> to <devices> to each <hostdev>/<interface>; the address
 * attributes are scanned into numbers strictly. Touches no files.
 */
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "virt-xml.h"

static void xml_doc_freep(xmlDoc **doc) {
        if (*doc)
                xmlFreeDoc(*doc);
}

static void xml_char_freep(xmlChar **s) {
        if (*s)
                xmlFree(*s);
}
#define _cleanup_xml_free_ _cleanup_(xml_char_freep)

static bool node_is(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && streq((const char *) n->name, name);
}

static xmlNode *child_element(const xmlNode *parent, const char *name) {
        for (xmlNode *n = parent->children; n; n = n->next)
                if (node_is(n, name))
                        return n;
        return NULL;
}

static xmlChar *attr(const xmlNode *n, const char *name) {
        return xmlGetNoNsProp(n, (const xmlChar *) name);
}

static bool attr_is(const xmlNode *n, const char *name, const char *value) {
        _cleanup_xml_free_ xmlChar *v = attr(n, name);

        return v && streq((const char *) v, value);
}

/* "0x" and 1 … max_digits hex digits, at most max_value. */
static int parse_hex(const xmlChar *value, size_t max_digits, uint32_t max_value, uint32_t *ret) {
        const char *s = (const char *) value;
        uint32_t v = 0;
        size_t n = 0;

        if (!s || !strneq(s, "0x", 2))
                return -EINVAL;
        for (s += 2; *s; s++, n++) {
                int h = unhexchar(*s);

                if (h < 0 || n >= max_digits)
                        return -EINVAL;
                v = v * 16 + (uint32_t) h;
        }
        if (n == 0 || v > max_value)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_source_address(const xmlNode *dev, PciAddress *ret, const char **ret_reason) {
        static const struct {
                const char *name;
                size_t digits;
                uint32_t max;
                const char *reason;
        } fields[] = {
                { "domain", 8, UINT32_MAX,
                  "a PCI hostdev's address domain must be 0x and 1 to 8 hex digits" },
                { "bus", 2, 0xff, "a PCI hostdev's address bus must be 0x and 1 or 2 hex digits" },
                { "slot", 2, 0x1f, "a PCI hostdev's address slot must be 0x00 to 0x1f" },
                { "function", 1, 7, "a PCI hostdev's address function must be 0x0 to 0x7" },
        };
        uint32_t v[ELEMENTSOF(fields)];
        xmlNode *source, *address;

        source = child_element(dev, "source");
        address = source ? child_element(source, "address") : NULL;
        if (!address) {
                *ret_reason = "a PCI hostdev has no <source><address/>";
                return -EINVAL;
        }

        _cleanup_xml_free_ xmlChar *type = attr(address, "type");
        if (type && !streq((const char *) type, "pci")) {
                *ret_reason = "a PCI hostdev's source address is not of type 'pci'";
                return -EINVAL;
        }

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                _cleanup_xml_free_ xmlChar *value = attr(address, fields[i].name);

                if (parse_hex(value, fields[i].digits, fields[i].max, &v[i]) < 0) {
                        *ret_reason = fields[i].reason;
                        return -EINVAL;
                }
        }

        *ret = (PciAddress) { .domain = v[0], .bus = (uint8_t) v[1], .slot = (uint8_t) v[2],
                              .function = (uint8_t) v[3] };
        return 0;
}

static int parse_managed(const xmlNode *dev, bool *ret, const char **ret_reason) {
        _cleanup_xml_free_ xmlChar *managed = attr(dev, "managed");

        if (!managed || streq((const char *) managed, "no"))
                *ret = false;
        else if (streq((const char *) managed, "yes"))
                *ret = true;
        else {
                *ret_reason = "a PCI hostdev's managed attribute must be 'yes' or 'no'";
                return -EINVAL;
        }
        return 0;
}

static bool is_pci_hostdev(const xmlNode *n, bool *ret_interface) {
        if (node_is(n, "hostdev")) {
                _cleanup_xml_free_ xmlChar *mode = attr(n, "mode");

                *ret_interface = false;
                return (!mode || streq((const char *) mode, "subsystem")) && attr_is(n, "type", "pci");
        }
        if (node_is(n, "interface")) {
                *ret_interface = true;
                return attr_is(n, "type", "hostdev");
        }
        return false;
}

int virt_xml_parse_pci_hostdevs(const char *xml, VirtHostdev **ret, size_t *ret_n, const char **ret_reason) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_free_ VirtHostdev *list = NULL;
        const char *reason = NULL;
        size_t n = 0, allocated = 0, len;
        xmlNode *root, *devices;
        int r;

        if (!xml || !ret || !ret_n)
                return -EINVAL;

        len = strlen(xml);
        if (len > INT_MAX) {
                reason = "the domain XML is too large";
                r = -EINVAL;
                goto fail;
        }
        doc = xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                reason = "the domain XML does not parse";
                r = -EINVAL;
                goto fail;
        }
        root = xmlDocGetRootElement(doc);
        if (!root || !node_is(root, "domain")) {
                reason = "the XML is not a <domain>";
                r = -EINVAL;
                goto fail;
        }

        devices = child_element(root, "devices");
        for (xmlNode *dev = devices ? devices->children : NULL; dev; dev = dev->next) {
                VirtHostdev h = {};

                if (!is_pci_hostdev(dev, &h.interface))
                        continue;
                r = parse_source_address(dev, &h.address, &reason);
                if (r < 0)
                        goto fail;
                r = parse_managed(dev, &h.managed, &reason);
                if (r < 0)
                        goto fail;

                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 4;
                        VirtHostdev *l = reallocarray(list, a, sizeof(VirtHostdev));

                        if (!l)
                                return -ENOMEM;
                        list = l;
                        allocated = a;
                }
                list[n++] = h;
        }

        *ret = TAKE_PTR(list);
        *ret_n = n;
        if (ret_reason)
                *ret_reason = NULL;
        return 0;

fail:
        if (ret_reason)
                *ret_reason = reason;
        return r;
}
