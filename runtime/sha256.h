/* SHA-256 (FIPS 180-4), for the content addresses of image blobs and layers. Incremental:
 * layers are hashed as they stream through the extractor, compressed and uncompressed at
 * once, so no byte is read twice. */
#ifndef NSBOX_SHA256_H
#define NSBOX_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  unsigned char buf[64];
  size_t n; /* bytes waiting in buf */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL; c is spent. */
void sha256_hex(struct sha256 *c, char out[65]);

/* The hex digest of one buffer. */
void sha256_buf_hex(const void *data, size_t len, char out[65]);

#endif
