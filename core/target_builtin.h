/* Built-in target profiles (core/target_builtin.c); the host profile is detected separately. */
#ifndef KP_TARGET_BUILTIN_H
#define KP_TARGET_BUILTIN_H

#include "core/target.h"

extern const kp_target kp_target_builtins[];
extern const size_t kp_target_builtins_count;

/* Describes this machine from /proc/cpuinfo and sysconf (ISA flags, cores, MHz, RAM). */
int kp_target_detect_host(kp_target *out, kp_error *err);

#endif
