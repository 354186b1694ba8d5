/* Step 2: pick the model (.onnx file picker with folders and type-to-filter) and show its
 * summary: opset, inputs/outputs, parameters, size, op histogram, largest layers, ops the
 * engine cannot run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/metrics.h"
#include "tui/ui.h"

static const char *const onnx_exts[] = {".onnx", NULL};

static struct {
    int picking;
    kp_picker pk;
    int scroll;
    int choosing; /* a chosen file is loading; the project keeps `old` until it loads */
    char *old;
} S;

static int done(const kp_app *a) {
    return a->model != NULL;
}

static void start_picker(kp_app *a) {
    char dir[8192] = ".";
    if (a->model_path[0]) {
        snprintf(dir, sizeof dir, "%s", a->model_path);
        char *s = strrchr(dir, '/');
        if (s) *s = 0;
    } else if (a->proj && a->proj->dir) {
        snprintf(dir, sizeof dir, "%s", a->proj->dir);
    }
    kp_picker_open(&S.pk, dir, onnx_exts);
    S.picking = 1;
}

static void enter(kp_app *a) {
    S.scroll = 0;
    kp_app_load_model_async(a);
    S.picking = 0;
    if (a->proj && !a->model && !a->model_err[0] && !a->model_loading) start_picker(a);
}

static void chosen(kp_app *a);

static void leave(kp_app *a) {
    if (S.choosing) {
        kp_app_load_model(a); /* waits for the chosen file */
        chosen(a);
    }
    kp_picker_free(&S.pk);
    S.picking = 0;
}

static int capture(const kp_app *a) {
    return S.picking;
}

static void shape_str(const kp_type *t, char *buf, size_t len) {
    size_t o =
        (size_t)snprintf(buf, len, "%s[", t->kind == KP_TYPE_TENSOR ? kp_dtype_name(t->elem) : "?");
    for (int i = 0; i < t->rank && o < len; i++) {
        const kp_dim *d = &t->dims[i];
        if (d->value >= 0)
            o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)d->value);
        else
            o +=
                (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", d->param ? d->param : "?");
    }
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* Lines of the summary are built into a list, then drawn with scrolling. */
typedef struct line {
    kp_role role;
    char text[200];
} line;

static int add(line *L, int n, int cap, kp_role role, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int add(line *L, int n, int cap, kp_role role, const char *fmt, ...) {
    if (n >= cap) return n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L[n].text, sizeof L[n].text, fmt, ap);
    va_end(ap);
    L[n].role = role;
    return n + 1;
}

typedef struct opcount {
    const char *op;
    int n;
} opcount;

static int cmp_ops(const void *x, const void *y) {
    const opcount *a = x, *b = y;
    return b->n - a->n;
}

static int cmp_inits(const void *x, const void *y) {
    const kp_tensor *a = *(kp_tensor *const *)x, *b = *(kp_tensor *const *)y;
    return (b->numel > a->numel) - (b->numel < a->numel);
}

