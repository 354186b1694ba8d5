/* Theme files, colour pairs and the remembered theme choice. */
#define NCURSES_WIDECHAR 1
#include "tui/theme.h"

#include <ctype.h>
#include <curses.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const role_names[] = {
    [KP_ROLE_NORMAL] = "normal",       [KP_ROLE_TITLE] = "title",
    [KP_ROLE_SELECTED] = "selected",   [KP_ROLE_OK] = "ok",
    [KP_ROLE_WARN] = "warn",           [KP_ROLE_BAD] = "bad",
    [KP_ROLE_MUTED] = "muted",         [KP_ROLE_BAR] = "bar",
    [KP_ROLE_BAR_EMPTY] = "bar-empty", [KP_ROLE_BORDER] = "border",
    [KP_ROLE_HINT] = "hint",           [KP_ROLE_KEY] = "key",
    [KP_ROLE_STATUS] = "status",       [KP_ROLE_STEP_CUR] = "step-current",
    [KP_ROLE_STEP_DONE] = "step-done",
};
_Static_assert(sizeof role_names / sizeof *role_names == KP_ROLE_COUNT, "role names");

const char *kp_role_name(kp_role r) {
    return r < KP_ROLE_COUNT ? role_names[r] : "?";
}

void kp_theme_mono(kp_theme *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "monochrome");
    for (int i = 0; i < KP_ROLE_COUNT; i++) t->roles[i] = (kp_style){-1, -1, 0};
    t->roles[KP_ROLE_TITLE].attrs = KP_A_BOLD;
    t->roles[KP_ROLE_SELECTED].attrs = KP_A_REVERSE;
    t->roles[KP_ROLE_OK].attrs = KP_A_BOLD;
    t->roles[KP_ROLE_BAD].attrs = KP_A_BOLD | KP_A_UNDERLINE;
    t->roles[KP_ROLE_WARN].attrs = KP_A_UNDERLINE;
    t->roles[KP_ROLE_MUTED].attrs = KP_A_DIM;
    t->roles[KP_ROLE_HINT].attrs = KP_A_REVERSE;
    t->roles[KP_ROLE_KEY].attrs = KP_A_BOLD;
    t->roles[KP_ROLE_STEP_CUR].attrs = KP_A_REVERSE | KP_A_BOLD;
    t->roles[KP_ROLE_STEP_DONE].attrs = KP_A_BOLD;
}

static int parse_color(const char *s, short *out) {
    static const char *const names[] = {"black", "red",     "green", "yellow",
                                        "blue",  "magenta", "cyan",  "white"};
    if (!strcmp(s, "default")) return *out = -1, 0;
    int bright = 0;
    if (!strncmp(s, "bright-", 7)) bright = 8, s += 7;
    for (int i = 0; i < 8; i++)
        if (!strcmp(s, names[i])) return *out = (short)(i + bright), 0;
    if (bright) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 255) return -1;
    *out = (short)v;
    return 0;
}

int kp_theme_parse(const char *text, const char *name, kp_theme *t, char *msg, size_t msg_len) {
    kp_theme_mono(t);
    snprintf(t->name, sizeof t->name, "%s", name);
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[256];
        if (len >= sizeof buf) {
            snprintf(msg, msg_len, "theme %s line %d: line too long", name, line);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        p += len + (e ? 1 : 0);
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *tok[8];
        int nt = 0;
        for (char *s = strtok(buf, " \t\r"); s && nt < 8; s = strtok(NULL, " \t\r")) tok[nt++] = s;
        if (!nt) continue;
        if (!strcmp(tok[0], "name")) continue; /* "name = x": informative only */
        int role = -1;
        for (int i = 0; i < KP_ROLE_COUNT; i++)
            if (!strcmp(tok[0], role_names[i])) role = i;
        if (role < 0) {
            snprintf(msg, msg_len, "theme %s line %d: unknown role '%s'", name, line, tok[0]);
            return -1;
        }
        if (nt < 3) {
            snprintf(msg, msg_len, "theme %s line %d: expected '%s FG BG [attrs]'", name, line,
                     tok[0]);
            return -1;
        }
        kp_style st = {-1, -1, 0};
        if (parse_color(tok[1], &st.fg) || parse_color(tok[2], &st.bg)) {
            snprintf(msg, msg_len,
                     "theme %s line %d: unknown colour (use default, black..white, "
                     "bright-NAME or 0..255)",
                     name, line);
            return -1;
        }
        for (int i = 3; i < nt; i++) {
            if (!strcmp(tok[i], "bold"))
                st.attrs |= KP_A_BOLD;
            else if (!strcmp(tok[i], "underline"))
                st.attrs |= KP_A_UNDERLINE;
            else if (!strcmp(tok[i], "reverse"))
                st.attrs |= KP_A_REVERSE;
            else if (!strcmp(tok[i], "dim"))
                st.attrs |= KP_A_DIM;
            else {
                snprintf(msg, msg_len, "theme %s line %d: unknown attribute '%s'", name, line,
                         tok[i]);
                return -1;
            }
        }
        t->roles[role] = st;
    }
    return 0;
}

