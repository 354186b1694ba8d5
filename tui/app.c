/* The app: argument parsing, the one event loop, layout (title, step list, screen, status,
 * key hints), overlays (help, yes/no question, form), themes, mouse and resize.
 * The loop waits at most 100 ms for a key while a job runs (so progress redraws >= 5x/s) and
 * 250 ms otherwise; it redraws only when something changed, with erase() + refresh() so curses
 * sends only the cells that differ. */
#include "tui/app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/cli.h"
#include "tui/ui.h"

#define MIN_ROWS 24
#define MIN_COLS 80
#define SIDE_W   20

static const kp_screen *const screens[KP_STEP_COUNT] = {
    [KP_STEP_PROJECT] = &kp_screen_project, [KP_STEP_MODEL] = &kp_screen_model,
    [KP_STEP_DATA] = &kp_screen_data,       [KP_STEP_TARGET] = &kp_screen_target,
    [KP_STEP_GOALS] = &kp_screen_goals,     [KP_STEP_PLAN] = &kp_screen_plan,
    [KP_STEP_RUN] = &kp_screen_run,         [KP_STEP_RESULTS] = &kp_screen_results,
};
_Static_assert(sizeof screens / sizeof *screens == KP_STEP_COUNT, "one screen per step");

static const kp_help global_help[] = {
    {KP_ACT_NEXT_STEP, "next step", "next step"},
    {KP_ACT_PREV_STEP, "previous step", NULL},
    {KP_ACT_STEP1, "jump to a step", NULL},
    {KP_ACT_BACK, "back (previous step, or close)", NULL},
    {KP_ACT_HELP, "help: every key of this screen", "help"},
    {KP_ACT_THEME, "next colour theme (remembered)", NULL},
    {KP_ACT_REDRAW, "redraw the screen", NULL},
    {KP_ACT_QUIT, "quit", "quit"},
};

void kp_app_msg(kp_app *a, kp_role role, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_role = role;
}

void kp_app_confirm(kp_app *a, const char *text, kp_confirm_fn fn) {
    snprintf(a->confirm_text, sizeof a->confirm_text, "%s", text);
    a->confirm_fn = fn;
}

void kp_app_form(kp_app *a, kp_form_fn fn) {
    a->form_fn = fn;
}

void kp_app_goto(kp_app *a, kp_step s) {
    if (s >= KP_STEP_COUNT || s == a->step) return;
    if (screens[a->step]->leave) screens[a->step]->leave(a);
    a->step = s;
    a->help_open = 0;
    if (screens[s]->enter) screens[s]->enter(a);
}

void kp_app_notice(kp_rect r, const char *title, const char *text) {
    kp_put(r.y + 1, r.x + 1, r.w - 2, KP_ROLE_WARN, title);
    kp_wrap(r.y + 3, r.x + 1, r.w - 2, r.h - 4, KP_ROLE_NORMAL, text);
}

/* ---- themes ---- */

/* Without colours (NO_COLOR, or a terminal without colour) every theme is drawn with the
 * monochrome attributes, so the selection stays visible; the chosen name is kept for cycling. */
static void use_theme(kp_app *a, const char *name, int remember) {
    char msg[512];
    kp_theme t;
    if (kp_theme_load(name, &t, msg, sizeof msg)) {
        kp_theme_mono(&t);
        kp_app_msg(a, KP_ROLE_BAD, "%s", msg);
    } else if (remember) {
        char rmsg[512];
        if (kp_theme_remember(name, rmsg, sizeof rmsg))
            kp_app_msg(a, KP_ROLE_WARN, "theme %s (not remembered: %s)", name, rmsg);
        else
            kp_app_msg(a, KP_ROLE_OK, "theme %s%s", name,
                       a->term.colors ? "" : " (colours are off: NO_COLOR or terminal)");
    }
    a->theme = t;
    if (a->term.colors) {
        kp_theme_apply(&a->theme, 1);
    } else {
        kp_theme mono;
        if (kp_theme_load("monochrome", &mono, msg, sizeof msg)) kp_theme_mono(&mono);
        kp_theme_apply(&mono, 0);
    }
}

