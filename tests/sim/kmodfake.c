/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmodfake.c: the fake kernel module tree generator (see kmodfake.h). Owns the
 * ELF writer and the depmod invocation. The .ko files are not loadable; they
 * only carry what depmod and libkmod read: .modinfo (alias=, name=, depends=,
 * license=, vermagic=), .symtab/.strtab (undefined symbols → dependencies) and
 * __ksymtab_strings (exported symbols).
 */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmodfake.h"
#include "sim-util.h"

typedef struct Buf {
        char *data;
        size_t len, allocated;
} Buf;

static int buf_put(Buf *b, const void *p, size_t l) {
        if (b->len + l > b->allocated) {
                size_t a = (b->len + l) * 2 + 256;
                char *n = realloc(b->data, a);

                if (!n)
                        return -ENOMEM;
                b->data = n;
                b->allocated = a;
        }
        memcpy(b->data + b->len, p, l);
        b->len += l;
        return 0;
}

static int buf_puts0(Buf *b, const char *s) {
        return buf_put(b, s, strlen(s) + 1);
}

static int buf_align(Buf *b, size_t a) {
        static const char zeros[16] = {};

        if (b->len % a == 0)
                return 0;
        return buf_put(b, zeros, a - b->len % a);
}

static char *export_symbol(const char *module) {
        return strdup_printf("pcisim_%s_export", module);
}

static int write_ko(const char *path, const FakeModule *m, const char *release) {
        Buf modinfo = {}, strtab = {}, symtab = {}, ksymstr = {}, shstr = {}, out = {};
        _cleanup_free_ char *export = NULL, *vermagic = NULL, *depends = NULL;
        Elf64_Shdr sh[6] = {};
        Elf64_Sym sym = {};
        Elf64_Ehdr eh = {};
        size_t n_deps = 0, off;
        _cleanup_close_ int fd = -1;
        uint32_t name_modinfo, name_symtab, name_strtab, name_ksym, name_shstr;
        int r = -ENOMEM;

        for (const char *const *d = m->depends; d && *d; d++)
                n_deps++;

        /* .modinfo */
        depends = strdup("depends=");
        if (!depends)
                goto finish;
        for (size_t i = 0; i < n_deps; i++) {
                char *n = strdup_printf("%s%s%s", depends, i > 0 ? "," : "", m->depends[i]);
                if (!n)
                        goto finish;
                free(depends);
                depends = n;
        }
        vermagic = strdup_printf("vermagic=%s SMP preempt mod_unload modversions ", release);
        if (!vermagic)
                goto finish;
        for (size_t i = 0; i < m->n_aliases; i++) {
                _cleanup_free_ char *a = strdup_printf("alias=%s", m->aliases[i]);
                if (!a || buf_puts0(&modinfo, a) < 0)
                        goto finish;
        }
        {
                _cleanup_free_ char *nm = strdup_printf("name=%s", m->name);

                if (!nm ||
                    buf_puts0(&modinfo, "license=GPL") < 0 ||
                    buf_puts0(&modinfo, "description=pcisim fake module") < 0 ||
                    buf_puts0(&modinfo, depends) < 0 ||
                    buf_puts0(&modinfo, "retpoline=Y") < 0 ||
                    buf_puts0(&modinfo, "intree=Y") < 0 ||
                    buf_puts0(&modinfo, nm) < 0 ||
                    buf_puts0(&modinfo, vermagic) < 0)
                        goto finish;
        }

        /* .strtab / .symtab: null symbol, one undefined symbol per dependency, our export */
        if (buf_put(&strtab, "", 1) < 0 || buf_put(&symtab, &sym, sizeof(sym)) < 0)
                goto finish;
        for (size_t i = 0; i < n_deps; i++) {
                _cleanup_free_ char *s = export_symbol(m->depends[i]);

                if (!s)
                        goto finish;
                sym = (Elf64_Sym) {
                        .st_name = (uint32_t) strtab.len,
                        .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE),
                        .st_shndx = SHN_UNDEF,
                };
                if (buf_puts0(&strtab, s) < 0 || buf_put(&symtab, &sym, sizeof(sym)) < 0)
                        goto finish;
        }
        export = export_symbol(m->name);
        if (!export)
                goto finish;
        sym = (Elf64_Sym) {
                .st_name = (uint32_t) strtab.len,
                .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
                .st_shndx = 4,
        };
        if (buf_puts0(&strtab, export) < 0 || buf_put(&symtab, &sym, sizeof(sym)) < 0)
                goto finish;

        /* __ksymtab_strings */
        if (buf_puts0(&ksymstr, export) < 0)
                goto finish;

        /* .shstrtab */
        if (buf_put(&shstr, "", 1) < 0)
                goto finish;
        name_modinfo = (uint32_t) shstr.len;
        if (buf_puts0(&shstr, ".modinfo") < 0)
                goto finish;
        name_symtab = (uint32_t) shstr.len;
        if (buf_puts0(&shstr, ".symtab") < 0)
                goto finish;
        name_strtab = (uint32_t) shstr.len;
        if (buf_puts0(&shstr, ".strtab") < 0)
                goto finish;
        name_ksym = (uint32_t) shstr.len;
        if (buf_puts0(&shstr, "__ksymtab_strings") < 0)
                goto finish;
        name_shstr = (uint32_t) shstr.len;
        if (buf_puts0(&shstr, ".shstrtab") < 0)
                goto finish;

        /* Layout: header, sections, section headers */
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
        eh.e_type = ET_REL;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_ehsize = sizeof(Elf64_Ehdr);
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shnum = ELEMENTSOF(sh);
        eh.e_shstrndx = 5;

        if (buf_put(&out, &eh, sizeof(eh)) < 0)
                goto finish;

