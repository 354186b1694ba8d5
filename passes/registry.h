/* The list of passes, in the order the planner prefers to run them. */
#ifndef KP_REGISTRY_H
#define KP_REGISTRY_H

#include "core/pass.h"

/* Borrowed array of every registered pass; *n receives the count. */
const kp_pass *const *kp_passes(size_t *n);

#endif
