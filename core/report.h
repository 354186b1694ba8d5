/* Reports of a run: Markdown, CSV and JSON, made from the run record in project.json. */
#ifndef KP_REPORT_H
#define KP_REPORT_H

#include "core/project.h"

typedef enum kp_report_format {
    KP_REPORT_MD = 0,
    KP_REPORT_CSV,
    KP_REPORT_JSON,
    KP_REPORT_FORMAT_COUNT
} kp_report_format;

int kp_report_format_parse(const char *s, kp_report_format *f); /* 0 or KP_EINVAL */
const char *kp_report_format_ext(kp_report_format f);           /* "md", "csv", "json" */
/* Returns owned text of the report of run r of project p. */
char *kp_report_text(const kp_project *p, const kp_run_record *r, kp_report_format f);

#endif
