/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * simfs.h: the in-memory tree pcisim serves over FUSE as /sys. Nodes are
 * directories, symlinks or attribute files; attribute contents are produced by
 * the machine (machine.c) through the node's kind and object pointer, so the
 * tree itself only knows names, modes and link targets. Lookup is by full path
 * through a hash table. Not thread-safe: callers hold the machine lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum NodeType {
        NODE_DIR,
        NODE_FILE,
        NODE_LINK,
} NodeType;

typedef struct Node Node;

struct Node {
        char *path;             /* "/" or "/devices/pci0000:00/0000:26:00.0/vendor" */
        const char *name;       /* points into path */
        NodeType type;
        mode_t mode;            /* permission bits only */
        uint64_t ino;
        off_t size;             /* st_size reported for files */

        Node *parent;
        Node *first_child, *last_child;
        Node *prev_sibling, *next_sibling;
        size_t n_children;

        Node *hash_next;

        char *target;           /* NODE_LINK */

        /* NODE_FILE: what machine.c uses to produce/consume the contents */
        int kind;
        void *obj;
        char *text;             /* constant contents, if kind == 0 */
};

typedef struct Tree {
        Node *root;
        Node **buckets;
        size_t n_buckets;
        size_t n_nodes;
        uint64_t next_ino;
} Tree;

int tree_new(Tree **ret);
Tree *tree_free(Tree *t);

Node *tree_lookup(Tree *t, const char *path);

/* Creation under an existing parent. Fail with -EEXIST if the name exists. */
Node *tree_add_dir(Tree *t, Node *parent, const char *name);
Node *tree_add_file(Tree *t, Node *parent, const char *name, mode_t mode, int kind, void *obj);
Node *tree_add_text(Tree *t, Node *parent, const char *name, mode_t mode, const char *text);
Node *tree_add_link(Tree *t, Node *parent, const char *name, const char *target);
Node *tree_add_linkf(Tree *t, Node *parent, const char *name, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A link to the absolute tree path TARGET, relative the way sysfs writes it ("../../../0000:26:00.0"
 * for a class device's "device" link, "../../devices/…" from /sys/class/drm). */
Node *tree_add_link_to(Tree *t, Node *parent, const char *name, const char *target);

/* "mkdir -p" of an absolute tree path. */
Node *tree_mkdir_p(Tree *t, const char *path);

Node *tree_child(Tree *t, Node *parent, const char *name);

/* Removes the node and everything below it. */
void tree_remove(Tree *t, Node *n);
