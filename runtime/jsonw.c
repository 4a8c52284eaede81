/* See jsonw.h. The writer only tracks whether the innermost container has an item yet, which
 * is all that placing commas and indentation needs. */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

void jsonw_init(struct jsonw *w, bool pretty) {
  *w = (struct jsonw){.pretty = pretty, .first = true};
}

/* Room for n more bytes and a terminating NUL. */
static void grow(struct jsonw *w, size_t n) {
  if (w->len + n + 1 <= w->cap)
    return;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < w->len + n + 1)
    cap *= 2;
  w->buf = xrealloc(w->buf, cap);
  w->cap = cap;
}

static void put(struct jsonw *w, const void *s, size_t n) {
  grow(w, n);
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void put_char(struct jsonw *w, char c) {
  put(w, &c, 1);
}

static void newline_indent(struct jsonw *w) {
  put_char(w, '\n');
  for (int i = 0; i < w->depth; i++)
    put(w, "  ", 2);
}

/* The comma and indentation before an item of the innermost container; nothing before a
 * member's value, whose key already placed them. */
static void begin_value(struct jsonw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->depth > 0) {
    if (!w->first)
      put_char(w, ',');
    if (w->pretty)
      newline_indent(w);
  }
  w->first = false;
}

static void open_container(struct jsonw *w, char c) {
  begin_value(w);
  put_char(w, c);
  w->depth++;
  w->first = true;
}

/* An empty container stays on one line: {} and []. */
static void close_container(struct jsonw *w, char c) {
  if (w->depth > 0)
    w->depth--;
  if (w->pretty && !w->first)
    newline_indent(w);
  put_char(w, c);
  w->first = false;
}

void jsonw_obj_open(struct jsonw *w) {
  open_container(w, '{');
}

void jsonw_obj_close(struct jsonw *w) {
  close_container(w, '}');
}

void jsonw_arr_open(struct jsonw *w) {
  open_container(w, '[');
}

void jsonw_arr_close(struct jsonw *w) {
  close_container(w, ']');
}

static void put_escape(struct jsonw *w, unsigned char c) {
  static const char short_forms[][3] = {
      ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
      ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
  };
  if (c < ARRAY_SIZE(short_forms) && short_forms[c][0]) {
    put(w, short_forms[c], 2);
    return;
  }
  char u[8];
  snprintf(u, sizeof(u), "\\u%04x", c);
  put(w, u, 6);
}

static void put_string(struct jsonw *w, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  put_char(w, '"');
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    put(w, run, (size_t)(p - run));
    if (p == end)
      break;
    if (*p < 0x80) {
      put_escape(w, *p++);
      continue;
    }
    size_t k = json_utf8_len(p, end);
    if (k > 0) {
      put(w, p, k);
      p += k;
    } else {
      put(w, "\xef\xbf\xbd", 3); /* U+FFFD for each byte that is not UTF-8 */
      p++;
    }
  }
  put_char(w, '"');
}

void jsonw_key(struct jsonw *w, const char *key) {
  begin_value(w);
  put_string(w, key, strlen(key));
  put(w, ": ", w->pretty ? 2 : 1);
  w->after_key = true;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t len) {
  begin_value(w);
  put_string(w, s, len);
}

void jsonw_str(struct jsonw *w, const char *s) {
  if (s == NULL)
    jsonw_null(w);
  else
    jsonw_strn(w, s, strlen(s));
}

static void put_word(struct jsonw *w, const char *word) {
  begin_value(w);
  put(w, word, strlen(word));
}

void jsonw_i64(struct jsonw *w, int64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%" PRId64, v);
  put_word(w, num);
}

void jsonw_u64(struct jsonw *w, uint64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%" PRIu64, v);
  put_word(w, num);
}

void jsonw_bool(struct jsonw *w, bool v) {
  put_word(w, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w) {
  put_word(w, "null");
}

void jsonw_kv_str(struct jsonw *w, const char *key, const char *s) {
  jsonw_key(w, key);
  jsonw_str(w, s);
}

void jsonw_kv_i64(struct jsonw *w, const char *key, int64_t v) {
  jsonw_key(w, key);
  jsonw_i64(w, v);
}

void jsonw_kv_u64(struct jsonw *w, const char *key, uint64_t v) {
  jsonw_key(w, key);
  jsonw_u64(w, v);
}

void jsonw_kv_bool(struct jsonw *w, const char *key, bool v) {
  jsonw_key(w, key);
  jsonw_bool(w, v);
}

void jsonw_kv_strv(struct jsonw *w, const char *key, char **v) {
  jsonw_key(w, key);
  jsonw_arr_open(w);
  for (size_t i = 0; v && v[i]; i++)
    jsonw_str(w, v[i]);
  jsonw_arr_close(w);
}

char *jsonw_finish(struct jsonw *w) {
  if (w->pretty)
    put_char(w, '\n');
  grow(w, 0);
  w->buf[w->len] = '\0';
  w->len = w->cap = 0;
  return steal_pointer(&w->buf);
}

void jsonw_free(struct jsonw *w) {
  free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
}
