/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * simfs.c: the in-memory node tree behind pcisim's /sys (see simfs.h). Owns
 * node allocation, the path hash table and subtree removal. Knows nothing
 * about PCI.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim-util.h"
#include "simfs.h"

static uint64_t hash_path(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ULL;
        }
        return h;
}

static int hash_grow(Tree *t) {
        size_t n = t->n_buckets ? t->n_buckets * 2 : 1024;
        Node **b = calloc(n, sizeof(Node *));

        if (!b)
                return -ENOMEM;

        for (size_t i = 0; i < t->n_buckets; i++) {
                Node *x, *next;

                for (x = t->buckets[i]; x; x = next) {
                        size_t k = hash_path(x->path) & (n - 1);

                        next = x->hash_next;
                        x->hash_next = b[k];
                        b[k] = x;
                }
        }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = n;
        return 0;
}

static int hash_insert(Tree *t, Node *n) {
        size_t k;

        if (t->n_nodes + 1 > t->n_buckets) {
                int r = hash_grow(t);
                if (r < 0)
                        return r;
        }
        k = hash_path(n->path) & (t->n_buckets - 1);
        n->hash_next = t->buckets[k];
        t->buckets[k] = n;
        t->n_nodes++;
        return 0;
}

static void hash_unlink(Tree *t, Node *n) {
        size_t k = hash_path(n->path) & (t->n_buckets - 1);

        for (Node **p = &t->buckets[k]; *p; p = &(*p)->hash_next)
                if (*p == n) {
                        *p = n->hash_next;
                        t->n_nodes--;
                        return;
                }
}

Node *tree_lookup(Tree *t, const char *path) {
        size_t k;

        if (t->n_buckets == 0)
                return NULL;

        k = hash_path(path) & (t->n_buckets - 1);
        for (Node *n = t->buckets[k]; n; n = n->hash_next)
                if (streq(n->path, path))
                        return n;
        return NULL;
}

static void node_free(Node *n) {
        if (!n)
                return;
        free(n->path);
        free(n->target);
        free(n->text);
        free(n);
}

static Node *node_new(Tree *t, Node *parent, const char *name, NodeType type, mode_t mode) {
        Node *n;
        int r;

        if (parent && (!name || !*name || strchr(name, '/'))) {
                errno = EINVAL;
                return NULL;
        }

        if (parent) {
                _cleanup_free_ char *p = NULL;

                if (parent->type != NODE_DIR) {
                        errno = ENOTDIR;
                        return NULL;
                }
                p = streq(parent->path, "/") ? strdup_printf("/%s", name) : strdup_printf("%s/%s", parent->path, name);
                if (!p) {
                        errno = ENOMEM;
                        return NULL;
                }
                if (tree_lookup(t, p)) {
                        errno = EEXIST;
                        return NULL;
                }

                n = calloc(1, sizeof(Node));
                if (!n) {
                        errno = ENOMEM;
                        return NULL;
                }
                n->path = TAKE_PTR(p);
                n->name = strrchr(n->path, '/') + 1;
        } else {
                n = calloc(1, sizeof(Node));
                if (!n) {
                        errno = ENOMEM;
                        return NULL;
                }
                n->path = strdup("/");
                if (!n->path) {
                        free(n);
                        errno = ENOMEM;
                        return NULL;
                }
                n->name = n->path;
        }

        n->type = type;
        n->mode = mode;
        n->ino = ++t->next_ino;
        n->size = type == NODE_FILE ? 4096 : 0;

        r = hash_insert(t, n);
        if (r < 0) {
                node_free(n);
                errno = -r;
                return NULL;
        }

        if (parent) {
                n->parent = parent;
                n->prev_sibling = parent->last_child;
                if (parent->last_child)
                        parent->last_child->next_sibling = n;
                else
                        parent->first_child = n;
                parent->last_child = n;
                parent->n_children++;
        }
        return n;
}