static void cycle_theme(kp_app *a) {
    if (!a->n_themes) {
        kp_app_msg(a, KP_ROLE_BAD, "no theme files found (themes/*.theme; set KOMPRESS_THEMES)");
        return;
    }
    size_t i = 0;
    while (i < a->n_themes && strcmp(a->themes[i], a->theme.name)) i++;
    i = i < a->n_themes ? (i + 1) % a->n_themes : 0;
    use_theme(a, a->themes[i], 1);
}

/* ---- drawing ---- */

/* While a text field captures printable keys (pickers, filters), the bar shows the key that
 * still works then: the last label of the action ("q F10" -> "F10"), else the first. */
static int hint_capture;

static void hint_key(const kp_help *h, char *key, size_t len) {
    snprintf(key, len, "%s", kp_key_label(h->act));
    char *sp = hint_capture ? strrchr(key, ' ') : strchr(key, ' ');
    if (sp && hint_capture)
        memmove(key, sp + 1, strlen(sp + 1) + 1);
    else if (sp)
        *sp = 0;
}

static int hint_width(const kp_help *h) {
    char key[64];
    hint_key(h, key, sizeof key);
    return kp_text_width(key) + 1 + kp_text_width(h->hint) + 2;
}

static int draw_hint(int y, int x, int maxw, const kp_help *h) {
    char key[64];
    hint_key(h, key, sizeof key);
    int x0 = x;
    x += kp_put(y, x, maxw, KP_ROLE_KEY, key);
    x += kp_put(y, x, maxw - (x - x0), KP_ROLE_HINT, " ");
    x += kp_put(y, x, maxw - (x - x0), KP_ROLE_HINT, h->hint);
    return x - x0 + 2;
}

/* The help of the screen as it is now: a mode's keys (an open list...) or the screen's. */
static const kp_help *screen_help(const kp_app *a, size_t *n) {
    const kp_screen *s = screens[a->step];
    const kp_help *h = s->mode_help ? s->mode_help(a, n) : NULL;
    if (h) return h;
    *n = s->n_help;
    return s->help;
}

/* A literal hint ("y" "yes"); returns the columns used. */
static int draw_lit(int y, int x, int maxw, const char *key, const char *what) {
    int x0 = x;
    x += kp_put(y, x, maxw, KP_ROLE_KEY, key);
    x += kp_put(y, x, maxw - (x - x0), KP_ROLE_HINT, " ");
    x += kp_put(y, x, maxw - (x - x0), KP_ROLE_HINT, what);
    return x - x0 + 2;
}

/* Screen hints from the left; the global ones (help, quit...) right-aligned. While a form or a
 * question is open only its own keys work, so the bar shows those (not the screen's). */
static void draw_hints(kp_app *a, int y) {
    kp_fill(y, 0, a->cols, KP_ROLE_HINT);
    if (a->form_fn || a->confirm_fn || a->help_open) {
        static const char *const form[][2] = {
            {"Enter", "save"}, {"Esc", "cancel"}, {"Up/Down/Tab", "field"}, {"Bksp", "erase"}};
        static const char *const ask[][2] = {{"y", "yes"}, {"n/Esc", "no"}};
        static const char *const help[][2] = {{"any key", "close this help"}};
        const char *const(*l)[2] = a->form_fn ? form : a->confirm_fn ? ask : help;
        size_t n = a->form_fn ? 4 : a->confirm_fn ? 2 : 1;
        int x = 1;
        for (size_t i = 0; i < n && x < a->cols - 1; i++)
            x += draw_lit(y, x, a->cols - 1 - x, l[i][0], l[i][1]);
        return;
    }
    const kp_screen *cs = screens[a->step];
    hint_capture = cs->capture && cs->capture(a);
    int gw = 0;
    size_t ng = sizeof global_help / sizeof *global_help;
    for (size_t i = 0; i < ng; i++)
        if (global_help[i].hint) gw += hint_width(&global_help[i]);
    int gx = a->cols - gw;
    for (size_t i = 0; i < ng; i++)
        if (global_help[i].hint) gx += draw_hint(y, gx, a->cols - gx, &global_help[i]);
    size_t nh;
    const kp_help *sh = screen_help(a, &nh);
    int x = 1;
    for (size_t i = 0; i < nh; i++) {
        if (!sh[i].hint) continue;
        if (x + hint_width(&sh[i]) > a->cols - gw) break;
        x += draw_hint(y, x, a->cols - gw - x, &sh[i]);
    }
}

