/* Widgets. Everything draws through kp_put so text is clipped by display columns and never
 * wraps onto the next line by accident. */
#include "tui/widgets.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <wchar.h>

static const kp_glyphs *glyphs;

void kp_widgets_init(const kp_term *t) {
    glyphs = t->g;
}
const kp_glyphs *kp_g(void) {
    return glyphs;
}

/* Bytes of s that fit in w columns; *cols receives the columns used. */
static size_t fit_bytes(const char *s, int w, int *cols) {
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t i = 0, len = strlen(s);
    int c = 0;
    while (i < len) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s + i, len - i, &st);
        int cw;
        if (k == (size_t)-1 || k == (size_t)-2) {
            k = 1; /* invalid byte: curses shows it as one cell-ish escape; count 1 */
            cw = 1;
            memset(&st, 0, sizeof st);
        } else {
            if (k == 0) break;
            cw = wcwidth(wc);
            if (cw < 0) cw = 1;
        }
        if (c + cw > w) break;
        c += cw;
        i += k;
    }
    *cols = c;
    return i;
}

int kp_text_width(const char *s) {
    int c;
    fit_bytes(s, 1 << 30, &c);
    return c;
}

/* 1 when s has something other than spaces (a clipped row padded with spaces is not cut). */
static int has_text(const char *s) {
    for (; *s; s++)
        if (*s != ' ') return 1;
    return 0;
}

static int put_clipped(int y, int x, int w, kp_role role, const char *s);

/* Text that does not fit ends with the ellipsis glyph, so a cut is never mistaken for the
 * whole message ("...(estimat" read as a word). */
int kp_put(int y, int x, int w, kp_role role, const char *s) {
    if (w <= 0 || y < 0 || x < 0 || !s) return 0;
    int c;
    size_t b = fit_bytes(s, w, &c);
    if (s[b] && has_text(s + b) && glyphs) {
        int ew = kp_text_width(glyphs->ell);
        if (w > ew) {
            b = fit_bytes(s, w - ew, &c);
            while (b > 0 && s[b - 1] == ' ') b--, c--; /* "word ..." reads as "word..." */
            char tmp[1024];
            if (b >= sizeof tmp) b = sizeof tmp - 1;
            memcpy(tmp, s, b);
            tmp[b] = 0;
            c = put_clipped(y, x, w, role, tmp);
            return c + put_clipped(y, x + c, ew, role, glyphs->ell);
        }
    }
    return put_clipped(y, x, w, role, s);
}

static int put_clipped(int y, int x, int w, kp_role role, const char *s) {
    int c;
    size_t b = fit_bytes(s, w, &c);
    /* Control characters (from file names) would move the cursor: draw them as '?'. */
    char tmp[1024];
    if (b >= sizeof tmp) b = sizeof tmp - 1;
    memcpy(tmp, s, b);
    tmp[b] = 0;
    for (size_t i = 0; i < b; i++)
        if ((unsigned char)tmp[i] < 32 || tmp[i] == 127) tmp[i] = '?';
    attrset(kp_theme_attr(role));
    mvaddnstr(y, x, tmp, (int)b);
    attrset(kp_theme_attr(KP_ROLE_NORMAL));
    return c;
}

int kp_put_tail(int y, int x, int w, kp_role role, const char *s) {
    if (!s || w <= 0) return 0;
    if (kp_text_width(s) <= w) return kp_put(y, x, w, role, s);
    /* The ASCII ellipsis "~" would read as the home folder in front of a path: "..." then. */
    const char *ell = strcmp(glyphs->ell, "~") ? glyphs->ell : "...";
    int ew = kp_text_width(ell);
    while (*s && kp_text_width(s) > w - ew) {
        s++;
        while (((unsigned char)*s & 0xC0) == 0x80) s++; /* whole UTF-8 characters */
    }
    /* Start at a folder boundary when one is near ("…/runs/a.onnx", not "…a/runs/a.onnx"). */
    const char *slash = strchr(s, '/');
    if (slash && slash != s && slash - s < 12) s = slash;
    int c = kp_put(y, x, ew, role, ell);
    return c + kp_put(y, x + c, w - c, role, s);
}

int kp_putf(int y, int x, int w, kp_role role, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kp_put(y, x, w, role, buf);
}

