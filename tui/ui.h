/* App state shared by the screens, and the screen descriptor (htop's Panel/ScreenManager
 * idea): each screen is one const kp_screen in tui/screen_<name>.c; the app owns the event
 * loop, layout, overlays (help, confirm, form) and the engine objects. */
#ifndef KP_UI_H
#define KP_UI_H

#include <stddef.h>

/* Screens format messages into fixed buffers; cutting a long message short is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include "tui/eng.h"
#include "tui/keys.h"
#include "tui/term.h"
#include "tui/theme.h"
#include "tui/widgets.h"

typedef enum kp_step {
    KP_STEP_PROJECT = 0,
    KP_STEP_MODEL,
    KP_STEP_DATA,
    KP_STEP_TARGET,
    KP_STEP_GOALS,
    KP_STEP_PLAN,
    KP_STEP_RUN,
    KP_STEP_RESULTS,
    KP_STEP_COUNT
} kp_step;

typedef struct kp_app kp_app;

/* One line of help: the action and what it does on this screen; hint: the short form shown in
 * the key-hint bar, or NULL to show it in the help overlay only. */
typedef struct kp_help {
    kp_action act;
    const char *what;
    const char *hint;
} kp_help;

typedef struct kp_screen {
    const char *name; /* "Project" */
    const kp_help *help;
    size_t n_help;
    void (*enter)(kp_app *a);
    void (*leave)(kp_app *a);
    void (*draw)(kp_app *a, kp_rect r);
    /* act = KP_ACT_NONE for a printable key while capture() is on; ch/is_key are raw. */
    int (*key)(kp_app *a, kp_action act, int ch, int is_key);
    int (*click)(kp_app *a, kp_rect r, int row, int col); /* optional */
    int (*tick)(kp_app *a);                               /* optional, every loop turn */
    int (*capture)(const kp_app *a); /* optional: 1 while printable keys are text */
    int (*done)(const kp_app *a);    /* step completed (step list mark) */
    /* optional: the keys of a mode inside the screen (a list opened over it, work under way),
     * shown in the hint bar and the help instead of help; NULL = help. */
    const kp_help *(*mode_help)(const kp_app *a, size_t *n);
} kp_screen;

extern const kp_screen kp_screen_project, kp_screen_model, kp_screen_data, kp_screen_target,
    kp_screen_goals, kp_screen_plan, kp_screen_run, kp_screen_results;

typedef void (*kp_confirm_fn)(kp_app *a, int yes);
typedef int (*kp_form_fn)(kp_app *a, kp_form *f); /* 0 closes the form, else keep it open */

struct kp_app {
    kp_term term;
    kp_theme theme;
    char **themes;
    size_t n_themes;
    int rows, cols;
    kp_step step;
    int quit;
    kp_rect body; /* the current screen's area */

    char status[600];
    kp_role status_role;

    int help_open;
    char confirm_text[600];
    kp_confirm_fn confirm_fn; /* non-NULL while a yes/no question is open */
    kp_form form;
    kp_form_fn form_fn; /* non-NULL while the form is open */

    /* engine state */
    char *workspace;
    kp_project *proj;
    kp_model *model;       /* loaded from proj->model */
    char model_path[8192]; /* absolute path of the loaded model */
    char model_err[1024];  /* why the model could not be loaded */
    kp_target *targets;
    size_t n_targets;
    char targets_err[1024];
    int targets_loaded;
    kp_plan plan;
    int have_plan;
    kp_job *job;
    int job_running;
    const kp_pass *const *passes;
    size_t n_passes;
    /* the model loads on a worker thread (tui/model_task.c) */
    int model_loading;             /* 1 while a->model_path is being loaded */
    double model_macs, model_peak; /* measured with the load; -1 unknown */
    char model_measure_err[256];
};