static void draw_steps(kp_app *a) {
    kp_rect r = {1, 0, a->rows - 3, SIDE_W};
    kp_box(r, KP_ROLE_BORDER, "Steps");
    const kp_glyphs *g = kp_g();
    for (int i = 0; i < KP_STEP_COUNT; i++) {
        int y = r.y + 1 + i * 2;
        if (y >= r.y + r.h - 1) break;
        int cur = i == (int)a->step;
        int done = screens[i]->done && screens[i]->done(a);
        kp_role role = cur ? KP_ROLE_STEP_CUR : done ? KP_ROLE_STEP_DONE : KP_ROLE_NORMAL;
        if (cur) kp_fill(y, 1, SIDE_W - 2, role);
        kp_putf(y, 1, SIDE_W - 2, role, "%s %d %s", cur ? g->cur : " ", i + 1, screens[i]->name);
        if (done) kp_put(y, SIDE_W - 3, 1, cur ? role : KP_ROLE_OK, g->done);
    }
    int y = r.y + 1 + KP_STEP_COUNT * 2;
    if (a->job_running && y < r.y + r.h - 1) kp_put(y, 2, SIDE_W - 4, KP_ROLE_WARN, "job running");
}

static void draw_help(kp_app *a) {
    const kp_screen *s = screens[a->step];
    size_t nh;
    const kp_help *sh = screen_help(a, &nh);
    int n = (int)(nh + sizeof global_help / sizeof *global_help);
    int h = n + 5, w = 64;
    if (h > a->rows - 2) h = a->rows - 2;
    if (w > a->cols - 4) w = a->cols - 4;
    kp_rect r = {(a->rows - h) / 2, (a->cols - w) / 2, h, w};
    for (int j = 0; j < r.h; j++) kp_fill(r.y + j, r.x, r.w, KP_ROLE_NORMAL);
    char title[96];
    snprintf(title, sizeof title, "Help: %s", s->name);
    kp_box(r, KP_ROLE_BORDER, title);
    int y = r.y + 1;
    for (int pass = 0; pass < 2; pass++) {
        const kp_help *hl = pass ? global_help : sh;
        size_t m = pass ? sizeof global_help / sizeof *global_help : nh;
        if (pass && y < r.y + r.h - 2) kp_put(y++, r.x + 2, r.w - 4, KP_ROLE_MUTED, "Everywhere:");
        for (size_t i = 0; i < m && y < r.y + r.h - 2; i++, y++) {
            kp_put(y, r.x + 2, 16, KP_ROLE_KEY, kp_key_label(hl[i].act));
            kp_put(y, r.x + 19, r.w - 21, KP_ROLE_NORMAL, hl[i].what);
        }
    }
    kp_put(r.y + r.h - 2, r.x + 2, r.w - 4, KP_ROLE_MUTED,
           "Mouse: click a step or a row. Any key closes this help.");
}

