/* A small JSON writer for the files nsbox writes (the container's record, `inspect`): values
 * appended to a growable buffer, commas and (when pretty) indentation placed automatically.
 * Strings are escaped so that the text always parses with json.c, even from invalid UTF-8.
 * Out of memory aborts (xrealloc), so no call fails. */
#ifndef NSBOX_JSONW_H
#define NSBOX_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
  char *buf; /* owned until jsonw_finish() hands it over */
  size_t len, cap;
  int depth;
  bool pretty;
  bool first;     /* nothing written yet in the innermost object or array */
  bool after_key; /* a key was just written: its value needs no comma or indentation */
};

/* pretty: 2-space indentation, a newline after each item, "key": value. */
void jsonw_init(struct jsonw *w, bool pretty);

void jsonw_obj_open(struct jsonw *w);
void jsonw_obj_close(struct jsonw *w);
void jsonw_arr_open(struct jsonw *w);
void jsonw_arr_close(struct jsonw *w);

/* The next value is this member's. */
void jsonw_key(struct jsonw *w, const char *key);

/* s as a JSON string; NULL writes null. Bytes that are not UTF-8 become U+FFFD. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t len);
void jsonw_i64(struct jsonw *w, int64_t v);
void jsonw_u64(struct jsonw *w, uint64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);

/* Key and value in one call. */
void jsonw_kv_str(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_i64(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_u64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kv_bool(struct jsonw *w, const char *key, bool v);
/* A NULL-terminated array of strings; NULL v writes []. */
void jsonw_kv_strv(struct jsonw *w, const char *key, char **v);

/* The NUL-terminated text, with a final newline when pretty; the caller owns (and frees) it
 * and w holds nothing any more. */
char *jsonw_finish(struct jsonw *w);

/* Frees the buffer of a writer that was not finished; harmless after jsonw_finish(). */
void jsonw_free(struct jsonw *w);

#endif
