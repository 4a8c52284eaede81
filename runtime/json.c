/* See json.h. A recursive-descent parser bounded by JSON_MAX_DEPTH; every error names the
 * place (line, column, byte) where the text stopped making sense. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct parser {
  const char *start, *p, *end;
  const char *line_start;
  unsigned line;
  int depth;
  nsbox_error_t *err;
};

static int fail_at(struct parser *x, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct parser *x, const char *at, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return nsbox_fail(x->err, 0, "line %u, column %zu (byte %zu): %s", x->line,
                    (size_t)(at - x->line_start) + 1, (size_t)(at - x->start), what);
}

/* What stands at p, for "expected X, found Y". */
static const char *found(const struct parser *x) {
  static char buf[24];
  if (x->p >= x->end)
    return "the end of the text";
  unsigned char c = (unsigned char)*x->p;
  if (c >= 0x20 && c < 0x7f)
    snprintf(buf, sizeof(buf), "'%c'", c);
  else
    snprintf(buf, sizeof(buf), "byte 0x%02x", c);
  return buf;
}

static void skip_ws(struct parser *x) {
  while (x->p < x->end) {
    char c = *x->p;
    if (c == '\n') {
      x->line++;
      x->line_start = x->p + 1;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return;
    }
    x->p++;
  }
}

static bool literal(struct parser *x, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(x->end - x->p) < n || memcmp(x->p, word, n) != 0)
    return false;
  x->p += n;
  return true;
}

/* A growing byte buffer for strings. */
struct buf {
  char *s;
  size_t len, cap;
};