static void draw_all(kp_app *a) {
    erase();
    getmaxyx(stdscr, a->rows, a->cols);
    if (a->rows < MIN_ROWS || a->cols < MIN_COLS) {
        char m[200];
        snprintf(m, sizeof m, "This terminal is %dx%d.", a->cols, a->rows);
        int y = a->rows / 2 - 2;
        if (y < 0) y = 0;
        kp_putf(y, 1, a->cols - 2, KP_ROLE_WARN, "Kompress needs at least %dx%d.", MIN_COLS,
                MIN_ROWS);
        kp_put(y + 1, 1, a->cols - 2, KP_ROLE_WARN, m);
        kp_put(y + 3, 1, a->cols - 2, KP_ROLE_MUTED, "Enlarge the window, or press q to quit.");
        refresh();
        return;
    }
    kp_fill(0, 0, a->cols, KP_ROLE_TITLE);
    int x = kp_putf(0, 1, a->cols - 2, KP_ROLE_TITLE, "Kompress %s", KP_VERSION);
    if (a->proj) {
        char buf[400];
        const char *model = a->proj->model ? strrchr(a->proj->model, '/') : NULL;
        model = model ? model + 1 : a->proj->model;
        snprintf(buf, sizeof buf, "  project: %s  model: %s  target: %s", a->proj->name,
                 model ? model : "-", a->proj->target_id ? a->proj->target_id : "-");
        kp_put(0, 1 + x, a->cols - 2 - x, KP_ROLE_TITLE, buf);
    } else {
        kp_put(0, 1 + x, a->cols - 2 - x, KP_ROLE_TITLE, "  no project open");
    }
    draw_steps(a);
    kp_rect box = {1, SIDE_W, a->rows - 3, a->cols - SIDE_W};
    char title[96];
    snprintf(title, sizeof title, "%d %s", (int)a->step + 1, screens[a->step]->name);
    kp_box(box, KP_ROLE_BORDER, title);
    a->body = (kp_rect){box.y + 1, box.x + 1, box.h - 2, box.w - 2};
    screens[a->step]->draw(a, a->body);
    /* A message belongs to the step it was shown on: once the person moves to another step
     * and nothing new was said, it goes ("now choose a model" on Results, "Tab: results" on
     * Results, were stale). A message set by the action that changed the step is new: kept. */
    static int drawn_step = -1;
    static char drawn_status[sizeof a->status];
    if ((int)a->step != drawn_step && drawn_step >= 0 && !strcmp(a->status, drawn_status))
        a->status[0] = 0;
    drawn_step = (int)a->step;
    snprintf(drawn_status, sizeof drawn_status, "%s", a->status);
    kp_fill(a->rows - 2, 0, a->cols, KP_ROLE_NORMAL);
    kp_put(a->rows - 2, 1, a->cols - 2, a->status_role, a->status);
    draw_hints(a, a->rows - 1);
    if (a->help_open) draw_help(a);
    if (a->form_fn) kp_form_draw(&a->form, a->rows, a->cols);
    if (a->confirm_fn) {
        char t[700];
        snprintf(t, sizeof t, "%s\n\ny = yes    n / Esc = no", a->confirm_text);
        kp_dialog_draw(a->rows, a->cols, "Please confirm", t, KP_ROLE_NORMAL);
    }
    refresh();
}

/* ---- input ---- */

static void quit_now(kp_app *a, int yes) {
    if (yes) a->quit = 1;
}

static void request_quit(kp_app *a) {
    if (a->job_running)
        kp_app_confirm(a,
                       "A run is in progress. Quit and cancel it? Your project stays as it "
                       "was before the run.",
                       quit_now);
    else
        a->quit = 1;
}

