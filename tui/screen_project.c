/* Step 1: list the projects of the workspace (name, model, target, last result), create,
 * open, delete with confirmation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/ui.h"

typedef struct prow {
    char *name;
    char model[128], target[48], last[96];
    int broken; /* project.json could not be read: shown, can be deleted */
} prow;

static struct {
    prow *rows;
    size_t n;
    kp_list list;
    char err[1024];
} S;

static void free_rows(void) {
    for (size_t i = 0; i < S.n; i++) free(S.rows[i].name);
    free(S.rows);
    S.rows = NULL;
    S.n = 0;
}

static void summarize(const kp_app *a, prow *r) {
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s", a->workspace, r->name);
    kp_project *p = NULL;
    kp_error err = {0};
    if (kp_project_load(dir, &p, &err)) {
        r->broken = 1;
        snprintf(r->last, sizeof r->last, "unreadable: %s", err.msg);
        return;
    }
    const char *m = p->model ? strrchr(p->model, '/') : NULL;
    snprintf(r->model, sizeof r->model, "%s", m ? m + 1 : p->model ? p->model : "-");
    snprintf(r->target, sizeof r->target, "%s", p->target_id ? p->target_id : "-");
    if (p->n_runs) {
        const kp_run_record *rr = &p->runs[p->n_runs - 1];
        if (rr->status)
            snprintf(r->last, sizeof r->last, "%s: %s", rr->id ? rr->id : "run",
                     rr->status == KP_ECANCELLED ? "cancelled" : "failed");
        else if (rr->before.file_bytes > 0 && rr->after.file_bytes > 0)
            snprintf(r->last, sizeof r->last, "%.1fx smaller, top-1 %.1f%%",
                     rr->before.file_bytes / rr->after.file_bytes, rr->after.top1);
        else
            snprintf(r->last, sizeof r->last, "%s ok", rr->id ? rr->id : "run");
    } else {
        snprintf(r->last, sizeof r->last, "no runs yet");
    }
    kp_project_free(p);
}

static void refresh_list(kp_app *a) {
    free_rows();
    S.err[0] = 0;
    if (!a->workspace) a->workspace = kp_project_default_workspace();
    if (!a->workspace) {
        snprintf(S.err, sizeof S.err, "no workspace folder: set XDG_DATA_HOME or HOME");
        return;
    }
    char **names = NULL;
    size_t n = 0;
    kp_error err = {0};
    if (kp_project_list(a->workspace, &names, &n, &err)) {
        snprintf(S.err, sizeof S.err, "%s", err.msg);
        n = 0;
        names = NULL;
    }
    S.rows = calloc(n + 1, sizeof *S.rows);
    for (size_t i = 0; i < n; i++) {
        if (S.rows) {
            S.rows[S.n].name = names[i];
            summarize(a, &S.rows[S.n++]);
        } else {
            free(names[i]);
        }
    }
    free(names);
    S.list.n = (int)S.n + 1; /* last row: "+ New project" */
}

static void enter(kp_app *a) {
    refresh_list(a);
}
static void leave(kp_app *a) {
    free_rows();
}

static int done(const kp_app *a) {
    return a->proj != NULL;
}

static void draw(kp_app *a, kp_rect r) {
    /* Paths keep their end (the folder names a person recognises) when they do not fit. */
    int c = kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_MUTED, "Workspace: ");
    kp_put_tail(r.y, r.x + 1 + c, r.w - 2 - c, KP_ROLE_MUTED, a->workspace ? a->workspace : "-");
    if (a->proj) {
        c = kp_putf(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_OK, "Open: %s in ", a->proj->name);
        kp_put_tail(r.y + 1, r.x + 1 + c, r.w - 2 - c, KP_ROLE_OK, a->proj->dir);
    } else
        kp_put(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_WARN, "No project open: pick one or create one.");
    int y = r.y + 3;
    int nw = 14, mw = 12, tw = 8;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-*s %-*s %-*s %s", nw, "Project", mw, "Model",
            tw, "Target", "Last result");
    int h = r.h - 4 - (S.err[0] ? 2 : 0);
    kp_list_fit(&S.list, h);
    for (int i = 0; i < h && S.list.top + i < S.list.n; i++) {
        int k = S.list.top + i, sel = k == S.list.sel;
        kp_role role = sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL;
        if (sel) kp_fill(y + i, r.x, r.w, role);
        if (k == (int)S.n) {
            kp_put(y + i, r.x + 1, r.w - 2, sel ? role : KP_ROLE_OK, "+ New project...");
            continue;
        }
        const prow *w = &S.rows[k];
        kp_putf(y + i, r.x + 1, nw, role, "%s", w->name);
        kp_putf(y + i, r.x + 2 + nw, mw, role, "%s", w->model);
        kp_putf(y + i, r.x + 3 + nw + mw, tw, role, "%s", w->target);
        kp_put(y + i, r.x + 4 + nw + mw + tw, r.w - 5 - nw - mw - tw,
               sel         ? role
               : w->broken ? KP_ROLE_BAD
                           : KP_ROLE_MUTED,
               w->last);
    }
    if (!S.n)
        kp_wrap(y + 1, r.x + 1, r.w - 2, 2, KP_ROLE_MUTED,
                "No projects in this workspace yet. Press n (or Enter) to create one.");
    if (S.err[0]) kp_wrap(r.y + r.h - 2, r.x + 1, r.w - 2, 2, KP_ROLE_BAD, S.err);
}