static int is_dir(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

const char *kp_theme_dir(void) {
    static char dir[1024];
    const char *env = getenv("KOMPRESS_THEMES");
    if (env && is_dir(env)) return snprintf(dir, sizeof dir, "%s", env), dir;
    char exe[900];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(dir, sizeof dir, "%s/../themes", exe);
            if (is_dir(dir)) return dir;
            snprintf(dir, sizeof dir, "%s/../share/kompress/themes", exe);
            if (is_dir(dir)) return dir;
        }
    }
    if (is_dir("themes")) return snprintf(dir, sizeof dir, "themes"), dir;
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kp_theme_list(char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    const char *d = kp_theme_dir();
    DIR *dp = d ? opendir(d) : NULL;
    if (!dp) return -1;
    struct dirent *de;
    size_t cap = 0;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l <= 6 || strcmp(de->d_name + l - 6, ".theme")) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = realloc(*names, cap * sizeof *nv);
            if (!nv) break;
            *names = nv;
        }
        char *s = strndup(de->d_name, l - 6);
        if (!s) break;
        (*names)[(*n)++] = s;
    }
    closedir(dp);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return 0;
}

void kp_theme_list_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int kp_theme_load(const char *name, kp_theme *t, char *msg, size_t msg_len) {
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
            snprintf(msg, msg_len, "theme name '%s' may only hold letters, digits, - and _", name);
            return -1;
        }
    const char *d = kp_theme_dir();
    if (!d) {
        snprintf(msg, msg_len, "no themes folder found (set KOMPRESS_THEMES); using monochrome");
        return -1;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.theme", d, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msg_len, "theme '%s' not found in %s", name, d);
        return -1;
    }
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    int big = !feof(f);
    fclose(f);
    if (big) {
        snprintf(msg, msg_len, "theme file %s is larger than 8 KiB", path);
        return -1;
    }
    text[len] = 0;
    return kp_theme_parse(text, name, t, msg, msg_len);
}

static int role_attr[KP_ROLE_COUNT];

/* On 8-colour terminals bright colours fold to their base colour; grey (8) becomes white so
 * muted text never turns black-on-black. */
static short fold_color(short c) {
    if (c < COLORS) return c;
    if (c == 8) return COLOR_WHITE;
    return (short)(c % 8);
}

void kp_theme_apply(const kp_theme *t, int colors) {
    for (int i = 0; i < KP_ROLE_COUNT; i++) {
        const kp_style *s = &t->roles[i];
        int a = 0;
        if (s->attrs & KP_A_BOLD) a |= A_BOLD;
        if (s->attrs & KP_A_UNDERLINE) a |= A_UNDERLINE;
        if (s->attrs & KP_A_REVERSE) a |= A_REVERSE;
        if (s->attrs & KP_A_DIM) a |= A_DIM;
        if (colors) {
            short fg = fold_color(s->fg), bg = fold_color(s->bg);
            init_pair((short)(i + 1), fg, bg);
            a |= (int)COLOR_PAIR(i + 1);
        }
        role_attr[i] = a;
    }
    if (colors) bkgdset((chtype)' ' | (chtype)role_attr[KP_ROLE_NORMAL]);
}

int kp_theme_attr(kp_role r) {
    return r < KP_ROLE_COUNT ? role_attr[r] : 0;
}

static int config_dir(char *out, size_t len) {
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && x[0] == '/') return snprintf(out, len, "%s/kompress", x), 0;
    const char *h = getenv("HOME");
    if (!h || !h[0]) return -1;
    snprintf(out, len, "%s/.config/kompress", h);
    return 0;
}

void kp_theme_saved(char *name, size_t len) {
    name[0] = 0;
    char dir[900], path[1000];
    if (config_dir(dir, sizeof dir)) return;
    snprintf(path, sizeof path, "%s/tui.conf", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char v[64];
        if (sscanf(line, " theme = %63s", v) == 1) snprintf(name, len, "%s", v);
    }
    fclose(f);
}

static int mkdirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

int kp_theme_remember(const char *name, char *msg, size_t msg_len) {
    char dir[900], path[1000], tmp[1100];
    if (config_dir(dir, sizeof dir)) {
        snprintf(msg, msg_len, "cannot remember the theme: neither XDG_CONFIG_HOME nor HOME set");
        return -1;
    }
    if (mkdirs(dir)) {
        snprintf(msg, msg_len, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/tui.conf", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(msg, msg_len, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    char buf[128];
    int len = snprintf(buf, sizeof buf, "# kompress terminal app settings\ntheme = %s\n", name);
    int ok = write(fd, buf, (size_t)len) == len && !fsync(fd);
    ok = !close(fd) && ok;
    if (!ok || rename(tmp, path)) {
        snprintf(msg, msg_len, "cannot save %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