static void buf_add(struct buf *b, const char *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap)
      b->cap = b->cap ? b->cap * 2 : 32;
    b->s = xrealloc(b->s, b->cap);
  }
  memcpy(b->s + b->len, data, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void buf_add_utf8(struct buf *b, uint32_t cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  buf_add(b, u, n);
}

size_t json_utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

static int hex4(struct parser *x, const char *at, uint32_t *out) {
  if (x->end - at < 4)
    return fail_at(x, at, "a \\u escape needs four hex digits");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = at[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return fail_at(x, at + i, "a \\u escape needs four hex digits");
    v = v << 4 | (uint32_t)d;
  }
  *out = v;
  return 0;
}

/* At the opening quote. Fills s (malloc'd) and len. */
static int parse_string(struct parser *x, char **s, size_t *len) {
  struct buf b = {0};
  buf_add(&b, "", 0);
  x->p++;
  for (;;) {
    if (x->p >= x->end) {
      free(b.s);
      return fail_at(x, x->p, "a string is not closed");
    }
    unsigned char c = (unsigned char)*x->p;
    if (c == '"') {
      x->p++;
      break;
    }
    if (c < 0x20) {
      free(b.s);
      return fail_at(x, x->p, "a control character (0x%02x) in a string must be escaped", c);
    }
    if (c >= 0x80) {
      size_t n = json_utf8_len((const unsigned char *)x->p, (const unsigned char *)x->end);
      if (n == 0) {
        free(b.s);
        return fail_at(x, x->p, "invalid UTF-8 in a string");
      }
      buf_add(&b, x->p, n);
      x->p += n;
      continue;
    }
    if (c != '\\') {
      const char *run = x->p;
      while (x->p < x->end && *x->p != '"' && *x->p != '\\' && (unsigned char)*x->p >= 0x20 &&
             (unsigned char)*x->p < 0x80)
        x->p++;
      buf_add(&b, run, (size_t)(x->p - run));
      continue;
    }
    const char *esc = x->p;
    if (x->end - x->p < 2) {
      free(b.s);
      return fail_at(x, esc, "a string is not closed");
    }
    char e = x->p[1];
    x->p += 2;
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    const char *simple = e != '\0' ? strchr(esc_in, e) : NULL;
    if (simple != NULL) {
      buf_add(&b, &esc_out[simple - esc_in], 1);
      continue;
    }
    if (e != 'u') {
      free(b.s);
      return fail_at(x, esc, "unknown escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
    }
    uint32_t cp;
    if (hex4(x, x->p, &cp) < 0) {
      free(b.s);
      return -1;
    }
    x->p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff) {
      free(b.s);
      return fail_at(x, esc, "a \\u escape holds a lone low surrogate");
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
      uint32_t lo;
      if (x->end - x->p < 2 || x->p[0] != '\\' || x->p[1] != 'u' || hex4(x, x->p + 2, &lo) < 0 ||
          lo < 0xdc00 || lo > 0xdfff) {
        free(b.s);
        return fail_at(x, esc, "a high surrogate must be followed by a \\u low surrogate");
      }
      x->p += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    buf_add_utf8(&b, cp);
  }
  *s = b.s;
  *len = b.len;
  return 0;
}

static bool is_digit(const struct parser *x, const char *p) {
  return p < x->end && *p >= '0' && *p <= '9';
}

static int parse_number(struct parser *x, struct json_value *v) {
  const char *s = x->p, *p = x->p;
  bool negative = false, integer = true;
  if (*p == '-') {
    negative = true;
    p++;
  }
  if (!is_digit(x, p))
    return fail_at(x, p, "a number needs a digit after '-'");
  uint64_t abs = 0;
  if (*p == '0') {
    p++;
    if (is_digit(x, p))
      return fail_at(x, p, "a number may not start with 0");
  } else {
    for (; is_digit(x, p); p++) {
      unsigned d = (unsigned)(*p - '0');
      if (abs > (UINT64_MAX - d) / 10)
        integer = false; /* too large for 64 bits: still a number, just not an integer */
      else
        abs = abs * 10 + d;
    }
  }
  if (p < x->end && *p == '.') {
    integer = false;
    if (!is_digit(x, ++p))
      return fail_at(x, p, "a number needs a digit after '.'");
    while (is_digit(x, p))
      p++;
  }
  if (p < x->end && (*p == 'e' || *p == 'E')) {
    integer = false;
    p++;
    if (p < x->end && (*p == '+' || *p == '-'))
      p++;
    if (!is_digit(x, p))
      return fail_at(x, p, "a number needs a digit in its exponent");
    while (is_digit(x, p))
      p++;
  }
  cleanup_free char *text = xstrndup(s, (size_t)(p - s));
  v->type = JSON_NUMBER;
  v->u.num.d = strtod(text, NULL);
  v->u.num.abs = integer ? abs : 0;
  v->u.num.integer = integer;
  v->u.num.negative = negative;
  x->p = p;
  return 0;
}

static int parse_value(struct parser *x, struct json_value *v);

static int key_cmp(const void *a, const void *b) {
  const struct json_member *const *ma = a, *const *mb = b;
  size_t n = (*ma)->key_len < (*mb)->key_len ? (*ma)->key_len : (*mb)->key_len;
  int r = memcmp((*ma)->key, (*mb)->key, n);
  if (r != 0)
    return r;
  return (*ma)->key_len < (*mb)->key_len ? -1 : (*ma)->key_len > (*mb)->key_len;
}

/* A key twice in one object would leave its meaning to whichever reader: refused. */
static const struct json_member *duplicate_key(const struct json_value *v) {
  size_t n = v->u.obj.n;
  if (n < 2)
    return NULL;
  cleanup_free const struct json_member **sorted = xmalloc(n * sizeof(*sorted));
  for (size_t i = 0; i < n; i++)
    sorted[i] = &v->u.obj.items[i];
  qsort(sorted, n, sizeof(*sorted), key_cmp);
  for (size_t i = 1; i < n; i++)
    if (key_cmp(&sorted[i - 1], &sorted[i]) == 0)
      return sorted[i];
  return NULL;
}

static int parse_array(struct parser *x, struct json_value *v) {
  size_t cap = 0;
  v->type = JSON_ARRAY;
  x->p++;
  skip_ws(x);
  if (x->p < x->end && *x->p == ']') {
    x->p++;
    return 0;
  }
  for (;;) {
    if (v->u.arr.n == cap) {
      cap = cap ? cap * 2 : 4;
      v->u.arr.items = xrealloc(v->u.arr.items, cap * sizeof(*v->u.arr.items));
    }
    struct json_value *item = &v->u.arr.items[v->u.arr.n++];
    memset(item, 0, sizeof(*item)); /* counted already: json_free() frees what it gets */
    if (parse_value(x, item) < 0)
      return -1;
    skip_ws(x);
    if (x->p < x->end && *x->p == ',') {
      x->p++;
      skip_ws(x);
      if (x->p < x->end && *x->p == ']')
        return fail_at(x, x->p, "a trailing ',' before ']'");
      continue;
    }
    if (x->p < x->end && *x->p == ']') {
      x->p++;
      return 0;
    }
    return fail_at(x, x->p, "expected ',' or ']' in an array, found %s", found(x));
  }
}

static int parse_object(struct parser *x, struct json_value *v) {
  size_t cap = 0;
  v->type = JSON_OBJECT;
  x->p++;
  skip_ws(x);
  if (x->p < x->end && *x->p == '}') {
    x->p++;
    return 0;
  }
  for (;;) {
    if (x->p >= x->end || *x->p != '"')
      return fail_at(x, x->p, "expected a string key in an object, found %s", found(x));
    if (v->u.obj.n == cap) {
      cap = cap ? cap * 2 : 4;
      v->u.obj.items = xrealloc(v->u.obj.items, cap * sizeof(*v->u.obj.items));
    }
    struct json_member *m = &v->u.obj.items[v->u.obj.n];
    memset(m, 0, sizeof(*m));
    if (parse_string(x, &m->key, &m->key_len) < 0)
      return -1;
    v->u.obj.n++; /* from here on json_free() frees the key */
    skip_ws(x);
    if (x->p >= x->end || *x->p != ':')
      return fail_at(x, x->p, "expected ':' after the key \"%.40s\", found %s", m->key, found(x));
    x->p++;
    if (parse_value(x, &m->value) < 0)
      return -1;
    skip_ws(x);
    if (x->p < x->end && *x->p == ',') {
      x->p++;
      skip_ws(x);
      if (x->p < x->end && *x->p == '}')
        return fail_at(x, x->p, "a trailing ',' before '}'");
      continue;
    }
    if (x->p < x->end && *x->p == '}') {
      const struct json_member *dup = duplicate_key(v);
      if (dup != NULL)
        return fail_at(x, x->p, "the key \"%.40s\" appears twice in this object", dup->key);
      x->p++;
      return 0;
    }
    return fail_at(x, x->p, "expected ',' or '}' in an object, found %s", found(x));
  }
}

/* On failure v may hold part of a tree: the caller frees it. */
static int parse_value(struct parser *x, struct json_value *v) {
  skip_ws(x);
  v->line = x->line;
  if (x->p >= x->end)
    return fail_at(x, x->p, "expected a value, found the end of the text");
  switch (*x->p) {
  case '{':
  case '[': {
    if (x->depth >= JSON_MAX_DEPTH)
      return fail_at(x, x->p, "nested deeper than %d levels", JSON_MAX_DEPTH);
    x->depth++;
    int r = *x->p == '{' ? parse_object(x, v) : parse_array(x, v);
    x->depth--;
    return r;
  }
  case '"':
    v->type = JSON_STRING;
    return parse_string(x, &v->u.str.s, &v->u.str.len);
  case 't':
  case 'f':
    v->type = JSON_BOOL;
    if (literal(x, "true")) {
      v->u.boolean = true;
      return 0;
    }
    if (literal(x, "false"))
      return 0;
    v->type = JSON_NULL;
    break;
  case 'n':
    if (literal(x, "null"))
      return 0;
    break;
  default:
    if (*x->p == '-' || (*x->p >= '0' && *x->p <= '9'))
      return parse_number(x, v);
  }
  return fail_at(x, x->p, "expected a value, found %s", found(x));
}

int json_parse(const char *text, size_t len, struct json_value *out, nsbox_error_t *err) {
  struct parser x = {
      .start = text, .p = text, .end = text + len, .line_start = text, .line = 1, .err = err};
  memset(out, 0, sizeof(*out));
  if (parse_value(&x, out) == 0) {
    skip_ws(&x);
    if (x.p == x.end)
      return 0;
    fail_at(&x, x.p, "unexpected %s after the value", found(&x));
  }
  json_free(out);
  return -1;
}

void json_free(struct json_value *v) {
  switch (v->type) {
  case JSON_STRING:
    free(v->u.str.s);
    break;
  case JSON_ARRAY:
    for (size_t i = 0; i < v->u.arr.n; i++)
      json_free(&v->u.arr.items[i]);
    free(v->u.arr.items);
    break;
  case JSON_OBJECT:
    for (size_t i = 0; i < v->u.obj.n; i++) {
      free(v->u.obj.items[i].key);
      json_free(&v->u.obj.items[i].value);
    }
    free(v->u.obj.items);
    break;
  default:
    break;
  }
  memset(v, 0, sizeof(*v));
}

const struct json_value *json_get(const struct json_value *obj, const char *key) {
  if (obj == NULL || obj->type != JSON_OBJECT)
    return NULL;
  size_t kl = strlen(key);
  for (size_t i = 0; i < obj->u.obj.n; i++)
    if (obj->u.obj.items[i].key_len == kl && memcmp(obj->u.obj.items[i].key, key, kl) == 0)
      return &obj->u.obj.items[i].value;
  return NULL;
}

int json_u64(const struct json_value *v, uint64_t *out) {
  if (v == NULL || v->type != JSON_NUMBER || !v->u.num.integer ||
      (v->u.num.negative && v->u.num.abs != 0))
    return -1;
  *out = v->u.num.abs;
  return 0;
}

int json_i64(const struct json_value *v, int64_t *out) {
  if (v == NULL || v->type != JSON_NUMBER || !v->u.num.integer)
    return -1;
  uint64_t a = v->u.num.abs;
  if (v->u.num.negative) {
    if (a > (uint64_t)INT64_MAX + 1)
      return -1;
    *out = a == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)a;
  } else {
    if (a > (uint64_t)INT64_MAX)
      return -1;
    *out = (int64_t)a;
  }
  return 0;
}

const char *json_type_name(enum json_type t) {
  switch (t) {
  case JSON_NULL:
    return "null";
  case JSON_BOOL:
    return "a boolean";
  case JSON_NUMBER:
    return "a number";
  case JSON_STRING:
    return "a string";
  case JSON_ARRAY:
    return "an array";
  case JSON_OBJECT:
    return "an object";
  }
  return "a value";
}

const char *json_quote_for_message(const char *s, size_t max, char *buf, size_t len) {
  size_t n = 0;
  if (max > len - 6)
    max = len - 6;
  buf[n++] = '"';
  for (; *s && n <= max; s++)
    buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
  if (*s) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n++] = '"';
  buf[n] = '\0';
  return buf;
}

