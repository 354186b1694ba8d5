/* Terminal lifecycle. Crash signals (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) run endwin()
 * and re-raise with the default action, so the shell is never left in raw mode; SIGINT,
 * SIGTERM and SIGHUP set a flag the event loop checks, so quitting goes through the normal
 * path (cancel the job, save, endwin). */
#include "tui/term.h"

#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const utf8_eighths[8] = {"▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};

static const kp_glyphs utf8_glyphs = {
    .h = "─",
    .v = "│",
    .tl = "┌",
    .tr = "┐",
    .bl = "└",
    .br = "┘",
    .full = "█",
    .empty = "░",
    .eighths = utf8_eighths,
    .on = "[x]",
    .off = "[ ]",
    .cur = "▶",
    .done = "✓",
    .todo = "·",
    .up = "▲",
    .down = "▼",
    .ell = "…",
    .delta_up = "▲",
    .delta_down = "▼",
};

static const kp_glyphs ascii_glyphs = {
    .h = "-",
    .v = "|",
    .tl = "+",
    .tr = "+",
    .bl = "+",
    .br = "+",
    .full = "#",
    .empty = ".",
    .eighths = NULL,
    .on = "[x]",
    .off = "[ ]",
    .cur = ">",
    .done = "*",
    .todo = " ",
    .up = "^",
    .down = "v",
    .ell = "~",
    .delta_up = "+",
    .delta_down = "-",
};

static volatile sig_atomic_t curses_on, interrupted;

void kp_term_end(void) {
    if (curses_on) {
        curses_on = 0;
        mousemask(0, NULL);
        curs_set(1);
        endwin();
        /* Mouse tracking off, in case endwin did not do it (some terminfo entries omit it). */
        fputs("\033[?1000l\033[?1006l", stdout);
        fflush(stdout);
    }
}

static void on_crash(int sig) {
    /* Not async-signal-safe in theory; in practice endwin only writes escape sequences and
     * leaving the terminal raw is worse. Then die the way we would have. */
    kp_term_end();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

int kp_term_interrupted(void) {
    int v = interrupted;
    interrupted = 0;
    return v;
}

int kp_term_want_utf8(const char *term_name, const char *codeset) {
    if (!codeset || (strcasecmp(codeset, "UTF-8") && strcasecmp(codeset, "utf8"))) return 0;
    if (!term_name) return 1;
    static const char *const plain[] = {"linux", "vt100", "vt102", "vt220", "dumb", "ansi"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (!strcmp(term_name, plain[i])) return 0;
    return 1;
}

int kp_term_init(kp_term *t, int force_ascii, char *msg, size_t msg_len) {
    setlocale(LC_ALL, "");
    const char *term_name = getenv("TERM");
    t->utf8 = !force_ascii && kp_term_want_utf8(term_name, nl_langinfo(CODESET));
    t->g = t->utf8 ? &utf8_glyphs : &ascii_glyphs;
    const char *nc = getenv("NO_COLOR");
    t->no_color = nc && nc[0];

    SCREEN *s = newterm(NULL, stdout, stdin);
    if (!s) {
        snprintf(msg, msg_len,
                 "cannot start the terminal UI for TERM='%s'; set TERM (e.g. "
                 "TERM=xterm-256color) or use a headless command (kompress --help)",
                 term_name ? term_name : "");
        return -1;
    }
    set_term(s);
    curses_on = 1;
    atexit(kp_term_end);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    int crash[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof crash / sizeof *crash; i++) sigaction(crash[i], &sa, NULL);
    sa.sa_handler = on_interrupt;
    sa.sa_flags = 0;
    int stop[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof stop / sizeof *stop; i++) sigaction(stop[i], &sa, NULL);

    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(0);
    t->colors = !t->no_color && has_colors();
    if (t->colors) {
        start_color();
        use_default_colors();
    }
    return 0;
}
