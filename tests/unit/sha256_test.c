/* runtime/sha256.c against the FIPS 180-4 example vectors, and the incremental interface
 * against the one-shot one at every split point of a message longer than a block. */
#include <stdlib.h>
#include <string.h>

#include "../../runtime/sha256.h"
#include "check.h"
#include "tests.h"

static int hex_is(const char *msg, size_t len, const char *want) {
  char got[65];
  sha256_buf_hex(msg, len, got);
  return strcmp(got, want) == 0;
}

void test_sha256(void) {
  CHECK(hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(
      hex_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  /* 55, 56 and 64 bytes: the padding's edge cases (length fits, does not fit, full block). */
  char a[1000];
  memset(a, 'a', sizeof(a));
  CHECK(hex_is(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"));
  CHECK(hex_is(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"));
  CHECK(hex_is(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"));

  struct sha256 c;
  sha256_init(&c);
  for (int i = 0; i < 1000; i++)
    sha256_update(&c, a, sizeof(a));
  char got[65];
  sha256_hex(&c, got);
  CHECK(strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);

  char whole[65];
  sha256_buf_hex(two, strlen(two), whole);
  int same = 0;
  for (size_t cut = 0; cut <= strlen(two); cut++) {
    sha256_init(&c);
    sha256_update(&c, two, cut);
    sha256_update(&c, two + cut, strlen(two) - cut);
    sha256_hex(&c, got);
    same += strcmp(got, whole) == 0;
  }
  CHECK(same == (int)strlen(two) + 1);
}