/* ---- typed getters ---------------------------------------------------------------------- */

int json_bad(nsbox_error_t *err, const char *path, const char *key, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return nsbox_fail(err, 0, "%s%s%s: %s", path, *path && key ? "." : "", key ? key : "", what);
}

/* "network.hosts[2]": the path of item i of the array path.key. */
void json_item_path(char *buf, size_t len, const char *path, const char *key, size_t i) {
  snprintf(buf, len, "%s%s%s[%zu]", path, *path ? "." : "", key, i);
}

/* obj[key] when it is of type t (what: "an array of strings", for the message); *out NULL
 * when it is absent or null, which reads as zero or NULL. obj may be NULL: a part of the
 * record that is absent reads as all zero. */
int json_get_typed(const struct json_value *obj, const char *path, const char *key,
                   enum json_type t, const char *what, const struct json_value **out,
                   nsbox_error_t *err) {
  const struct json_value *v = json_get(obj, key);
  *out = NULL;
  if (v == NULL || v->type == JSON_NULL)
    return 0;
  if (v->type != t)
    return json_bad(err, path, key, "expected %s, not %s", what, json_type_name(v->type));
  *out = v;
  return 0;
}

/* The text of a string value, refused when it holds a NUL of its own, which C cannot keep. */
int json_text_of(const struct json_value *v, const char *path, const char *key, const char **out,
                 nsbox_error_t *err) {
  if (v->type != JSON_STRING)
    return json_bad(err, path, key, "expected a string, not %s", json_type_name(v->type));
  if (strlen(v->u.str.s) != v->u.str.len)
    return json_bad(err, path, key, "a NUL character in a string");
  *out = v->u.str.s;
  return 0;
}

