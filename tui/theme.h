/* Colour themes: data files themes/<name>.theme mapping semantic roles to colours and
 * attributes. Lines: `role fg bg [bold] [underline] [reverse] [dim]`; fg/bg are colour names
 * (default black red green yellow blue magenta cyan white, bright-<name>) or 0..255; `#` starts
 * a comment; `name = ...` is optional. Unknown roles or colours are errors naming the line. */
#ifndef KP_THEME_H
#define KP_THEME_H

#include <stddef.h>

/* Messages are formatted into fixed buffers; cutting a long message short is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

typedef enum kp_role {
    KP_ROLE_NORMAL = 0,
    KP_ROLE_TITLE,     /* title bar, headings */
    KP_ROLE_SELECTED,  /* highlighted row */
    KP_ROLE_OK,        /* good delta, fits, done */
    KP_ROLE_WARN,      /* caution, estimates */
    KP_ROLE_BAD,       /* errors, worse delta, does not fit */
    KP_ROLE_MUTED,     /* secondary text */
    KP_ROLE_BAR,       /* filled part of bars */
    KP_ROLE_BAR_EMPTY, /* empty part of bars */
    KP_ROLE_BORDER,    /* boxes */
    KP_ROLE_HINT,      /* key-hint bar */
    KP_ROLE_KEY,       /* key names in the hint bar and help */
    KP_ROLE_STATUS,    /* status line */
    KP_ROLE_STEP_CUR,  /* current step in the step list */
    KP_ROLE_STEP_DONE, /* completed steps */
    KP_ROLE_COUNT
} kp_role;

typedef struct kp_style {
    short fg, bg;   /* -1 = terminal default */
    unsigned attrs; /* KP_ATTR_* below */
} kp_style;

enum { KP_A_BOLD = 1, KP_A_UNDERLINE = 2, KP_A_REVERSE = 4, KP_A_DIM = 8 };

typedef struct kp_theme {
    char name[64];
    kp_style roles[KP_ROLE_COUNT];
} kp_theme;

const char *kp_role_name(kp_role r);
/* Built-in monochrome theme (attributes only): used for NO_COLOR and when files are missing. */
void kp_theme_mono(kp_theme *t);
/* Parses theme text; roles not mentioned keep the monochrome style. 0 or -1 with msg. */
int kp_theme_parse(const char *text, const char *name, kp_theme *t, char *msg, size_t msg_len);
/* Folder holding the theme files: $KOMPRESS_THEMES, next to the binary (../themes), ./themes,
 * then the install prefix. Returns a static string or NULL when none exists. */
const char *kp_theme_dir(void);
/* Sorted theme names found in the theme folder (owned array of owned strings). */
int kp_theme_list(char ***names, size_t *n);
void kp_theme_list_free(char **names, size_t n);
int kp_theme_load(const char *name, kp_theme *t, char *msg, size_t msg_len);
/* Applies t to curses colour pairs (when colours are on) and returns the attr for a role. */
void kp_theme_apply(const kp_theme *t, int colors);
int kp_theme_attr(kp_role r);
/* The remembered choice in $XDG_CONFIG_HOME/kompress/tui.conf (~/.config if unset).
 * get: fills name ("" when none); set: atomic write (temp, fsync, rename). */
void kp_theme_saved(char *name, size_t len);
int kp_theme_remember(const char *name, char *msg, size_t msg_len);

#endif
