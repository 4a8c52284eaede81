/* A small strict JSON parser (RFC 8259) that builds a tree of values, for the files nsbox
 * reads in that format (seccomp profiles). No extensions: no comments, no trailing commas, no
 * NaN; the text must be UTF-8 and is checked; a key twice in one object and nesting deeper
 * than JSON_MAX_DEPTH are errors. The caller owns the tree and frees it with json_free(). */
#ifndef NSBOX_JSON_H
#define NSBOX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

struct json_value {
  enum json_type type;
  unsigned line; /* where the value starts, for the caller's messages */
  union {
    bool boolean;
    struct {
      double d;      /* always set (strtod) */
      uint64_t abs;  /* integer: the magnitude */
      bool integer;  /* no fraction, no exponent and |value| < 2^64 */
      bool negative; /* a leading '-' */
    } num;
    struct {
      char *s;    /* NUL-terminated; holds a NUL of its own when \u0000 was in it */
      size_t len; /* bytes, without the terminating NUL */
    } str;
    struct {
      struct json_value *items;
      size_t n;
    } arr;
    struct {
      struct json_member *items; /* in the order of the text */
      size_t n;
    } obj;
  } u;
};

struct json_member {
  char *key; /* NUL-terminated */
  size_t key_len;
  struct json_value value;
};

/* Parses text[0..len) into *out. Returns 0, or -1 with err filled as "line L, column C
 * (byte B): what was wrong" and *out left as JSON_NULL. */
int json_parse(const char *text, size_t len, struct json_value *out, nsbox_error_t *err);

/* Frees what json_parse() built below v and makes v JSON_NULL. */
void json_free(struct json_value *v);

/* The member `key` of an object; NULL when absent or when obj is not an object. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* An integer number that fits: 0, or -1 (not a number, not an integer, out of range). */
int json_u64(const struct json_value *v, uint64_t *out);
int json_i64(const struct json_value *v, int64_t *out);

/* "a string", "an object" ...: for messages such as "expected an array, not a string". */
const char *json_type_name(enum json_type t);

/* Length of the well-formed UTF-8 sequence at p, before end (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. The parser's rule, which jsonw.c follows too so
 * that what it writes parses. */
size_t json_utf8_len(const unsigned char *p, const unsigned char *end);

/* s made fit for a one-line message: in double quotes, at most max bytes of it (then "..."),
 * control characters as '?'. buf holds len bytes, at least 6: max is cut to len - 6 when
 * larger, so that the quotes, the "..." and the NUL always fit. Returns buf. */
const char *json_quote_for_message(const char *s, size_t max, char *buf, size_t len);

/* Typed getters for the readers of JSON files (config_json.c, oci.c). Each takes the parent's
 * path ("process", "" at the top) and the member's key, which together name the member in
 * messages ("process.args: expected an array of strings, not a number"); key may be NULL when
 * path is already the member's. A member that is absent or null reads as zero or NULL; obj may
 * be NULL (a part that is absent reads as all zero). All return 0, or -1 with err filled. */
int json_bad(nsbox_error_t *err, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "network.hosts[2]": the path of item i of the array path.key. */
void json_item_path(char *buf, size_t len, const char *path, const char *key, size_t i);
/* obj[key] when it is of type t (what: "an array of strings", for the message), else *out NULL. */
int json_get_typed(const struct json_value *obj, const char *path, const char *key,
                   enum json_type t, const char *what, const struct json_value **out,
                   nsbox_error_t *err);
/* The text of a string value; refused when it holds a NUL of its own, which C cannot keep. */
int json_text_of(const struct json_value *v, const char *path, const char *key, const char **out,
                 nsbox_error_t *err);
int json_get_str(const struct json_value *obj, const char *path, const char *key, char **out,
                 nsbox_error_t *err);
/* A NULL-terminated copy of an array of strings; null reads as NULL, [] as an empty list. */
int json_get_strv(const struct json_value *obj, const char *path, const char *key, char ***out,
                  nsbox_error_t *err);
int json_get_bool(const struct json_value *obj, const char *path, const char *key, bool *out,
                  nsbox_error_t *err);
int json_get_u64(const struct json_value *obj, const char *path, const char *key, uint64_t max,
                 uint64_t *out, nsbox_error_t *err);
int json_get_i64(const struct json_value *obj, const char *path, const char *key, int64_t min,
                 int64_t max, int64_t *out, nsbox_error_t *err);

#endif