static int global_key(kp_app *a, kp_action act) {
    switch (act) {
    case KP_ACT_QUIT: request_quit(a); return KP_DRAW_ALL;
    case KP_ACT_HELP: a->help_open = 1; return KP_DRAW_ALL;
    case KP_ACT_THEME: cycle_theme(a); return KP_DRAW_ALL;
    case KP_ACT_NEXT_STEP:
        kp_app_goto(a, a->step + 1 < KP_STEP_COUNT ? a->step + 1 : a->step);
        return KP_DRAW_ALL;
    case KP_ACT_PREV_STEP:
    case KP_ACT_BACK:
        if (a->step > 0) kp_app_goto(a, a->step - 1);
        return KP_DRAW_ALL;
    case KP_ACT_REDRAW: clearok(curscr, TRUE); return KP_DRAW_ALL;
    default:
        if (act >= KP_ACT_STEP1 && act <= KP_ACT_STEP8) {
            kp_app_goto(a, (kp_step)(act - KP_ACT_STEP1));
            return KP_DRAW_ALL;
        }
        return KP_DRAW_NONE;
    }
}

static int handle_key(kp_app *a, int ch, int is_key) {
    if (a->confirm_fn) {
        kp_confirm_fn fn = a->confirm_fn;
        if (!is_key && (ch == 'y' || ch == 'Y')) {
            a->confirm_fn = NULL;
            fn(a, 1);
        } else if ((!is_key && (ch == 'n' || ch == 'N' || ch == 27)) || ch == 'q') {
            a->confirm_fn = NULL;
            fn(a, 0);
        }
        return KP_DRAW_ALL;
    }
    if (a->form_fn) {
        kp_action act = kp_key_action(ch, is_key, 1);
        int r = kp_form_key(&a->form, act, ch, is_key);
        if (r == KP_FORM_CANCEL) a->form_fn = NULL;
        if (r == KP_FORM_SUBMIT) {
            kp_form_fn fn = a->form_fn;
            if (!fn(a, &a->form)) a->form_fn = NULL;
        }
        return KP_DRAW_ALL;
    }
    if (a->help_open) {
        a->help_open = 0;
        return KP_DRAW_ALL;
    }
    if (a->rows < MIN_ROWS || a->cols < MIN_COLS) {
        kp_action act = kp_key_action(ch, is_key, 0);
        if (act == KP_ACT_QUIT) request_quit(a);
        return KP_DRAW_ALL;
    }
    const kp_screen *s = screens[a->step];
    int capture = s->capture && s->capture(a);
    kp_action act = kp_key_action(ch, is_key, capture);
    int r = s->key ? s->key(a, act, ch, is_key) : KP_UNHANDLED;
    if (r != KP_UNHANDLED) return r;
    return global_key(a, act);
}

static int handle_mouse(kp_app *a) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return KP_DRAW_NONE;
    if (a->confirm_fn || a->form_fn) return KP_DRAW_NONE;
    if (a->help_open) {
        a->help_open = 0;
        return KP_DRAW_ALL;
    }
    const kp_screen *s = screens[a->step];
    if (ev.bstate & BUTTON4_PRESSED) return s->key ? s->key(a, KP_ACT_UP, 0, 1) : 0;
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) return s->key ? s->key(a, KP_ACT_DOWN, 0, 1) : 0;
#endif
    if (ev.x < SIDE_W && ev.y >= 2) {
        int i = (ev.y - 2) / 2;
        if (i < KP_STEP_COUNT && (ev.y - 2) % 2 == 0) kp_app_goto(a, (kp_step)i);
        return KP_DRAW_ALL;
    }
    kp_rect b = a->body;
    if (s->click && ev.y >= b.y && ev.y < b.y + b.h && ev.x >= b.x && ev.x < b.x + b.w) {
        int r = s->click(a, b, ev.y - b.y, ev.x - b.x);
        return r == KP_UNHANDLED ? KP_DRAW_NONE : r;
    }
    return KP_DRAW_NONE;
}

static int usage(const char *why) {
    if (why) fprintf(stderr, "kompress: %s\n", why);
    fprintf(stderr, "usage: kompress [--open DIR] [--theme NAME] [--ascii]\n"
                    "  --open DIR    open the project folder DIR\n"
                    "  --theme NAME  colour theme (default, light, high-contrast, monochrome)\n"
                    "  --ascii       draw boxes and bars with ASCII characters only\n");
    return 2;
}

