/* The key table. Printable keys that are also text (letters, digits, space) are marked
 * text_safe = 0, so a focused text field or filter receives them instead. */
#define NCURSES_WIDECHAR 1
#include "tui/keys.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define CTRL(c) ((c)&0x1f)

static const kp_keydef table[] = {
    {KEY_UP, KP_ACT_UP, "Up", 1},
    {'k', KP_ACT_UP, "k", 0},
    {KEY_DOWN, KP_ACT_DOWN, "Down", 1},
    {'j', KP_ACT_DOWN, "j", 0},
    {KEY_LEFT, KP_ACT_LEFT, "Left", 1},
    {'h', KP_ACT_LEFT, "h", 0},
    {KEY_RIGHT, KP_ACT_RIGHT, "Right", 1},
    {'l', KP_ACT_RIGHT, "l", 0},
    {KEY_PPAGE, KP_ACT_PGUP, "PgUp", 1},
    {KEY_NPAGE, KP_ACT_PGDN, "PgDn", 1},
    {KEY_HOME, KP_ACT_HOME, "Home", 1},
    {KEY_END, KP_ACT_END, "End", 1},
    {'\n', KP_ACT_ENTER, "Enter", 1},
    {'\r', KP_ACT_ENTER, "Enter", 1},
    {KEY_ENTER, KP_ACT_ENTER, "Enter", 1},
    {' ', KP_ACT_TOGGLE, "Space", 0},
    {'\t', KP_ACT_NEXT_STEP, "Tab", 1},
    {KEY_BTAB, KP_ACT_PREV_STEP, "S-Tab", 1},
    {27, KP_ACT_BACK, "Esc", 1},
    {'?', KP_ACT_HELP, "?", 0},
    {KEY_F(1), KP_ACT_HELP, "F1", 1},
    {'q', KP_ACT_QUIT, "q", 0},
    {KEY_F(10), KP_ACT_QUIT, "F10", 1},
    {'T', KP_ACT_THEME, "T", 0},
    {KEY_F(2), KP_ACT_THEME, "F2", 1},
    {'n', KP_ACT_NEW, "n", 0},
    {'a', KP_ACT_NEW, "a", 0},
    {'d', KP_ACT_DELETE, "d", 0},
    {KEY_DC, KP_ACT_DELETE, "Del", 0},
    {'e', KP_ACT_EDIT, "e", 0},
    {'o', KP_ACT_EDIT, "o", 0},
    {'r', KP_ACT_REPLAN, "r", 0},
    {'g', KP_ACT_RUN, "g", 0},
    {KEY_F(5), KP_ACT_RUN, "F5", 1},
    {'c', KP_ACT_CANCEL, "c", 0},
    {'s', KP_ACT_SAVE, "s", 0},
    {'v', KP_ACT_VIEW, "v", 0},
    {'1', KP_ACT_STEP1 + 0, "1-8", 0},
    {'2', KP_ACT_STEP1 + 1, "2", 0},
    {'3', KP_ACT_STEP1 + 2, "3", 0},
    {'4', KP_ACT_STEP1 + 3, "4", 0},
    {'5', KP_ACT_STEP1 + 4, "5", 0},
    {'6', KP_ACT_STEP1 + 5, "6", 0},
    {'7', KP_ACT_STEP1 + 6, "7", 0},
    {'8', KP_ACT_STEP1 + 7, "8", 0},
    {KEY_BACKSPACE, KP_ACT_BACKSPACE, "Bksp", 1},
    {127, KP_ACT_BACKSPACE, "Bksp", 1},
    {8, KP_ACT_BACKSPACE, "Bksp", 1},
    {CTRL('l'), KP_ACT_REDRAW, "C-l", 1},
};

static const char *const helps[KP_ACT_COUNT] = {
    [KP_ACT_UP] = "move up",
    [KP_ACT_DOWN] = "move down",
    [KP_ACT_LEFT] = "previous choice",
    [KP_ACT_RIGHT] = "next choice",
    [KP_ACT_PGUP] = "page up",
    [KP_ACT_PGDN] = "page down",
    [KP_ACT_HOME] = "first row",
    [KP_ACT_END] = "last row",
    [KP_ACT_ENTER] = "choose / open / edit",
    [KP_ACT_TOGGLE] = "toggle",
    [KP_ACT_NEXT_STEP] = "next step",
    [KP_ACT_PREV_STEP] = "previous step",
    [KP_ACT_BACK] = "back / close",
    [KP_ACT_HELP] = "this help",
    [KP_ACT_QUIT] = "quit",
    [KP_ACT_THEME] = "next colour theme",
    [KP_ACT_NEW] = "new",
    [KP_ACT_DELETE] = "delete",
    [KP_ACT_EDIT] = "edit / change",
    [KP_ACT_REPLAN] = "ask the planner again",
    [KP_ACT_RUN] = "start the run",
    [KP_ACT_CANCEL] = "cancel the run",
    [KP_ACT_SAVE] = "save the report",
    [KP_ACT_VIEW] = "switch view",
    [KP_ACT_STEP1] = "jump to step 1-8",
    [KP_ACT_BACKSPACE] = "delete a character",
    [KP_ACT_REDRAW] = "redraw the screen",
};

kp_action kp_key_action(int key, int is_key, int capture) {
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        const kp_keydef *d = &table[i];
        int d_is_key = d->key >= KEY_MIN;
        if (d->key != key || d_is_key != (is_key != 0)) continue;
        if (capture && !d->text_safe) return KP_ACT_NONE;
        return d->action;
    }
    return KP_ACT_NONE;
}

const char *kp_key_label(kp_action a) {
    static char buf[64];
    buf[0] = 0;
    if (a > KP_ACT_STEP1 && a <= KP_ACT_STEP8) a = KP_ACT_STEP1;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (table[i].action != a) continue;
        if (strstr(buf, table[i].label)) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%s%s", l ? " " : "", table[i].label);
        if (a == KP_ACT_STEP1) break;
    }
    return buf;
}

const char *kp_action_help(kp_action a) {
    if (a > KP_ACT_STEP1 && a <= KP_ACT_STEP8) a = KP_ACT_STEP1;
    return a < KP_ACT_COUNT && helps[a] ? helps[a] : "";
}
