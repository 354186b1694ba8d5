/* The one key table: every key the app understands maps to an action here, and the help
 * overlay and hint bar are generated from the same table. Screens receive actions (plus the
 * raw key for text entry) and return what must be redrawn. */
#ifndef KP_KEYS_H
#define KP_KEYS_H

#include <stddef.h>

typedef enum kp_action {
    KP_ACT_NONE = 0,
    KP_ACT_UP,
    KP_ACT_DOWN,
    KP_ACT_LEFT,
    KP_ACT_RIGHT,
    KP_ACT_PGUP,
    KP_ACT_PGDN,
    KP_ACT_HOME,
    KP_ACT_END,
    KP_ACT_ENTER,
    KP_ACT_TOGGLE,    /* Space */
    KP_ACT_NEXT_STEP, /* Tab */
    KP_ACT_PREV_STEP, /* Shift-Tab */
    KP_ACT_BACK,      /* Esc */
    KP_ACT_HELP,
    KP_ACT_QUIT,
    KP_ACT_THEME,
    KP_ACT_NEW,
    KP_ACT_DELETE,
    KP_ACT_EDIT,   /* e: edit fields / change file */
    KP_ACT_REPLAN, /* r on Plan: ask the planner again */
    KP_ACT_RUN,    /* g: go (start the run) */
    KP_ACT_CANCEL, /* c: cancel the run */
    KP_ACT_SAVE,   /* s: save the report */
    KP_ACT_VIEW,   /* v: switch view (per-layer / history) */
    KP_ACT_STEP1,  /* 1..8 jump to a step: STEP1 + i */
    KP_ACT_STEP8 = KP_ACT_STEP1 + 7,
    KP_ACT_BACKSPACE,
    KP_ACT_REDRAW, /* Ctrl-L */
    KP_ACT_COUNT
} kp_action;

/* Screen handlers return a combination of these; KP_UNHANDLED lets the app's global keys act. */
enum { KP_UNHANDLED = -1, KP_DRAW_NONE = 0, KP_DRAW_SCREEN = 1, KP_DRAW_ALL = 2 };

typedef struct kp_keydef {
    int key; /* curses key code or character */
    kp_action action;
    const char *label; /* "↑/k" as shown in help */
    int text_safe;     /* 1: still an action while a text field captures printable keys */
} kp_keydef;

/* Action for key (a curses code from get_wch: KEY_* with is_key, else a character).
 * capture: a text field is focused, so printable characters are not actions. */
kp_action kp_key_action(int key, int is_key, int capture);
/* Short label of the keys bound to an action ("↑ k"), for help; static storage. */
const char *kp_key_label(kp_action a);
/* What the action does, one line, for the help overlay. */
const char *kp_action_help(kp_action a);

#endif