#define PUT_SECTION(idx, nm, type, flags, b, align, link, info, entsize)        \
        do {                                                                    \
                if (buf_align(&out, align) < 0)                                 \
                        goto finish;                                            \
                off = out.len;                                                  \
                if (buf_put(&out, (b).data, (b).len) < 0)                       \
                        goto finish;                                            \
                sh[idx] = (Elf64_Shdr) {                                        \
                        .sh_name = nm,                                          \
                        .sh_type = type,                                        \
                        .sh_flags = flags,                                      \
                        .sh_offset = off,                                       \
                        .sh_size = (b).len,                                     \
                        .sh_link = link,                                        \
                        .sh_info = info,                                        \
                        .sh_addralign = align,                                  \
                        .sh_entsize = entsize,                                  \
                };                                                              \
        } while (0)

        PUT_SECTION(1, name_modinfo, SHT_PROGBITS, SHF_ALLOC, modinfo, 8, 0, 0, 0);
        PUT_SECTION(2, name_symtab, SHT_SYMTAB, 0, symtab, 8, 3, 1, sizeof(Elf64_Sym));
        PUT_SECTION(3, name_strtab, SHT_STRTAB, 0, strtab, 1, 0, 0, 0);
        PUT_SECTION(4, name_ksym, SHT_PROGBITS, SHF_ALLOC, ksymstr, 1, 0, 0, 0);
        PUT_SECTION(5, name_shstr, SHT_STRTAB, 0, shstr, 1, 0, 0, 0);
#undef PUT_SECTION

        if (buf_align(&out, 8) < 0)
                goto finish;
        ((Elf64_Ehdr *) out.data)->e_shoff = out.len;
        if (buf_put(&out, sh, sizeof(sh)) < 0)
                goto finish;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = -errno;
                goto finish;
        }
        if (write(fd, out.data, out.len) != (ssize_t) out.len) {
                r = negative_errno();
                goto finish;
        }
        r = 0;

finish:
        free(modinfo.data);
        free(strtab.data);
        free(symtab.data);
        free(ksymstr.data);
        free(shstr.data);
        free(out.data);
        return r;
}

int kmodfake_modinfo_name(const void *image, size_t size, char **ret_name) {
        const unsigned char *base = image;
        const Elf64_Shdr *sh, *shstr;
        Elf64_Ehdr eh;

        if (size < sizeof(eh))
                return -ENOEXEC;
        memcpy(&eh, base, sizeof(eh));
        if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
            eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum ||
            eh.e_shoff % _Alignof(Elf64_Shdr) != 0 || eh.e_shoff > size ||
            (size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
                return -ENOEXEC;
        if ((uintptr_t) base % _Alignof(Elf64_Shdr) != 0)
                return -ENOEXEC; /* callers pass malloc()ed buffers */

        sh = (const Elf64_Shdr *) (base + eh.e_shoff);
        shstr = sh + eh.e_shstrndx;
        if (shstr->sh_offset > size || shstr->sh_size > size - shstr->sh_offset)
                return -ENOEXEC;

        for (size_t i = 0; i < eh.e_shnum; i++) {
                const char *strings = (const char *) base + shstr->sh_offset, *p, *end;

                if (sh[i].sh_name >= shstr->sh_size ||
                    !memchr(strings + sh[i].sh_name, 0, shstr->sh_size - sh[i].sh_name) ||
                    !streq(strings + sh[i].sh_name, ".modinfo"))
                        continue;
                if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset)
                        return -ENOEXEC;

                /* NUL separated "key=value" strings, possibly with padding NULs between them */
                p = (const char *) base + sh[i].sh_offset;
                end = p + sh[i].sh_size;
                while (p < end) {
                        const char *z = memchr(p, 0, (size_t) (end - p));
                        size_t l = z ? (size_t) (z - p) : (size_t) (end - p);

                        if (l > 5 && l - 5 < 56 && strncmp(p, "name=", 5) == 0) {
                                char *n = strndup(p + 5, l - 5);

                                if (!n)
                                        return -ENOMEM;
                                *ret_name = n;
                                return 0;
                        }
                        p += l + 1;
                }
                return -ENOEXEC;
        }
        return -ENOEXEC;
}