static int summary(kp_app *a, line *L, int cap) {
    const kp_model *m = a->model;
    const kp_graph *g = m->graph;
    int n = 0;
    char b1[32], b2[32];
    struct stat st;
    double fsize = stat(a->model_path, &st) ? -1 : (double)st.st_size;
    n = add(L, n, cap, KP_ROLE_TITLE, "%s", a->model_path);
    n = add(L, n, cap, KP_ROLE_NORMAL, "file %s   opset %lld   IR %lld   from %s %s",
            kp_fmt_bytes(fsize, b1), (long long)kp_model_opset(m, ""), (long long)m->ir_version,
            m->producer_name ? m->producer_name : "?",
            m->producer_version ? m->producer_version : "");
    double params = 0, wbytes = 0;
    for (size_t i = 0; i < g->n_inits; i++) {
        params += (double)g->inits[i]->numel;
        wbytes += (double)g->inits[i]->nbytes;
    }
    n = add(L, n, cap, KP_ROLE_NORMAL, "parameters %s (%s of weights)   nodes %zu",
            kp_fmt_count(params, b1), kp_fmt_bytes(wbytes, b2), g->n_nodes);
    if (a->model_macs >= 0)
        n = add(L, n, cap, KP_ROLE_NORMAL, "MACs %s per inference   peak activations %s",
                kp_fmt_count(a->model_macs, b1), kp_fmt_bytes(a->model_peak, b2));
    else
        n = add(L, n, cap, KP_ROLE_WARN, "MACs: not measured (%s)", a->model_measure_err);
    for (size_t i = 0; i < g->n_inputs; i++) {
        int is_init = 0;
        for (size_t k = 0; k < g->n_inits; k++)
            if (g->inits[k]->name && !strcmp(g->inits[k]->name, g->inputs[i].name)) is_init = 1;
        if (is_init) continue;
        char s[128];
        shape_str(&g->inputs[i].type, s, sizeof s);
        n = add(L, n, cap, KP_ROLE_NORMAL, "input  %s %s", g->inputs[i].name, s);
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        char s[128];
        shape_str(&g->outputs[i].type, s, sizeof s);
        n = add(L, n, cap, KP_ROLE_NORMAL, "output %s %s", g->outputs[i].name, s);
    }
    if (kp_eng_missing(KP_MOD_EXEC)) {
        n = add(L, n, cap, KP_ROLE_WARN, "supported ops: cannot check (executor not in build)");
    } else {
        char **ops = NULL;
        size_t nm = 0;
        kp_error err = {0};
        if (kp_exec_missing_ops(m, &ops, &nm, &err))
            n = add(L, n, cap, KP_ROLE_BAD, "checking ops failed: %s", err.msg);
        else if (!nm)
            n = add(L, n, cap, KP_ROLE_OK, "every op can run here");
        else {
            char list[180] = "";
            for (size_t i = 0; i < nm; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", ops[i]);
            }
            n = add(L, n, cap, KP_ROLE_BAD, "unsupported ops (kept, cannot be measured): %s", list);
            kp_strv_free(ops, nm);
        }
    }
    /* Op histogram. */
    opcount oc[64];
    int noc = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i]->op_type;
        int k = 0;
        while (k < noc && strcmp(oc[k].op, op)) k++;
        if (k == noc && noc < 64) oc[noc++] = (opcount){op, 0};
        if (k < noc) oc[k].n++;
    }
    qsort(oc, (size_t)noc, sizeof *oc, cmp_ops);
    n = add(L, n, cap, KP_ROLE_TITLE, "Ops");
    char row[200] = "";
    for (int i = 0; i < noc; i++) {
        size_t l = strlen(row);
        snprintf(row + l, sizeof row - l, "%s %s x%d", l ? "," : "", oc[i].op, oc[i].n);
        if (strlen(row) > 50 || i == noc - 1) {
            n = add(L, n, cap, KP_ROLE_NORMAL, " %s", row);
            row[0] = 0;
        }
    }
    /* Largest weights. */
    kp_tensor **big = malloc((g->n_inits + 1) * sizeof *big);
    if (big && g->n_inits) {
        memcpy(big, g->inits, g->n_inits * sizeof *big);
        qsort(big, g->n_inits, sizeof *big, cmp_inits);
        n = add(L, n, cap, KP_ROLE_TITLE, "Largest weights");
        for (size_t i = 0; i < g->n_inits && i < 5; i++)
            n = add(L, n, cap, KP_ROLE_NORMAL, " %-28s %10s  %5.1f%%",
                    big[i]->name ? big[i]->name : "?", kp_fmt_count((double)big[i]->numel, b1),
                    params > 0 ? 100.0 * (double)big[i]->numel / params : 0.0);
    }
    free(big);
    return n;
}

static void draw(kp_app *a, kp_rect r) {
    if (!a->proj) {
        kp_app_notice(r, "Open a project first",
                      "Step 1 (Project): open or create a project; "
                      "the model you choose here is saved in it.");
        return;
    }
    if (S.picking) {
        kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Choose the ONNX model (.onnx)");
        kp_picker_draw(&S.pk, (kp_rect){r.y + 1, r.x + 1, r.h - 1, r.w - 2});
        return;
    }
    if (a->model_loading) {
        static const char *const spin[] = {"|", "/", "-", "\\"};
        static unsigned k;
        kp_putf(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_WARN, "%s loading the model...", spin[k++ % 4]);
        kp_put_tail(r.y + 2, r.x + 1, r.w - 2, KP_ROLE_MUTED, a->model_path);
        kp_put(r.y + 4, r.x + 1, r.w - 2, KP_ROLE_NORMAL,
               "Big models take a while; keys keep working (Enter: choose another file).");
        return;
    }
    if (!a->model) {
        if (a->model_err[0]) {
            kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_BAD, "This model could not be loaded:");
            kp_put(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_MUTED, a->model_path);
            kp_wrap(r.y + 3, r.x + 1, r.w - 2, r.h - 6, KP_ROLE_BAD, a->model_err);
            kp_put(r.y + r.h - 1, r.x + 1, r.w - 2, KP_ROLE_NORMAL,
                   "Press Enter to choose another file.");
        } else {
            kp_put(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_WARN, "No model chosen yet: press Enter.");
        }
        return;
    }
    line L[64];
    int n = summary(a, L, 64);
    if (S.scroll > n - r.h) S.scroll = n - r.h;
    if (S.scroll < 0) S.scroll = 0;
    for (int i = 0; i < r.h && S.scroll + i < n; i++)
        (S.scroll + i == 0 ? kp_put_tail : kp_put)(r.y + i, r.x + 1, r.w - 2, L[S.scroll + i].role,
                                                   L[S.scroll + i].text);
}

