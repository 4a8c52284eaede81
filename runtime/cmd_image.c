/* nsbox image import|ls|rm. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "store.h"

int cmd_image(const struct cli_globals *g, int argc, char **argv) {
  bool list_alias = strcmp(argv[0], "images") == 0;
  if (!list_alias && argc < 2)
    return cli_usage_error("usage: nsbox image import|ls|rm ...");
  const char *sub = list_alias ? "ls" : argv[1];
  int nargs = list_alias ? argc - 1 : argc - 2;
  char **args = list_alias ? argv + 1 : argv + 2;

  struct nsbox_store s;
  nsbox_error_t err = {0};
  int r = 0;
  if (strcmp(sub, "import") == 0) {
    if (nargs != 2)
      return cli_usage_error("usage: nsbox image import FILE|- NAME");
    if (store_open(&s, g->root, &err) < 0)
      goto fail;
    r = image_import(&s, args[0], args[1], &err);
  } else if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
    if (nargs != 0)
      return cli_usage_error("usage: nsbox image ls");
    if (store_open(&s, g->root, &err) < 0)
      goto fail;
    r = image_list(&s, &err);
  } else if (strcmp(sub, "rm") == 0) {
    if (nargs < 1)
      return cli_usage_error("usage: nsbox image rm NAME...");
    if (store_open(&s, g->root, &err) < 0)
      goto fail;
    for (int i = 0; i < nargs && r == 0; i++)
      r = image_remove(&s, args[i], &err);
  } else {
    return cli_usage_error("unknown image command \"%s\" (import, ls, rm)", sub);
  }
  if (r == 0)
    return 0;
fail:
  nsbox_print_error(&err);
  return err.exit_code ? err.exit_code : 125;
}
