/* Private helpers shared by core/graph_*.c (not part of the public IR contract). */
#ifndef KP_GRAPH_UTIL_H
#define KP_GRAPH_UTIL_H

#include "core/graph.h"

/* Returns owned copy of s (NULL for NULL or no memory). */
char *kp_strdup(const char *s);
/* *dst = copy of src (NULL stays NULL); KP_ENOMEM on failure. */
int kp_strdup_into(char **dst, const char *src);
/* Copies bytes, always adding a hidden NUL at data[len]; KP_ENOMEM on failure. */
int kp_bytes_copy(kp_bytes *dst, const kp_bytes *src);
/* Type of initializer `name` of g, made on demand and kept in the index (borrowed until the
 * next mutation). */
const kp_type *kp_graph_index_init_type(kp_graph *g, const char *name);
/* Positions (ascending) of the nodes of g consuming value, borrowed from the index. */
size_t kp_graph_consumer_pos(kp_graph *g, const char *value, const size_t **pos);
/* Position of initializer `name` in g->inits via the index; 1 when found. */
int kp_graph_init_pos(kp_graph *g, const char *name, size_t *pos);
/* value_info (which 0), input (1) or output (2) entry of g named name, via the index. */
kp_value_info *kp_graph_index_vi(kp_graph *g, const char *name, int which);
/* 1 when g's index exists and matches g's arrays. */
int kp_graph_index_current(const kp_graph *g);
/* Keeps the index valid after one value_info entry was appended at old_n (was_current: the
 * index was current before the append); otherwise drops it. */
void kp_graph_index_vi_appended(kp_graph *g, int was_current, size_t old_n);
/* 1 when name is used anywhere in g itself (value, initializer, value_info, node name). */
int kp_graph_index_knows(kp_graph *g, const char *name);
/* Subgraphs held by g's nodes (borrowed from the index). */
size_t kp_graph_index_subgraphs(kp_graph *g, kp_graph *const **subs);
/* Frees the private index (graph_index.c). */
void kp_graph_index_free(void *index);

#endif