void kp_fill(int y, int x, int w, kp_role role) {
    if (w <= 0) return;
    attrset(kp_theme_attr(role));
    mvhline(y, x, ' ', w);
    attrset(kp_theme_attr(KP_ROLE_NORMAL));
}

void kp_box(kp_rect r, kp_role role, const char *title) {
    if (r.h < 2 || r.w < 2) return;
    const kp_glyphs *g = glyphs;
    attrset(kp_theme_attr(role));
    mvaddstr(r.y, r.x, g->tl);
    for (int i = 1; i < r.w - 1; i++) addstr(g->h);
    addstr(g->tr);
    for (int j = 1; j < r.h - 1; j++) {
        mvaddstr(r.y + j, r.x, g->v);
        mvaddstr(r.y + j, r.x + r.w - 1, g->v);
    }
    mvaddstr(r.y + r.h - 1, r.x, g->bl);
    for (int i = 1; i < r.w - 1; i++) addstr(g->h);
    addstr(g->br);
    attrset(kp_theme_attr(KP_ROLE_NORMAL));
    if (title && title[0]) {
        char t[256];
        snprintf(t, sizeof t, " %s ", title);
        kp_put(r.y, r.x + 2, r.w - 4, KP_ROLE_TITLE, t);
    }
}

void kp_bar(int y, int x, int w, double frac, kp_role role) {
    if (w <= 0) return;
    if (!(frac >= 0)) frac = 0; /* NaN too */
    if (frac > 1) frac = 1;
    const kp_glyphs *g = glyphs;
    int units = (int)(frac * w * 8 + 0.5);
    int full = units / 8, part = units % 8;
    if (!g->eighths) {
        full = (int)(frac * w + 0.5);
        part = 0;
    }
    attrset(kp_theme_attr(role));
    move(y, x);
    for (int i = 0; i < full && i < w; i++) addstr(g->full);
    int used = full;
    if (part && used < w) {
        addstr(g->eighths[part - 1]);
        used++;
    }
    attrset(kp_theme_attr(KP_ROLE_BAR_EMPTY));
    for (int i = used; i < w; i++) addstr(g->empty);
    attrset(kp_theme_attr(KP_ROLE_NORMAL));
}

int kp_wrap(int y, int x, int w, int h, kp_role role, const char *text) {
    int line = 0;
    const char *p = text;
    while (*p && line < h) {
        const char *nl = strchr(p, '\n');
        size_t seg = nl ? (size_t)(nl - p) : strlen(p);
        char buf[1024];
        if (seg >= sizeof buf) seg = sizeof buf - 1;
        memcpy(buf, p, seg);
        buf[seg] = 0;
        char *q = buf;
        do {
            int c;
            size_t b = fit_bytes(q, w, &c);
            if (b < strlen(q) && line == h - 1) { /* last line: the rest ends with "…" */
                kp_put(y + line, x, w, role, q);
                line++;
                break;
            }
            if (b < strlen(q)) { /* break at the last space if there is one */
                size_t s = b;
                while (s > 0 && q[s] != ' ') s--;
                if (s > 0) b = s;
            }
            char save = q[b];
            q[b] = 0;
            kp_put(y + line, x, w, role, q);
            q[b] = save;
            q += b;
            while (*q == ' ') q++;
            line++;
        } while (*q && line < h);
        p += seg;
        if (*p == '\n') p++;
    }
    return line;
}

const char *kp_fmt_bytes(double b, char *buf) {
    if (!(b >= 0)) return snprintf(buf, 32, "-"), buf;
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) b /= 1000, i++;
    snprintf(buf, 32, i ? "%.2f %s" : "%.0f %s", b, u[i]);
    return buf;
}

