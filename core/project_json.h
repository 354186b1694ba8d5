/* project.json <-> kp_project (used by core/project.c only; split out to keep files small). */
#ifndef KP_PROJECT_JSON_H
#define KP_PROJECT_JSON_H

#include "core/project.h"

/* Parses text into p (fields beyond dir). path names the file in messages. */
int kp_project_from_json(const char *text, const char *path, kp_project *p, kp_error *err);
/* Returns owned pretty-printed JSON text, NULL on no memory. */
char *kp_project_to_json(const kp_project *p);

#endif