int kp_app_main(int argc, char **argv) {
    const char *open_dir = NULL, *theme = NULL;
    int force_ascii = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--open") && i + 1 < argc)
            open_dir = argv[++i];
        else if (!strcmp(argv[i], "--theme") && i + 1 < argc)
            theme = argv[++i];
        else if (!strncmp(argv[i], "--theme=", 8))
            theme = argv[i] + 8;
        else if (!strcmp(argv[i], "--ascii"))
            force_ascii = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(NULL), 0;
        else
            return usage("unknown or incomplete option for the app");
    }

    static kp_app app; /* static: zeroed, and reachable from signal-free teardown */
    kp_app *a = &app;
    char msg[512];
    if (kp_term_init(&a->term, force_ascii, msg, sizeof msg)) {
        fprintf(stderr, "kompress: %s\n", msg);
        return 1;
    }
    kp_widgets_init(&a->term);
    kp_theme_list(&a->themes, &a->n_themes);
    char saved[64];
    kp_theme_saved(saved, sizeof saved);
    kp_app_msg(a, KP_ROLE_STATUS, "Welcome. Tab moves to the next step, ? shows every key.");
    use_theme(a, theme ? theme : saved[0] ? saved : "default", theme != NULL);
    a->passes = kp_passes(&a->n_passes);

    a->step = KP_STEP_PROJECT;
    if (open_dir) {
        if (!kp_app_open_project(a, open_dir)) a->step = KP_STEP_MODEL;
    }
    if (screens[a->step]->enter) screens[a->step]->enter(a);

    int dirty = 1;
    while (!a->quit) {
        if (dirty) draw_all(a);
        dirty = 0;
        timeout(a->job_running || kp_plan_task_running() || a->model_loading ? 100 : 250);
        wint_t wc = 0;
        int r = get_wch(&wc);
        if (kp_term_interrupted()) break;
        const kp_screen *s = screens[a->step];
        if (kp_model_task_adopt(a, 0)) dirty = 1;
        if (s->tick && s->tick(a)) dirty = 1;
        /* Screens other than Run must still drain job events: the Run screen's tick does it
         * whichever screen is shown. */
        if (s != &kp_screen_run && kp_screen_run.tick && kp_screen_run.tick(a)) dirty = 1;
        if (s != &kp_screen_plan && kp_screen_plan.tick && kp_screen_plan.tick(a)) dirty = 1;
        if (r == ERR) continue;
        if (r == KEY_CODE_YES && wc == KEY_RESIZE) {
            dirty = 1;
            continue;
        }
        if (r == KEY_CODE_YES && wc == KEY_MOUSE) {
            if (handle_mouse(a) != KP_DRAW_NONE) dirty = 1;
            continue;
        }
        if (handle_key(a, (int)wc, r == KEY_CODE_YES) != KP_DRAW_NONE) dirty = 1;
    }
    /* Every worker is told to stop first, so they wind down together; each join then takes
     * about a second at most (a load or plan nobody will see is not waited for). */
    kp_plan_task_cancel();
    kp_model_task_cancel();
    if (a->job) kp_job_cancel(a->job);
    if (screens[a->step]->leave) screens[a->step]->leave(a);
    kp_term_end();
    kp_plan_task_end();
    kp_layer_task_end();
    kp_model_task_end();
    kp_data_preview_end();
    if (a->job) {
        kp_job_cancel(a->job);
        kp_job_free(a->job); /* waits for the worker */
        a->job = NULL;
        printf("kompress: the run was cancelled; the project is as it was before the run.\n");
    }
    kp_app_close_project(a);
    kp_theme_list_free(a->themes, a->n_themes);
    free(a->workspace);
    if (a->targets) free(a->targets);
    return 0;
}