/* Status line message (printf). role: KP_ROLE_OK/WARN/BAD/STATUS. */
void kp_app_msg(kp_app *a, kp_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kp_app_confirm(kp_app *a, const char *text, kp_confirm_fn fn);
/* Opens a.form (filled by the caller) with fn called on Enter. */
void kp_app_form(kp_app *a, kp_form_fn fn);
void kp_app_goto(kp_app *a, kp_step s);

/* Engine helpers used by several screens (tui/app_state.c). */
int kp_app_open_project(kp_app *a, const char *dir); /* 0 or -1 with a status message */
void kp_app_close_project(kp_app *a);
void kp_app_plan_clear(kp_app *a);  /* frees the working plan (a->plan) */
int kp_app_save_project(kp_app *a); /* 0 or -1 with a status message */
/* (Re)loads proj->model into a->model when the path changed; errors in a->model_err. */
void kp_app_load_model(kp_app *a);
void kp_app_load_targets(kp_app *a);
const kp_target *kp_app_target(kp_app *a); /* the project's target or NULL */
/* Absolute path of a project-relative path (static buffer). */
const char *kp_app_path(const kp_app *a, const char *rel);
/* Replaces *dst (owned string) with a copy of s. */
int kp_app_setstr(char **dst, const char *s);
/* Asking the planner in the background (tui/plan_task.c). start: 0, or -1 with msg. poll: 0
 * still working or none started, 1 done (*out filled, owned by the caller; msg holds a note),
 * -1 failed (msg), -2 cancelled (msg "plan cancelled"; nothing changed). cancel: asks a running
 * planner to stop (it does within about a second; poll then says -2). end: cancels a running
 * planner, waits for it and drops its result (at exit). */
int kp_plan_task_start(kp_app *a, char *msg, size_t len);
int kp_plan_task_poll(kp_plan *out, char *msg, size_t len);
int kp_plan_task_running(void);
void kp_plan_task_cancel(void);
void kp_plan_task_end(void);

/* The layers that hold weights (Conv, Gemm, MatMul and their quantized forms with a stored
 * weight), in graph order (tui/layer_task.c); borrowed from g. */
typedef struct kp_layer {
    const kp_node *n;
    const kp_tensor *w, *b; /* stored weight and bias (b may be NULL) */
} kp_layer;
size_t kp_layers_of(const kp_graph *g, kp_layer *out, size_t cap);
double kp_layer_zero_frac(const kp_tensor *t);
/* Per-layer MACs and output error, computed on a worker thread for the compressed model at
 * out_path against a->model (rows as kp_layers_of of each, matched in order). start: 0 or -1
 * with msg. poll: the result once finished for out_path, else NULL (owned by the task, valid
 * until the next start/end). end: cancels and waits. */
typedef struct kp_layer_result {
    size_t n;
    int64_t macs0[256], macs1[256]; /* -1 unknown */
    int64_t total0, total1;         /* whole-model MACs, -1 unknown */
    double err[256];                /* NAN where the layer's output is not in both models */
    char err_note[300];
} kp_layer_result;
int kp_layer_task_start(kp_app *a, const char *out_path, char *msg, size_t len);
/* The compressed model is loaded on the worker too. loading: 1 while out_path is being loaded.
 * take_model: 1 once its load ended: *out is the model (owned by the caller from now on) or
 * NULL with the load's error in msg; 0 while loading, when taken already, or another path. */
int kp_layer_task_loading(const char *out_path);
int kp_layer_task_take_model(const char *out_path, kp_model **out, char *msg, size_t len);
const kp_layer_result *kp_layer_task_poll(const char *out_path);
int kp_layer_task_running(void);
/* leave: the screen is left; a task still at work is cancelled and finishes on its own (joined
 * later), so leaving never waits for a big model. end: cancels and waits for every task (exit). */
void kp_layer_task_leave(void);
void kp_layer_task_end(void);

/* Loading the model on a worker thread (tui/model_task.c). start: 0 or -1 with msg. adopt:
 * when the load finished (or wait: after waiting for it), moves the model (or its error) into
 * a->model / a->model_err if a->model_path is still that file; 1 when something was adopted.
 * end: waits and drops the result (at exit). */
int kp_model_task_start(const char *path, char *msg, size_t len);
int kp_model_task_adopt(kp_app *a, int wait);
int kp_model_task_running(void);
/* Asks a load in progress to stop (at exit: its model is not wanted). */
void kp_model_task_cancel(void);
void kp_model_task_end(void);
/* Waits for the Data screen's preview worker (at exit). */
void kp_data_preview_end(void);
/* Starts loading proj->model in the background unless it is loaded or loading already. */
void kp_app_load_model_async(kp_app *a);

/* Starts running the project's plan (tui/screen_run.c); says in the status line why not. */
void kp_app_run_start(kp_app *a);

/* Draws the "this is not available" notice used by screens when something is missing. */
void kp_app_notice(kp_rect r, const char *title, const char *text);

#endif
