/* Drawing helpers and widgets shared by the screens: clipped text, boxes, bars, scrolling
 * lists, one-line text fields, a file picker, a modal form and a centred dialog. They draw on
 * stdscr with theme roles; nothing here knows about projects or models. */
#ifndef KP_WIDGETS_H
#define KP_WIDGETS_H

#include <stddef.h>

/* Messages are formatted into fixed buffers; cutting a long message short is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include "tui/keys.h"
#include "tui/term.h"
#include "tui/theme.h"

typedef struct kp_rect {
    int y, x, h, w;
} kp_rect;

/* The glyph set in use (set once by the app after kp_term_init). */
void kp_widgets_init(const kp_term *t);
const kp_glyphs *kp_g(void);

/* Writes s at (y,x) clipped to w columns (UTF-8 aware); returns columns written. */
int kp_put(int y, int x, int w, kp_role role, const char *s);
int kp_putf(int y, int x, int w, kp_role role, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Like kp_put, but a string too long keeps its end ("...end/of/path"): for paths. */
int kp_put_tail(int y, int x, int w, kp_role role, const char *s);
/* "±" in a UTF-8 terminal, "+/-" with the ASCII glyphs (LANG=C would show "±" as blanks). */
const char *kp_pm(void);
/* Text width in columns of a UTF-8 string. */
int kp_text_width(const char *s);
void kp_fill(int y, int x, int w, kp_role role);
void kp_box(kp_rect r, kp_role role, const char *title);
/* A horizontal bar: frac 0..1 of w cells filled (eighths in UTF-8). */
void kp_bar(int y, int x, int w, double frac, kp_role role);
/* Wraps text into lines of width w starting at (y,x), at most h lines; returns lines used. */
int kp_wrap(int y, int x, int w, int h, kp_role role, const char *text);

/* Human units: "1.23 MB", "12.3 ms", "1.2 G". buf must hold 32 bytes. */
const char *kp_fmt_bytes(double b, char *buf);
const char *kp_fmt_count(double n, char *buf);
const char *kp_fmt_ms(double ms, char *buf);
/* A signed change with `decimals` decimals and a suffix ("+1.2%", "-0.58 pts"); a value that
 * rounds to zero prints as "0.00" with no sign, never "-0.00". buf must hold 32 bytes. */
const char *kp_fmt_change(double v, int decimals, const char *suffix, char *buf);

/* ---- list: selection + scroll offset over n rows ---- */
typedef struct kp_list {
    int sel, top, n;
} kp_list;
/* Moves the selection for navigation actions; returns 1 when the action was navigation. */
int kp_list_key(kp_list *l, kp_action a, int page);
/* Keeps sel visible in a window of h rows. */
void kp_list_fit(kp_list *l, int h);

/* ---- one-line text field ---- */
typedef struct kp_field {
    char buf[512];
    size_t len;
} kp_field;
void kp_field_set(kp_field *f, const char *s);
/* Printable characters append, Backspace deletes; returns 1 when f changed. */
int kp_field_key(kp_field *f, int ch, int is_key, kp_action a);

/* ---- file picker: folders and files filtered by extension, type-to-filter ---- */
typedef struct kp_pick_entry {
    char *name;
    int is_dir;
    long long size;
} kp_pick_entry;

typedef struct kp_picker {
    char dir[4096];
    const char *const *exts; /* NULL-terminated lowercase suffixes (".onnx"); NULL = all files */
    kp_pick_entry *all;
    size_t n_all;
    size_t *shown; /* indices into all that match the filter */
    size_t n_shown;
    kp_field filter;
    kp_list list;
    char err[512];
    int dirs_ok; /* set before kp_picker_open: a "." row chooses the folder itself */
} kp_picker;

/* Opens dir (falls back to its nearest existing parent). Errors land in p->err. */
void kp_picker_open(kp_picker *p, const char *dir, const char *const *exts);
void kp_picker_free(kp_picker *p);
/* Returns 1 when a file was chosen (full path in out), 0 when handled, KP_UNHANDLED otherwise.
 * With dirs_ok, Enter on the "." row chooses the folder itself (data sets that are folders). */
int kp_picker_key(kp_picker *p, kp_action a, int ch, int is_key, char *out, size_t out_len);
void kp_picker_draw(kp_picker *p, kp_rect r);
/* Row click inside the drawn rect: selects (and on a second click on the same row, opens). */
int kp_picker_click(kp_picker *p, kp_rect r, int row, char *out, size_t out_len);

/* ---- modal form: labelled text fields with help lines ---- */
#define KP_FORM_MAX 16
typedef struct kp_form {
    char title[128];
    int n;
    char label[KP_FORM_MAX][48];
    char help[KP_FORM_MAX][160];
    kp_field val[KP_FORM_MAX];
    int sel;
    char err[512]; /* shown at the bottom: validation failures */
    int tag;       /* what the form edits (the owner's choice) */
} kp_form;
enum { KP_FORM_OPEN = 0, KP_FORM_SUBMIT = 1, KP_FORM_CANCEL = 2 };
void kp_form_init(kp_form *f, const char *title, int tag);
int kp_form_add(kp_form *f, const char *label, const char *value, const char *help);
int kp_form_key(kp_form *f, kp_action a, int ch, int is_key);
void kp_form_draw(kp_form *f, int rows, int cols);

/* A centred box with a title and text lines (wrapped); returns the box. */
kp_rect kp_dialog_draw(int rows, int cols, const char *title, const char *text, kp_role role);

#endif
