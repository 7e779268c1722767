/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transaction journals and the host-driver record in the runtime directory (see
 * journal.h). Line formats, one item per line, "-" for none:
 *   group-N.journal:  "passthru1-journal 1", "operation detach|reattach", "group N",
 *                     "origin ADDRESS GROUP DRIVER MODULE OVERRIDE" (OVERRIDE is "-" for none, else
 *                     "=" and the value up to the end of the line, spaces included),
 *                     "loaded MODULE", "step INDEX TEXT"; a Handoff or Return also
 *                     "gpu ADDRESS", "domain TEXT", and what the Handoff releases:
 *                     "console vtconN", "framebuffer DEVICE", "unloaded MODULE", "stopped UNIT";
 *                     a Return what it has bound again: "bound-console vtconN",
 *                     "bound-framebuffer DEVICE"
 *   gpu-pci_….handoff: the same lines, for a GPU handed off (Return reads it)
 *   host-drivers:     "ADDRESS DRIVER MODULE"
 * Touches only the runtime directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "journal.h"
#include "log.h"
#include "sysfs.h"
#include "util.h"

#define JOURNAL_MAGIC "passthru1-journal 1"
#define RECORDS_NAME "host-drivers"

static const char *const operation_table[_OPERATION_MAX] = {
        [OPERATION_DETACH] = "detach",
        [OPERATION_REATTACH] = "reattach",
        [OPERATION_HANDOFF] = "handoff",
        [OPERATION_RETURN] = "return",
};

const char *operation_to_string(Operation o) {
        if (o < 0 || o >= _OPERATION_MAX)
                return NULL;
        return operation_table[o];
}

Operation operation_from_string(const char *s) {
        for (Operation o = 0; s && o < _OPERATION_MAX; o++)
                if (streq(operation_table[o], s))
                        return o;
        return _OPERATION_INVALID;
}

void journal_done(Journal *j) {
        for (size_t i = 0; i < j->n_origins; i++)
                function_state_done(&j->origins[i]);
        j->origins = mfree(j->origins);
        j->n_origins = 0;
        j->loaded_modules = strv_free(j->loaded_modules);
        j->step_text = mfree(j->step_text);
        j->domain = mfree(j->domain);
        j->consoles = strv_free(j->consoles);
        j->framebuffers = strv_free(j->framebuffers);
        j->unloaded_modules = strv_free(j->unloaded_modules);
        j->stopped_units = strv_free(j->stopped_units);
        j->bound_consoles = strv_free(j->bound_consoles);
        j->bound_framebuffers = strv_free(j->bound_framebuffers);
        j->has_gpu = false;
}

int runtime_dir_open(const char *path) {
        int fd;

        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static const char *dash(const char *s) {
        return isempty(s) ? "-" : s;
}

static char *undash(const char *s) {
        return streq(s, "-") ? NULL : strdup(s);
}

static void journal_name(unsigned group, char buf[static 32]) {
        snprintf(buf, 32, "group-%u.journal", group);
}

int journal_write(int dirfd, const Journal *j) {
        char name[32];

        journal_name(j->group, name);
        return journal_write_named(dirfd, name, j);
}

int journal_write_named(int dirfd, const char *name, const Journal *j) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, JOURNAL_MAGIC "\n# passthrud returns every function below to where it was when it starts.\n");
        fprintf(f, "operation %s\ngroup %u\n", operation_to_string(j->operation), j->group);
        for (size_t i = 0; i < j->n_origins; i++) {
                char a[PCI_ADDRESS_STRING_MAX];
                const FunctionState *o = &j->origins[i];
                fprintf(f, "origin %s %" PRIi64 " %s %s %s%s\n", pci_address_format(&o->address, a), o->group,
                        dash(o->driver), dash(o->module), o->override ? "=" : "-", strempty(o->override));
        }
        for (char **m = j->loaded_modules; m && *m; m++)
                fprintf(f, "loaded %s\n", *m);
        if (j->has_gpu) {
                char a[PCI_ADDRESS_STRING_MAX];
                fprintf(f, "gpu %s\n", pci_address_format(&j->gpu, a));
        }
        if (j->domain)
                fprintf(f, "domain %s\n", j->domain);
        for (char **c = j->consoles; c && *c; c++)
                fprintf(f, "console %s\n", *c);
        for (char **c = j->framebuffers; c && *c; c++)
                fprintf(f, "framebuffer %s\n", *c);
        for (char **m = j->unloaded_modules; m && *m; m++)
                fprintf(f, "unloaded %s\n", *m);
        for (char **u = j->stopped_units; u && *u; u++)
                fprintf(f, "stopped %s\n", *u);
        for (char **c = j->bound_consoles; c && *c; c++)
                fprintf(f, "bound-console %s\n", *c);
        for (char **c = j->bound_framebuffers; c && *c; c++)
                fprintf(f, "bound-framebuffer %s\n", *c);
        fprintf(f, "step %zu %s\n", j->step, strempty(j->step_text));
        if (fclose(f) != 0)
                return -ENOMEM;

        return write_file_atomic_at(dirfd, name, text);
}

