/* Terminal setup and teardown for the app: locale and UTF-8 detection, curses modes, mouse,
 * crash/interrupt signal handlers that always restore the terminal, and the glyph set (UTF-8
 * boxes and bars, or an ASCII fallback for TERM=linux/vt100 and non-UTF-8 locales). */
#ifndef KP_TERM_H
#define KP_TERM_H

#define NCURSES_WIDECHAR 1
#include <curses.h>

/* The characters the app draws with. All strings, one cell wide each. */
typedef struct kp_glyphs {
    const char *h, *v, *tl, *tr, *bl, *br; /* box */
    const char *full, *empty;              /* bar cells */
    const char *const *eighths;            /* 8 partial cells for smooth bars (UTF-8), or NULL */
    const char *on, *off;                  /* check box (3 cells: "[x]") */
    const char *cur, *done, *todo;         /* step list markers (1 cell) */
    const char *up, *down, *ell;           /* scroll hints and ellipsis */
    const char *delta_up, *delta_down;     /* arrows for deltas */
} kp_glyphs;

typedef struct kp_term {
    int utf8;     /* 1 when boxes/bars use UTF-8 */
    int colors;   /* 1 when colours are used (has_colors and no NO_COLOR) */
    int no_color; /* NO_COLOR was set */
    const kp_glyphs *g;
} kp_term;

/* Sets the locale, decides UTF-8 vs ASCII, starts curses, installs the signal handlers.
 * force_ascii: 1 = ASCII glyphs whatever the locale. Returns 0, or -1 with a message in msg
 * (curses could not start: e.g. unknown TERM); the terminal is untouched then. */
int kp_term_init(kp_term *t, int force_ascii, char *msg, size_t msg_len);
/* Restores the terminal; safe to call more than once and from the atexit path. */
void kp_term_end(void);
/* 1 once SIGINT/SIGTERM/SIGHUP arrived (the app then quits cleanly); clears the flag. */
int kp_term_interrupted(void);
/* Picks the glyph set without starting curses (used by tests of the fallback logic). */
int kp_term_want_utf8(const char *term_name, const char *codeset);

#endif