int json_get_str(const struct json_value *obj, const char *path, const char *key, char **out,
                 nsbox_error_t *err) {
  const struct json_value *v = json_get(obj, key);
  const char *s;
  *out = NULL;
  if (v == NULL || v->type == JSON_NULL)
    return 0;
  if (json_text_of(v, path, key, &s, err) < 0)
    return -1;
  *out = xstrdup(s);
  return 0;
}

/* A NULL-terminated copy of an array of strings; null reads as NULL, [] as an empty list. */
int json_get_strv(const struct json_value *obj, const char *path, const char *key, char ***out,
                  nsbox_error_t *err) {
  const struct json_value *a;
  *out = NULL;
  if (json_get_typed(obj, path, key, JSON_ARRAY, "an array of strings", &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  char **v = xmalloc((a->u.arr.n + 1) * sizeof(*v));
  for (size_t i = 0; i < a->u.arr.n; i++) {
    char p[160];
    const char *s;
    v[i] = NULL;
    json_item_path(p, sizeof(p), path, key, i);
    if (json_text_of(&a->u.arr.items[i], p, NULL, &s, err) < 0) {
      strv_free(v);
      return -1;
    }
    v[i] = xstrdup(s);
  }
  v[a->u.arr.n] = NULL;
  *out = v;
  return 0;
}

int json_get_bool(const struct json_value *obj, const char *path, const char *key, bool *out,
                  nsbox_error_t *err) {
  const struct json_value *v;
  *out = false;
  if (json_get_typed(obj, path, key, JSON_BOOL, "true or false", &v, err) < 0)
    return -1;
  if (v)
    *out = v->u.boolean;
  return 0;
}

int json_get_u64(const struct json_value *obj, const char *path, const char *key, uint64_t max,
                 uint64_t *out, nsbox_error_t *err) {
  const struct json_value *v;
  *out = 0;
  if (json_get_typed(obj, path, key, JSON_NUMBER, "an integer", &v, err) < 0)
    return -1;
  if (v && (json_u64(v, out) < 0 || *out > max))
    return json_bad(err, path, key, "expected an integer from 0 to %llu", (unsigned long long)max);
  return 0;
}

int json_get_i64(const struct json_value *obj, const char *path, const char *key, int64_t min,
                 int64_t max, int64_t *out, nsbox_error_t *err) {
  const struct json_value *v;
  *out = 0;
  if (json_get_typed(obj, path, key, JSON_NUMBER, "an integer", &v, err) < 0)
    return -1;
  if (v && (json_i64(v, out) < 0 || *out < min || *out > max))
    return json_bad(err, path, key, "expected an integer from %lld to %lld", (long long)min,
                    (long long)max);
  return 0;
}