static int parse_number(const char *s, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        if (isempty(s))
                return -EBADMSG;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_origin(char *rest, FunctionState *ret) {
        FunctionState s = {};
        const char *reason;
        char *w[4], *p = rest;
        int64_t g;

        /* four space-separated words, then the override (which may contain spaces) */
        for (size_t i = 0; i < 4; i++) {
                char *sp = strchr(p, ' ');
                if (!sp)
                        return -EBADMSG;
                *sp = '\0';
                w[i] = p;
                p = sp + 1;
        }
        if (pci_address_parse(w[0], &s.address, &reason) < 0 || parse_number(w[1], -1, UINT32_MAX, &g) < 0)
                return -EBADMSG;
        if ((!streq(w[2], "-") && !driver_name_is_valid(w[2])) || (!streq(w[3], "-") && !driver_name_is_valid(w[3])))
                return -EBADMSG;
        if (!streq(p, "-") && p[0] != '=')
                return -EBADMSG;
        s.group = g;
        s.driver = undash(w[2]);
        s.module = undash(w[3]);
        s.override = p[0] == '=' ? strdup(p + 1) : NULL;
        if ((!s.driver && !streq(w[2], "-")) || (!s.module && !streq(w[3], "-")) || (!s.override && p[0] == '=')) {
                function_state_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* The lists of names a Handoff or Return records, by the keyword of their lines. */
static char ***journal_name_list(Journal *j, const char *line, char **ret_value) {
        const struct {
                const char *keyword;
                char ***list;
        } table[] = {
                { "console ", &j->consoles },
                { "framebuffer ", &j->framebuffers },
                { "unloaded ", &j->unloaded_modules },
                { "stopped ", &j->stopped_units },
                { "bound-console ", &j->bound_consoles },
                { "bound-framebuffer ", &j->bound_framebuffers },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if ((*ret_value = (char *) startswith(line, table[i].keyword)))
                        return table[i].list;
        return NULL;
}

int journal_read(int dirfd, const char *name, Journal *ret) {
        _cleanup_(journal_done) Journal j = { .operation = _OPERATION_INVALID };
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        bool have_group = false;
        int r;

        r = read_full_at(dirfd, name, 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        lines = strv_split(text, "\n");
        if (!lines)
                return -ENOMEM;
        if (!lines[0] || !streq(lines[0], JOURNAL_MAGIC))
                return -EBADMSG;
        for (char **l = lines + 1; *l; l++) {
                char ***list;
                char *v;

                if ((*l)[0] == '#' || (*l)[0] == '\0')
                        continue;
                if ((v = startswith(*l, "operation ")))
                        j.operation = operation_from_string(v);
                else if ((v = startswith(*l, "group "))) {
                        if (safe_atou(v, &j.group) < 0)
                                return -EBADMSG;
                        have_group = true;
                } else if ((v = startswith(*l, "origin "))) {
                        FunctionState *n = reallocarray(j.origins, j.n_origins + 1, sizeof(FunctionState));
                        if (!n)
                                return -ENOMEM;
                        j.origins = n;
                        r = parse_origin(v, &j.origins[j.n_origins]);
                        if (r < 0)
                                return r;
                        j.n_origins++;
                } else if ((v = startswith(*l, "loaded "))) {
                        char *c;
                        if (!driver_name_is_valid(v))
                                return -EBADMSG;
                        c = strdup(v);
                        if (!c || strv_push(&j.loaded_modules, c) < 0)
                                return -ENOMEM;
                } else if ((v = startswith(*l, "gpu "))) {
                        if (pci_address_parse(v, &j.gpu, NULL) < 0)
                                return -EBADMSG;
                        j.has_gpu = true;
                } else if ((v = startswith(*l, "domain "))) {
                        if (free_and_strdup(&j.domain, v) < 0)
                                return -ENOMEM;
                } else if ((list = journal_name_list(&j, *l, &v))) {
                        if (!driver_name_is_valid(v))
                                return -EBADMSG;
                        if (strv_push(list, strdup(v)) < 0)
                                return -ENOMEM;
                } else if ((v = startswith(*l, "step "))) {
                        char *sp = strchr(v, ' ');
                        int64_t step;
                        if (sp)
                                *sp = '\0';
                        if (parse_number(v, 0, INT32_MAX, &step) < 0)
                                return -EBADMSG;
                        j.step = (size_t) step;
                        free(j.step_text);
                        j.step_text = strdup(sp ? sp + 1 : "");
                        if (!j.step_text)
                                return -ENOMEM;
                } else
                        return -EBADMSG;
        }
        if (j.operation < 0 || !have_group)
                return -EBADMSG;
        *ret = j;
        j = (Journal) {};
        return 0;
}

int journal_remove(int dirfd, unsigned group) {
        char name[32];

        journal_name(group, name);
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        (void) fsync(dirfd);
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_with_suffix(int dirfd, const char *suffix, char ***ret);

int journal_list(int dirfd, char ***ret) {
        return list_with_suffix(dirfd, ".journal", ret);
}

static int list_with_suffix(int dirfd, const char *suffix, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t k = strlen(suffix);
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                char *c;
                if (de->d_name[0] == '.' || n <= k || !streq(de->d_name + n - k, suffix))
                        continue;
                c = strdup(de->d_name);
                if (!c || strv_push(&l, c) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        if (l)
                qsort(l, strv_length(l), sizeof(char *), compare_strings);
        *ret = TAKE_PTR(l);
        return 0;
}

void handoff_record_name(const PciAddress *gpu, char buf[static 64]) {
        char n[PCI_ADDRESS_STRING_MAX];
        snprintf(buf, 64, "gpu-%s.handoff", pci_address_format_nodedev(gpu, n));
}

int handoff_record_list(int dirfd, char ***ret) {
        return list_with_suffix(dirfd, ".handoff", ret);
}

int records_load(int dirfd, FunctionState **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        FunctionState *l = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = read_full_at(dirfd, RECORDS_NAME, 1024 * 1024, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        lines = strv_split(text, "\n");
        if (!lines)
                return -ENOMEM;
        for (char **i = lines; *i; i++) {
                _cleanup_strv_free_ char **w = NULL;
                FunctionState s = { .group = -1 };
                const char *reason;
                FunctionState *nl;

                if ((*i)[0] == '#' || (*i)[0] == '\0')
                        continue;
                w = strv_split(*i, " ");
                if (!w || strv_length(w) != 3 || pci_address_parse(w[0], &s.address, &reason) < 0 ||
                    (!streq(w[1], "-") && !driver_name_is_valid(w[1])) ||
                    (!streq(w[2], "-") && !driver_name_is_valid(w[2]))) {
                        log_warning("Ignoring a malformed line of the host-driver record: %s", *i);
                        continue;
                }
                s.driver = undash(w[1]);
                s.module = undash(w[2]);
                nl = reallocarray(l, n + 1, sizeof(FunctionState));
                if (!nl) {
                        function_state_done(&s);
                        for (size_t k = 0; k < n; k++)
                                function_state_done(&l[k]);
                        free(l);
                        return -ENOMEM;
                }
                l = nl;
                l[n++] = s;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int records_save(int dirfd, const FunctionState *records, size_t n) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# The drivers passthrud returns these functions to (ADDRESS DRIVER MODULE; - for none).\n");
        for (size_t i = 0; i < n; i++) {
                char a[PCI_ADDRESS_STRING_MAX];
                fprintf(f, "%s %s %s\n", pci_address_format(&records[i].address, a), dash(records[i].driver),
                        dash(records[i].module));
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        return write_file_atomic_at(dirfd, RECORDS_NAME, text);
}
