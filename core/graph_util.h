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
/* Frees the constant view cached on a Constant node (after its attributes change). */
void kp_node_drop_cache(kp_node *n);
/* Type of initializer `name` of g, made on demand and kept in the index (borrowed until the
 * next mutation). */
const kp_type *kp_graph_index_init_type(kp_graph *g, const char *name);
/* Positions (ascending) of the nodes of g consuming value, borrowed from the index. */
size_t kp_graph_consumer_pos(kp_graph *g, const char *value, const size_t **pos);
/* Frees the private index (graph_index.c). */
void kp_graph_index_free(void *index);

#endif