const char *kp_fmt_count(double n, char *buf) {
    const char *u[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (n >= 1000 && i < 4) n /= 1000, i++;
    snprintf(buf, 32, i ? "%.2f%s" : "%.0f%s", n, u[i]);
    return buf;
}

const char *kp_fmt_ms(double ms, char *buf) {
    if (!(ms >= 0))
        snprintf(buf, 32, "-");
    else if (ms < 0.1) /* "9.2 us", not "9 us": the change must be readable from the values */
        snprintf(buf, 32, "%.1f us", ms * 1000);
    else if (ms < 1)
        snprintf(buf, 32, "%.0f us", ms * 1000);
    else if (ms < 1000)
        snprintf(buf, 32, "%.2f ms", ms);
    else
        snprintf(buf, 32, "%.2f s", ms / 1000);
    return buf;
}

/* ---- list ---- */

int kp_list_key(kp_list *l, kp_action a, int page) {
    if (page < 1) page = 1;
    switch (a) {
    case KP_ACT_UP: l->sel--; break;
    case KP_ACT_DOWN: l->sel++; break;
    case KP_ACT_PGUP: l->sel -= page; break;
    case KP_ACT_PGDN: l->sel += page; break;
    case KP_ACT_HOME: l->sel = 0; break;
    case KP_ACT_END: l->sel = l->n - 1; break;
    default: return 0;
    }
    if (l->sel >= l->n) l->sel = l->n - 1;
    if (l->sel < 0) l->sel = 0;
    return 1;
}

void kp_list_fit(kp_list *l, int h) {
    if (l->sel >= l->n) l->sel = l->n - 1;
    if (l->sel < 0) l->sel = 0;
    if (h < 1) h = 1;
    if (l->sel < l->top) l->top = l->sel;
    if (l->sel >= l->top + h) l->top = l->sel - h + 1;
    if (l->top > l->n - h) l->top = l->n - h;
    if (l->top < 0) l->top = 0;
}

/* ---- field ---- */

void kp_field_set(kp_field *f, const char *s) {
    snprintf(f->buf, sizeof f->buf, "%s", s ? s : "");
    f->len = strlen(f->buf);
}

int kp_field_key(kp_field *f, int ch, int is_key, kp_action a) {
    if (a == KP_ACT_BACKSPACE) {
        if (!f->len) return 0;
        /* Remove one UTF-8 character. */
        do f->len--;
        while (f->len && ((unsigned char)f->buf[f->len] & 0xC0) == 0x80);
        f->buf[f->len] = 0;
        return 1;
    }
    if (is_key || ch < 32 || ch == 127) return 0;
    char mb[MB_LEN_MAX];
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t k = wcrtomb(mb, (wchar_t)ch, &st);
    if (k == (size_t)-1 || f->len + k >= sizeof f->buf) return 0;
    memcpy(f->buf + f->len, mb, k);
    f->len += k;
    f->buf[f->len] = 0;
    return 1;
}

/* ---- picker ---- */

static void picker_clear(kp_picker *p) {
    for (size_t i = 0; i < p->n_all; i++) free(p->all[i].name);
    free(p->all);
    free(p->shown);
    p->all = NULL;
    p->shown = NULL;
    p->n_all = p->n_shown = 0;
}

void kp_picker_free(kp_picker *p) {
    picker_clear(p);
}

static int ext_ok(const kp_picker *p, const char *name) {
    if (!p->exts) return 1;
    size_t l = strlen(name);
    for (const char *const *e = p->exts; *e; e++) {
        size_t el = strlen(*e);
        if (l >= el && !strcasecmp(name + l - el, *e)) return 1;
    }
    return 0;
}

static int entry_cmp(const void *a, const void *b) {
    const kp_pick_entry *x = a, *y = b;
    if (!strcmp(x->name, ".")) return -1;
    if (!strcmp(y->name, ".")) return 1;
    if (!strcmp(x->name, "..")) return -1;
    if (!strcmp(y->name, "..")) return 1;
    if (x->is_dir != y->is_dir) return y->is_dir - x->is_dir;
    return strcmp(x->name, y->name);
}

/* A filter starting with '/' or '~' is a path typed by hand, not a name filter. */
static int typed_path(const kp_picker *p) {
    return p->filter.buf[0] == '/' || p->filter.buf[0] == '~';
}

static void picker_refilter(kp_picker *p) {
    p->n_shown = 0;
    for (size_t i = 0; i < p->n_all; i++) {
        const char *f = typed_path(p) ? "" : p->filter.buf;
        const char *nm = p->all[i].name;
        if (f[0] && strcmp(nm, "..") && strcmp(nm, ".") && !strcasestr(nm, f)) continue;
        p->shown[p->n_shown++] = i;
    }
    p->list.n = (int)p->n_shown;
    if (p->list.sel >= p->list.n) p->list.sel = p->list.n - 1;
    if (p->list.sel < 0) p->list.sel = 0;
}

void kp_picker_open(kp_picker *p, const char *dir, const char *const *exts) {
    picker_clear(p);
    p->exts = exts;
    p->err[0] = 0;
    kp_field_set(&p->filter, "");
    p->list = (kp_list){0, 0, 0};
    char path[4096];
    if (!realpath(dir && dir[0] ? dir : ".", path)) {
        snprintf(p->err, sizeof p->err, "%s: %s", dir, strerror(errno));
        if (!realpath(".", path)) snprintf(path, sizeof path, "/");
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(p->err, sizeof p->err, "cannot open folder %s: %s", path, strerror(errno));
        snprintf(p->dir, sizeof p->dir, "%s", path);
        return;
    }
    snprintf(p->dir, sizeof p->dir, "%s", path);
    size_t cap = 64;
    p->all = malloc(cap * sizeof *p->all);
    struct dirent *de;
    while (p->all && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") && !p->dirs_ok) continue;
        if (!strcmp(de->d_name, "..") && !strcmp(path, "/")) continue;
        if (de->d_name[0] == '.' && strcmp(de->d_name, "..")) continue; /* hidden */
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        struct stat st;
        if (stat(full, &st)) continue;
        int isd = S_ISDIR(st.st_mode);
        if (!isd && !ext_ok(p, de->d_name)) continue;
        if (p->n_all == cap) {
            kp_pick_entry *n = realloc(p->all, cap * 2 * sizeof *n);
            if (!n) break;
            p->all = n;
            cap *= 2;
        }
        char *nm = strdup(de->d_name);
        if (!nm) break;
        p->all[p->n_all++] = (kp_pick_entry){nm, isd, (long long)st.st_size};
    }
    closedir(d);
    if (p->n_all) qsort(p->all, p->n_all, sizeof *p->all, entry_cmp);
    p->shown = malloc((p->n_all + 1) * sizeof *p->shown);
    if (!p->all || !p->shown) {
        snprintf(p->err, sizeof p->err, "out of memory listing %s", path);
        picker_clear(p);
        return;
    }
    picker_refilter(p);
}

static int picker_activate(kp_picker *p, char *out, size_t out_len) {
    if (!p->n_shown) return 0;
    const kp_pick_entry *e = &p->all[p->shown[p->list.sel]];
    if (!strcmp(e->name, ".")) {
        snprintf(out, out_len, "%s", p->dir);
        return 1;
    }
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", strcmp(p->dir, "/") ? p->dir : "", e->name);
    if (e->is_dir) {
        char prev[4096];
        snprintf(prev, sizeof prev, "%s", p->dir);
        kp_picker_open(p, full, p->exts);
        if (!strcmp(e->name, "..")) { /* land on the folder we came from */
            const char *base = strrchr(prev, '/');
            base = base ? base + 1 : prev;
            for (size_t i = 0; i < p->n_shown; i++)
                if (!strcmp(p->all[p->shown[i]].name, base)) p->list.sel = (int)i;
        }
        return 0;
    }
    snprintf(out, out_len, "%s", full);
    return 1;
}

static int open_typed(kp_picker *p, char *out, size_t out_len) {
    char path[8192];
    const char *home = getenv("HOME");
    if (p->filter.buf[0] == '~')
        snprintf(path, sizeof path, "%s%s", home ? home : "", p->filter.buf + 1);
    else
        snprintf(path, sizeof path, "%s", p->filter.buf);
    struct stat st;
    if (stat(path, &st)) {
        snprintf(p->err, sizeof p->err, "%s: %s", path, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        kp_picker_open(p, path, p->exts);
        return 0;
    }
    if (!ext_ok(p, path)) {
        snprintf(p->err, sizeof p->err, "%s: not a %s file", path, p->exts[0]);
        return 0;
    }
    snprintf(out, out_len, "%s", path);
    kp_field_set(&p->filter, "");
    return 1;
}

int kp_picker_key(kp_picker *p, kp_action a, int ch, int is_key, char *out, size_t out_len) {
    if (a == KP_ACT_ENTER && typed_path(p)) return open_typed(p, out, out_len);
    if (kp_list_key(&p->list, a, 10)) return 0;
    if (a == KP_ACT_ENTER || a == KP_ACT_RIGHT) return picker_activate(p, out, out_len);
    if (a == KP_ACT_LEFT || (a == KP_ACT_BACKSPACE && !p->filter.len)) {
        char up[8192];
        snprintf(up, sizeof up, "%s/..", p->dir);
        char prev[4096];
        snprintf(prev, sizeof prev, "%s", p->dir);
        kp_picker_open(p, up, p->exts);
        const char *base = strrchr(prev, '/');
        base = base ? base + 1 : prev;
        for (size_t i = 0; i < p->n_shown; i++)
            if (!strcmp(p->all[p->shown[i]].name, base)) p->list.sel = (int)i;
        return 0;
    }
    if (a == KP_ACT_BACK && p->filter.len) {
        kp_field_set(&p->filter, "");
        picker_refilter(p);
        return 0;
    }
    if (a == KP_ACT_NONE || a == KP_ACT_BACKSPACE) {
        if (kp_field_key(&p->filter, ch, is_key, a)) {
            p->err[0] = 0;
            picker_refilter(p);
            p->list.sel = 0;
            /* With exactly one match beyond "..", select it so Enter takes it. */
            size_t skip = 0;
            while (skip < p->n_shown && p->all[p->shown[skip]].name[0] == '.' &&
                   (!strcmp(p->all[p->shown[skip]].name, ".") ||
                    !strcmp(p->all[p->shown[skip]].name, "..")))
                skip++;
            if (p->n_shown == skip + 1) p->list.sel = (int)skip;
            return 0;
        }
    }
    return KP_UNHANDLED;
}

void kp_picker_draw(kp_picker *p, kp_rect r) {
    char sz[32];
    kp_putf(r.y, r.x, r.w, KP_ROLE_MUTED, "%s", p->dir);
    if (typed_path(p))
        kp_putf(r.y + 1, r.x, r.w, KP_ROLE_WARN, "path: %s_  (Enter opens, Esc clears)",
                p->filter.buf);
    else if (p->filter.len)
        kp_putf(r.y + 1, r.x, r.w, KP_ROLE_WARN, "filter: %s_  (Esc clears)", p->filter.buf);
    else
        kp_put(r.y + 1, r.x, r.w, KP_ROLE_MUTED,
               "type to filter, / or ~ for a path; Enter opens; Left: up");
    int h = r.h - 2 - (p->err[0] ? 1 : 0);
    if (h < 1) return;
    kp_list_fit(&p->list, h);
    for (int i = 0; i < h && p->list.top + i < p->list.n; i++) {
        const kp_pick_entry *e = &p->all[p->shown[p->list.top + i]];
        int sel = p->list.top + i == p->list.sel;
        kp_role role = sel ? KP_ROLE_SELECTED : e->is_dir ? KP_ROLE_TITLE : KP_ROLE_NORMAL;
        int y = r.y + 2 + i;
        if (sel) kp_fill(y, r.x, r.w, role);
        char name[600];
        snprintf(name, sizeof name, "%s%s", e->name,
                 !strcmp(e->name, ".") ? "/  (use this folder)"
                 : e->is_dir           ? "/"
                                       : "");
        kp_put(y, r.x + 1, r.w - 12, role, name);
        if (!e->is_dir)
            kp_putf(y, r.x + r.w - 10, 10, role, "%10s", kp_fmt_bytes((double)e->size, sz));
    }
    if (!p->list.n)
        kp_put(r.y + 2, r.x + 1, r.w - 1, KP_ROLE_MUTED,
               p->filter.len ? "nothing matches the filter" : "no matching files here");
    if (p->err[0]) kp_put(r.y + r.h - 1, r.x, r.w, KP_ROLE_BAD, p->err);
}

int kp_picker_click(kp_picker *p, kp_rect r, int row, char *out, size_t out_len) {
    int idx = p->list.top + row - 2;
    if (row < 2 || idx >= p->list.n || idx < 0) return 0;
    if (idx == p->list.sel) return picker_activate(p, out, out_len);
    p->list.sel = idx;
    return 0;
}

/* ---- form ---- */

void kp_form_init(kp_form *f, const char *title, int tag) {
    memset(f, 0, sizeof *f);
    snprintf(f->title, sizeof f->title, "%s", title);
    f->tag = tag;
}

int kp_form_add(kp_form *f, const char *label, const char *value, const char *help) {
    if (f->n >= KP_FORM_MAX) return -1;
    snprintf(f->label[f->n], sizeof f->label[0], "%s", label);
    snprintf(f->help[f->n], sizeof f->help[0], "%s", help ? help : "");
    kp_field_set(&f->val[f->n], value);
    return f->n++;
}

int kp_form_key(kp_form *f, kp_action a, int ch, int is_key) {
    if (a == KP_ACT_BACK) return KP_FORM_CANCEL;
    if (a == KP_ACT_ENTER) return KP_FORM_SUBMIT;
    if (a == KP_ACT_UP || a == KP_ACT_PREV_STEP)
        f->sel = f->sel > 0 ? f->sel - 1 : f->n - 1;
    else if (a == KP_ACT_DOWN || a == KP_ACT_NEXT_STEP)
        f->sel = f->n ? (f->sel + 1) % f->n : 0;
    else if (f->n && kp_field_key(&f->val[f->sel], ch, is_key, a))
        f->err[0] = 0;
    return KP_FORM_OPEN;
}

void kp_form_draw(kp_form *f, int rows, int cols) {
    int w = cols - 8 < 70 ? cols - 8 : 70;
    int h = f->n + 6 + (f->err[0] ? 2 : 0);
    if (h > rows - 2) h = rows - 2;
    kp_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int j = 0; j < r.h; j++) kp_fill(r.y + j, r.x, r.w, KP_ROLE_NORMAL);
    kp_box(r, KP_ROLE_BORDER, f->title);
    int lw = 0;
    for (int i = 0; i < f->n; i++) {
        int l = kp_text_width(f->label[i]);
        if (l > lw) lw = l;
    }
    if (lw > w / 2) lw = w / 2;
    int vis = r.h - 6 - (f->err[0] ? 2 : 0);
    int top = f->sel >= vis ? f->sel - vis + 1 : 0;
    for (int i = 0; i < vis && top + i < f->n; i++) {
        int k = top + i, y = r.y + 1 + i;
        int sel = k == f->sel;
        kp_put(y, r.x + 2, lw, sel ? KP_ROLE_TITLE : KP_ROLE_NORMAL, f->label[k]);
        int vx = r.x + 3 + lw, vw = r.w - lw - 5;
        kp_fill(y, vx, vw, sel ? KP_ROLE_SELECTED : KP_ROLE_MUTED);
        /* Show the end of long values, so typing stays visible. */
        const char *v = f->val[k].buf;
        while (kp_text_width(v) > vw - 1) v++;
        kp_putf(y, vx, vw, sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL, "%s%s", v, sel ? "_" : "");
    }
    int y = r.y + r.h - 5 - (f->err[0] ? 2 : 0);
    if (f->n) kp_wrap(y + 1, r.x + 2, r.w - 4, 2, KP_ROLE_MUTED, f->help[f->sel]);
    if (f->err[0]) kp_wrap(y + 3, r.x + 2, r.w - 4, 2, KP_ROLE_BAD, f->err);
    kp_put(r.y + r.h - 2, r.x + 2, r.w - 4, KP_ROLE_KEY,
           "Enter save   Esc cancel   Up/Down/Tab move   type to edit");
}

kp_rect kp_dialog_draw(int rows, int cols, const char *title, const char *text, kp_role role) {
    int w = cols - 8 < 64 ? cols - 8 : 64;
    int tw = kp_text_width(text);
    int lines = tw / (w - 4) + 2;
    for (const char *c = text; *c; c++) lines += *c == '\n';
    int h = lines + 3;
    if (h > rows - 2) h = rows - 2;
    kp_rect r = {(rows - h) / 2, (cols - w) / 2, h, w};
    for (int j = 0; j < r.h; j++) kp_fill(r.y + j, r.x, r.w, KP_ROLE_NORMAL);
    kp_box(r, role == KP_ROLE_BAD ? KP_ROLE_BAD : KP_ROLE_BORDER, title);
    kp_wrap(r.y + 1, r.x + 2, r.w - 4, r.h - 2, role, text);
    return r;
}

const char *kp_fmt_change(double v, int decimals, const char *suffix, char *buf) {
    if (decimals < 0) decimals = 0;
    if (decimals > 6) decimals = 6;
    if (v != v) return snprintf(buf, 32, "n/a"), buf;
    double half = 0.5;
    for (int i = 0; i < decimals; i++) half /= 10;
    if (v < half && v > -half)
        snprintf(buf, 32, "%.*f%s", decimals, 0.0, suffix);
    else
        snprintf(buf, 32, "%+.*f%s", decimals, v, suffix);
    return buf;
}

const char *kp_pm(void) {
    return glyphs && ((unsigned char)glyphs->ell[0] & 0x80) ? "±" : "+/-";
}
