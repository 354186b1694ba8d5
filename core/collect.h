/* Streams named intermediate values of a model over calibration data, one batch at a time
 * (bounded memory: the values become extra outputs of a private copy run by an ordinary
 * executor, which frees everything else as it goes). */
#ifndef KP_COLLECT_H
#define KP_COLLECT_H

#include <stddef.h>

#include "core/graph.h"
#include "core/pass.h"

/* Called once per batch with the n values (borrowed until the callback returns; NULL for a
 * name the run did not produce). Non-zero return stops the sweep and is returned. */
typedef int (*kp_collect_fn)(void *user, size_t batch, const kp_tensor *const *values,
                             kp_error *err);

/* Runs m on up to max_batches batches of calib (0 = all) and hands the values named in
 * names[0..n) to fn. Graph inputs and initializers can be named too. */
int kp_collect_values(const kp_model *m, const kp_calib *calib, size_t max_batches,
                      const char *const *names, size_t n, kp_collect_fn fn, void *user,
                      kp_error *err);

#endif