int tree_new(Tree **ret) {
        Tree *t = calloc(1, sizeof(Tree));

        if (!t)
                return -ENOMEM;
        t->root = node_new(t, NULL, "/", NODE_DIR, 0755);
        if (!t->root) {
                free(t->buckets);
                free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

static void remove_recursive(Tree *t, Node *n) {
        Node *c, *next;

        for (c = n->first_child; c; c = next) {
                next = c->next_sibling;
                remove_recursive(t, c);
        }
        hash_unlink(t, n);
        node_free(n);
}

void tree_remove(Tree *t, Node *n) {
        Node *p;

        if (!n)
                return;

        p = n->parent;
        if (p) {
                if (n->prev_sibling)
                        n->prev_sibling->next_sibling = n->next_sibling;
                else
                        p->first_child = n->next_sibling;
                if (n->next_sibling)
                        n->next_sibling->prev_sibling = n->prev_sibling;
                else
                        p->last_child = n->prev_sibling;
                p->n_children--;
        } else
                t->root = NULL;

        remove_recursive(t, n);
}

Tree *tree_free(Tree *t) {
        if (!t)
                return NULL;
        if (t->root)
                tree_remove(t, t->root);
        free(t->buckets);
        free(t);
        return NULL;
}

Node *tree_add_dir(Tree *t, Node *parent, const char *name) {
        return node_new(t, parent, name, NODE_DIR, 0755);
}

Node *tree_add_file(Tree *t, Node *parent, const char *name, mode_t mode, int kind, void *obj) {
        Node *n = node_new(t, parent, name, NODE_FILE, mode);

        if (n) {
                n->kind = kind;
                n->obj = obj;
        }
        return n;
}

Node *tree_add_text(Tree *t, Node *parent, const char *name, mode_t mode, const char *text) {
        Node *n;
        char *copy = strdup(text);

        if (!copy) {
                errno = ENOMEM;
                return NULL;
        }
        n = node_new(t, parent, name, NODE_FILE, mode);
        if (!n) {
                free(copy);
                return NULL;
        }
        n->text = copy;
        return n;
}

Node *tree_add_link(Tree *t, Node *parent, const char *name, const char *target) {
        Node *n;
        char *copy = strdup(target);

        if (!copy) {
                errno = ENOMEM;
                return NULL;
        }
        n = node_new(t, parent, name, NODE_LINK, 0777);
        if (!n) {
                free(copy);
                return NULL;
        }
        n->target = copy;
        return n;
}

Node *tree_add_linkf(Tree *t, Node *parent, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *target = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&target, fmt, ap);
        va_end(ap);
        if (r < 0) {
                errno = ENOMEM;
                return NULL;
        }
        return tree_add_link(t, parent, name, target);
}

Node *tree_child(Tree *t, Node *parent, const char *name) {
        _cleanup_free_ char *p = NULL;

        if (!parent)
                return NULL;
        p = streq(parent->path, "/") ? strdup_printf("/%s", name) : strdup_printf("%s/%s", parent->path, name);
        if (!p)
                return NULL;
        return tree_lookup(t, p);
}

Node *tree_mkdir_p(Tree *t, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        Node *cur = t->root;
        char *s, *saveptr = NULL;

        if (!copy) {
                errno = ENOMEM;
                return NULL;
        }

        for (s = strtok_r(copy, "/", &saveptr); s; s = strtok_r(NULL, "/", &saveptr)) {
                Node *c = tree_child(t, cur, s);

                if (!c)
                        c = tree_add_dir(t, cur, s);
                else if (c->type != NODE_DIR) {
                        errno = ENOTDIR;
                        return NULL;
                }
                if (!c)
                        return NULL;
                cur = c;
        }
        return cur;
}

/* Number of leading path components a and b share ("/a/b/c" and "/a/b/d": 2). */
static size_t common_components(const char *a, const char *b) {
        size_t n = 0;

        for (;;) {
                size_t la, lb;

                a += strspn(a, "/");
                b += strspn(b, "/");
                la = strcspn(a, "/");
                lb = strcspn(b, "/");
                if (la == 0 || la != lb || strncmp(a, b, la) != 0)
                        return n;
                n++;
                a += la;
                b += lb;
        }
}

static size_t count_components(const char *p) {
        size_t n = 0;

        for (;;) {
                size_t l;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l == 0)
                        return n;
                n++;
                p += l;
        }
}

static const char *skip_components(const char *p, size_t n) {
        for (; n > 0; n--) {
                p += strspn(p, "/");
                p += strcspn(p, "/");
        }
        return p + strspn(p, "/");
}

Node *tree_add_link_to(Tree *t, Node *parent, const char *name, const char *target) {
        _cleanup_free_ char *target_parent = strdup(target), *rel = NULL;
        size_t common, up, l = 0;
        const char *rest;
        char *slash;

        if (!parent || !target_parent) {
                errno = parent ? ENOMEM : EINVAL;
                return NULL;
        }
        /* kernfs_get_target_path(): up to the closest ancestor of the link's directory that is
         * also an ancestor of the target's parent, then down to the target. */
        slash = strrchr(target_parent, '/');
        if (slash)
                *slash = 0;
        common = common_components(parent->path, target_parent);
        up = count_components(parent->path) - common;
        rest = skip_components(target, common);

        rel = malloc(up * 3 + strlen(rest) + 1);
        if (!rel) {
                errno = ENOMEM;
                return NULL;
        }
        for (size_t i = 0; i < up; i++, l += 3)
                memcpy(rel + l, "../", 3);
        strcpy(rel + l, rest);
        return tree_add_link(t, parent, name, rel);
}