/* Loads the chosen file in the background; only a model that loads is written into the
 * project (a failed one leaves the project pointing at its previous model, and the error on
 * screen). */
static void choose(kp_app *a, const char *path) {
    S.picking = 0;
    if (S.choosing) {
        kp_app_load_model(a);
        chosen(a);
    }
    char *old = a->proj->model ? strdup(a->proj->model) : NULL;
    if (kp_app_setstr(&a->proj->model, path)) {
        free(old);
        return;
    }
    S.old = old;
    S.choosing = 1;
    kp_app_load_model_async(a);
    if (!a->model_loading) chosen(a);
}

/* The chosen file finished loading: keep it in the project, or go back to the old one. */
static void chosen(kp_app *a) {
    S.choosing = 0;
    if (a->model) {
        free(S.old);
        if (!kp_app_save_project(a))
            kp_app_msg(a, KP_ROLE_OK, "model saved in the project; Tab: next step (test data)");
    } else {
        free(a->proj->model);
        a->proj->model = S.old;
        kp_app_msg(a, KP_ROLE_BAD, "model not usable (see the message); choose another");
    }
    S.old = NULL;
}

static int tick(kp_app *a) {
    if (a->model_loading) return 1; /* spinner */
    if (!S.choosing) return 0;
    chosen(a);
    return 1;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    if (S.picking) {
        char out[8192];
        if (act == KP_ACT_BACK && !S.pk.filter.len && (a->model || a->model_err[0])) {
            S.picking = 0;
            return KP_DRAW_SCREEN;
        }
        int r = kp_picker_key(&S.pk, act, ch, is_key, out, sizeof out);
        if (r == 1) choose(a, out);
        return r == KP_UNHANDLED ? KP_UNHANDLED : KP_DRAW_ALL;
    }
    switch (act) {
    case KP_ACT_ENTER:
    case KP_ACT_EDIT: start_picker(a); return KP_DRAW_SCREEN;
    case KP_ACT_UP: S.scroll--; return KP_DRAW_SCREEN;
    case KP_ACT_DOWN: S.scroll++; return KP_DRAW_SCREEN;
    case KP_ACT_PGUP: S.scroll -= 10; return KP_DRAW_SCREEN;
    case KP_ACT_PGDN: S.scroll += 10; return KP_DRAW_SCREEN;
    default: return KP_UNHANDLED;
    }
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (!S.picking) return KP_UNHANDLED;
    char out[8192];
    if (kp_picker_click(&S.pk, (kp_rect){0, 0, r.h - 1, r.w - 2}, row - 1, out, sizeof out) == 1)
        choose(a, out);
    return KP_DRAW_ALL;
}

static const kp_help help[] = {
    {KP_ACT_ENTER, "choose a model file / open a folder", "choose file"},
    {KP_ACT_LEFT, "picker: parent folder", NULL},
    {KP_ACT_BACKSPACE, "picker: edit the filter (empty: parent folder)", NULL},
    {KP_ACT_BACK, "picker: clear the filter, or back to the summary", NULL},
    {KP_ACT_EDIT, "summary: choose another file", NULL},
    {KP_ACT_DOWN, "scroll the summary", NULL},
};

const kp_screen kp_screen_model = {
    .name = "Model",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .leave = leave,
    .draw = draw,
    .key = key,
    .click = click,
    .capture = capture,
    .tick = tick,
    .done = done,
};