static int create_submit(kp_app *a, kp_form *f) {
    const char *name = f->val[0].buf, *ws = f->val[1].buf;
    if (!name[0]) {
        snprintf(f->err, sizeof f->err, "Give the project a name.");
        return 1;
    }
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        snprintf(f->err, sizeof f->err, "A project name cannot contain '/' or be '.' or '..'.");
        return 1;
    }
    kp_project *p = NULL;
    kp_error err = {0};
    if (kp_project_create(ws[0] ? ws : a->workspace, name, &p, &err)) {
        snprintf(f->err, sizeof f->err, "%s", err.msg);
        return 1;
    }
    if (ws[0] && strcmp(ws, a->workspace)) kp_app_setstr(&a->workspace, ws);
    kp_app_close_project(a);
    a->proj = p;
    kp_app_msg(a, KP_ROLE_OK, "created project %s; now choose its model (.onnx)", p->name);
    refresh_list(a);
    kp_app_goto(a, KP_STEP_MODEL);
    return 0;
}

static void open_create_form(kp_app *a) {
    kp_form_init(&a->form, "New project", 0);
    kp_form_add(&a->form, "Name", "", "A folder of this name is made in the workspace.");
    kp_form_add(&a->form, "Workspace", a->workspace ? a->workspace : "",
                "Folder that holds your projects.");
    kp_app_form(a, create_submit);
}

static char pending_delete[256];

static void delete_answer(kp_app *a, int yes) {
    if (!yes) {
        kp_app_msg(a, KP_ROLE_STATUS, "nothing deleted");
        return;
    }
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s", a->workspace, pending_delete);
    if (a->proj && a->proj->dir && !strcmp(a->proj->dir, dir)) {
        if (a->job_running) {
            kp_app_msg(a, KP_ROLE_BAD, "a run of this project is in progress; cancel it first");
            return;
        }
        kp_app_close_project(a);
    }
    kp_error err = {0};
    if (kp_project_delete(a->workspace, pending_delete, &err))
        kp_app_msg(a, KP_ROLE_BAD, "could not delete %s: %s", pending_delete, err.msg);
    else
        kp_app_msg(a, KP_ROLE_OK, "deleted project %s", pending_delete);
    refresh_list(a);
}

static int open_selected(kp_app *a) {
    if (S.list.sel == (int)S.n) {
        open_create_form(a);
        return KP_DRAW_ALL;
    }
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s", a->workspace, S.rows[S.list.sel].name);
    if (!kp_app_open_project(a, dir)) kp_app_goto(a, KP_STEP_MODEL);
    return KP_DRAW_ALL;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (kp_list_key(&S.list, act, 10)) return KP_DRAW_SCREEN;
    switch (act) {
    case KP_ACT_ENTER: return open_selected(a);
    case KP_ACT_NEW: open_create_form(a); return KP_DRAW_ALL;
    case KP_ACT_DELETE:
        if (S.list.sel >= (int)S.n) return KP_DRAW_NONE;
        snprintf(pending_delete, sizeof pending_delete, "%s", S.rows[S.list.sel].name);
        char q[600];
        snprintf(q, sizeof q,
                 "Delete project '%s' and every file in %s/%s? This cannot be "
                 "undone. (Your own model and data files elsewhere are not touched.)",
                 pending_delete, a->workspace, pending_delete);
        kp_app_confirm(a, q, delete_answer);
        return KP_DRAW_ALL;
    default: return KP_UNHANDLED;
    }
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    int k = S.list.top + row - 4;
    if (row < 4 || k >= S.list.n) return KP_DRAW_NONE;
    if (k == S.list.sel) return open_selected(a);
    S.list.sel = k;
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_ENTER, "open the project (or create on the last row)", "open"},
    {KP_ACT_NEW, "new project", "new"},
    {KP_ACT_DELETE, "delete the project (asks first)", "delete"},
    {KP_ACT_UP, "previous project", NULL},
    {KP_ACT_DOWN, "next project", NULL},
};

const kp_screen kp_screen_project = {
    .name = "Project",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .leave = leave,
    .draw = draw,
    .key = key,
    .click = click,
    .done = done,
};