static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_text(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t l = strlen(text);

        if (fd < 0)
                return -errno;
        if (l > 0 && write(fd, text, l) != (ssize_t) l)
                return negative_errno();
        return 0;
}

static const char *find_depmod(void) {
        static const char *const candidates[] = { "/sbin/depmod", "/usr/sbin/depmod", "/bin/depmod", "/usr/bin/depmod" };

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (access(candidates[i], X_OK) == 0)
                        return candidates[i];
        return NULL;
}

static int run_depmod(const char *root, const char *release, char **ret_error) {
        const char *depmod = find_depmod();
        char output[4096];
        size_t n = 0;
        int pipefd[2], status;
        pid_t pid;

        if (!depmod) {
                if (ret_error)
                        *ret_error = strdup("depmod not found in /sbin or /usr/sbin (install kmod)");
                return -ENOENT;
        }

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDONLY);

                if (devnull >= 0)
                        dup2(devnull, STDIN_FILENO);
                dup2(pipefd[1], STDOUT_FILENO);
                dup2(pipefd[1], STDERR_FILENO);
                execl(depmod, depmod, "-b", root, release, (char *) NULL);
                _exit(127);
        }

        close(pipefd[1]);
        for (;;) {
                ssize_t k = read(pipefd[0], output + n, sizeof(output) - 1 - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n >= sizeof(output) - 1) {
                        /* keep draining so the child does not block */
                        char sink[1024];
                        while (read(pipefd[0], sink, sizeof(sink)) > 0)
                                ;
                        break;
                }
        }
        output[n] = 0;
        close(pipefd[0]);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (ret_error)
                        *ret_error = strdup_printf("%s -b %s %s failed: %s", depmod, root, release,
                                                   n > 0 ? output : "no output");
                return -EIO;
        }
        return 0;
}

int kmodfake_generate(const char *dir, const char *depmod_root, const char *release,
                      const FakeModule *modules, size_t n_modules, char **ret_error) {
        _cleanup_free_ char *kdir = NULL, *order = NULL, *path = NULL;
        size_t order_len = 0;
        FILE *o;
        int r;

        kdir = strdup_printf("%s/%s/kernel/drivers/pcisim", dir, release);
        if (!kdir)
                return -ENOMEM;
        r = mkdir_p(kdir);
        if (r < 0)
                return r;

        o = open_memstream(&order, &order_len);
        if (!o)
                return -ENOMEM;

        for (size_t i = 0; i < n_modules; i++) {
                _cleanup_free_ char *ko = strdup_printf("%s/%s.ko", kdir, modules[i].name);

                if (!ko) {
                        fclose(o);
                        return -ENOMEM;
                }
                r = write_ko(ko, modules + i, release);
                if (r < 0) {
                        fclose(o);
                        return r;
                }
                fprintf(o, "kernel/drivers/pcisim/%s.ko\n", modules[i].name);
        }
        if (fclose(o) != 0)
                return -ENOMEM;

#define WRITE(name, text)                                                       \
        do {                                                                    \
                free(path);                                                     \
                path = strdup_printf("%s/%s/%s", dir, release, name);           \
                if (!path)                                                      \
                        return -ENOMEM;                                         \
                r = write_text(path, text);                                     \
                if (r < 0)                                                      \
                        return r;                                               \
        } while (0)

        WRITE("modules.order", order ?: "");
        WRITE("modules.builtin", "kernel/drivers/pci/pcie/portdrv.ko\n");
        WRITE("modules.builtin.modinfo", "");
#undef WRITE

        return run_depmod(depmod_root, release, ret_error);
}
