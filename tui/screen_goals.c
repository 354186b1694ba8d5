/* Step 5: up to two goals among latency, size and accuracy in priority order, the accuracy
 * budget, optional size and latency budgets. Every change is saved at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/ui.h"

enum { ROW_G1, ROW_G2, ROW_DROP, ROW_SIZE, ROW_LAT, ROW_COUNT };

static struct { kp_list list; } S = {{0, 0, ROW_COUNT}};

static int done(const kp_app *a) {
    return a->proj && a->proj->goals[0] != KP_GOAL_NONE;
}

static const char *goal_label(kp_goal g) {
    switch (g) {
    case KP_GOAL_LATENCY: return "latency (faster)";
    case KP_GOAL_SIZE: return "size (smaller)";
    case KP_GOAL_ACCURACY: return "accuracy (keep it)";
    default: return "none";
    }
}

static void draw(kp_app *a, kp_rect r) {
    if (!a->proj) {
        kp_app_notice(r, "Open a project first", "Step 1 (Project): open or create a project.");
        return;
    }
    kp_project *p = a->proj;
    char v[ROW_COUNT][96];
    snprintf(v[ROW_G1], sizeof v[0], "< %s >", goal_label(p->goals[0]));
    snprintf(v[ROW_G2], sizeof v[0], "< %s >", goal_label(p->goals[1]));
    snprintf(v[ROW_DROP], sizeof v[0], "%.2f points of top-1 at most", p->max_drop);
    if (p->size_budget_bytes > 0)
        snprintf(v[ROW_SIZE], sizeof v[0], "%.3f MB at most", p->size_budget_bytes / 1e6);
    else
        snprintf(v[ROW_SIZE], sizeof v[0], "none");
    if (p->latency_budget_ms > 0)
        snprintf(v[ROW_LAT], sizeof v[0], "%.3f ms at most (on the target)", p->latency_budget_ms);
    else
        snprintf(v[ROW_LAT], sizeof v[0], "none");
    static const char *const lab[ROW_COUNT] = {"First goal", "Second goal", "Accuracy budget",
                                               "Size budget", "Latency budget"};
    kp_wrap(r.y, r.x + 1, r.w - 2, 2, KP_ROLE_MUTED,
            "What matters most? The planner favours the "
            "first goal, then the second.");
    for (int i = 0; i < ROW_COUNT; i++) {
        int y = r.y + 2 + i * 2, sel = i == S.list.sel;
        if (sel) kp_fill(y, r.x, r.w, KP_ROLE_SELECTED);
        kp_put(y, r.x + 1, 17, sel ? KP_ROLE_SELECTED : KP_ROLE_TITLE, lab[i]);
        kp_put(y, r.x + 19, r.w - 20, sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL, v[i]);
    }
    const char *tip[ROW_COUNT] = {
        "Left/Right or Space: change. Size suits MCUs and downloads; latency suits real-time.",
        "Optional. Left/Right or Space: change.",
        "Enter: edit. The run keeps only results within this drop (default 1.0 point).",
        "Enter: edit. 0 = no limit. Useful when the model must fit a given flash size.",
        "Enter: edit. 0 = no limit. Estimated on the chosen target.",
    };
    kp_wrap(r.y + 3 + ROW_COUNT * 2, r.x + 1, r.w - 2, 3, KP_ROLE_MUTED, tip[S.list.sel]);
}

static void cycle(kp_app *a, int row, int dir) {
    kp_project *p = a->proj;
    kp_goal *g = &p->goals[row];
    do {
        int v = ((int)*g + dir + KP_GOAL_COUNT) % KP_GOAL_COUNT;
        *g = (kp_goal)v;
    } while (row == 1 && *g != KP_GOAL_NONE && *g == p->goals[0]);
    if (row == 0 && *g == KP_GOAL_NONE) p->goals[1] = KP_GOAL_NONE;
    if (row == 0 && p->goals[1] == *g) p->goals[1] = KP_GOAL_NONE;
    if (row == 1 && p->goals[0] == KP_GOAL_NONE) p->goals[1] = KP_GOAL_NONE;
    if (!kp_app_save_project(a))
        kp_app_msg(a, KP_ROLE_OK, "goals: %s%s%s", kp_goal_name(p->goals[0]),
                   p->goals[1] ? " then " : "", p->goals[1] ? kp_goal_name(p->goals[1]) : "");
}

static int num_submit(kp_app *a, kp_form *f) {
    char *end;
    double v = strtod(f->val[0].buf, &end);
    if (end == f->val[0].buf || *end || !(v >= 0) || v > 1e9) {
        snprintf(f->err, sizeof f->err, "Enter a number, 0 or more.");
        return 1;
    }
    kp_project *p = a->proj;
    switch (f->tag) {
    case ROW_DROP:
        if (v > 100) {
            snprintf(f->err, sizeof f->err, "The accuracy budget is in points (0 to 100).");
            return 1;
        }
        p->max_drop = v;
        break;
    case ROW_SIZE: p->size_budget_bytes = v * 1e6; break;
    case ROW_LAT: p->latency_budget_ms = v; break;
    }
    if (!kp_app_save_project(a)) kp_app_msg(a, KP_ROLE_OK, "budget saved");
    return 0;
}

static void edit_num(kp_app *a, int row) {
    kp_project *p = a->proj;
    char v[64];
    const char *label = "", *help = "";
    switch (row) {
    case ROW_DROP:
        snprintf(v, sizeof v, "%g", p->max_drop);
        label = "Max top-1 drop (points)";
        help = "1.0 = accept 92.0% -> 91.0%. 0 = no accuracy loss at all.";
        break;
    case ROW_SIZE:
        snprintf(v, sizeof v, "%g", p->size_budget_bytes / 1e6);
        label = "Max size (MB)";
        help = "File size the compressed model must not exceed; 0 = no limit.";
        break;
    default:
        snprintf(v, sizeof v, "%g", p->latency_budget_ms);
        label = "Max latency (ms)";
        help = "Estimated latency on the target it must not exceed; 0 = no limit.";
        break;
    }
    kp_form_init(&a->form, "Budget", row);
    kp_form_add(&a->form, label, v, help);
    kp_app_form(a, num_submit);
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    if (kp_list_key(&S.list, act, 5)) return KP_DRAW_SCREEN;
    int row = S.list.sel;
    if (row <= ROW_G2 && (act == KP_ACT_LEFT || act == KP_ACT_RIGHT || act == KP_ACT_TOGGLE ||
                          act == KP_ACT_ENTER)) {
        cycle(a, row, act == KP_ACT_LEFT ? -1 : 1);
        return KP_DRAW_ALL;
    }
    if (row > ROW_G2 && (act == KP_ACT_ENTER || act == KP_ACT_EDIT)) {
        edit_num(a, row);
        return KP_DRAW_ALL;
    }
    return KP_UNHANDLED;
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (!a->proj || row < 2 || (row - 2) % 2 || (row - 2) / 2 >= ROW_COUNT) return KP_DRAW_NONE;
    int k = (row - 2) / 2;
    if (k == S.list.sel) return key(a, KP_ACT_ENTER, 0, 0);
    S.list.sel = k;
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_RIGHT, "next goal choice", "change goal"},
    {KP_ACT_ENTER, "change / edit a budget", "edit"},
    {KP_ACT_LEFT, "previous goal choice", NULL},
    {KP_ACT_UP, "previous row", NULL},
    {KP_ACT_DOWN, "next row", NULL},
};

const kp_screen kp_screen_goals = {
    .name = "Goals",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .draw = draw,
    .key = key,
    .click = click,
    .done = done,
};
