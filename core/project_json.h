/* project.json <-> kp_project (used by core/project.c; split out to keep files small), and the
 * one JSON form of the planner's tried pipelines (project.json and `kompress plan --json`). */
#ifndef KP_PROJECT_JSON_H
#define KP_PROJECT_JSON_H

#include "core/project.h"

/* Parses text into p (fields beyond dir). path names the file in messages. */
int kp_project_from_json(const char *text, const char *path, kp_project *p, kp_error *err);
/* Returns owned pretty-printed JSON text, NULL on no memory. */
char *kp_project_to_json(const kp_project *p);

struct cJSON;
/* The tried pipelines as an owned cJSON array (NULL on no memory), one object each:
 * { "pipeline": str, "size_ratio", "latency_ratio", "acc_drop", "acc_se": numbers,
 *   "meets_budget", "pareto", "chosen": booleans }. kp_project_from_json reads it back, and
 * the older form too ("name" for "pipeline", "meets" for "meets_budget", 0/1 for booleans). */
struct cJSON *kp_tried_json(const kp_tried *tried, size_t n);

#endif
