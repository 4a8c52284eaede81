/* nsbox image load|import|save|export|ls|inspect|rm (and `nsbox images`). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "store.h"

static const char image_usage[] =
    "usage: nsbox image COMMAND\n"
    "  load PATH|- [NAME[:TAG]]   an OCI image layout, oci-archive or docker save archive\n"
    "  import FILE|- NAME[:TAG]   a root filesystem tarball (docker export) as a one-layer image\n"
    "  save NAME FILE|-           the image as an oci-archive\n"
    "  export [--format F] NAME FILE\n"
    "                             its files, layers merged, as one squashfs (default), ext4 or\n"
    "                             erofs file system image\n"
    "  ls                         the images, with their tags, ids, ages and sizes\n"
    "  inspect NAME...            their configs as JSON\n"
    "  rm NAME...                 untag; an image goes with its last tag\n";

struct image_cmd {
  const char *name;
  int min, max; /* operands */
  const char *usage;
};

static const struct image_cmd cmds[] = {
    {"load", 1, 2, "usage: nsbox image load PATH|- [NAME[:TAG]]"},
    {"import", 2, 2, "usage: nsbox image import FILE|- NAME[:TAG]"},
    {"save", 2, 2, "usage: nsbox image save NAME FILE|-"},
    {"export", 2, 2, "usage: nsbox image export [--format squashfs|ext4|erofs] NAME FILE"},
    {"ls", 0, 0, "usage: nsbox image ls"},
    {"list", 0, 0, "usage: nsbox image ls"},
    {"inspect", 1, 1 << 20, "usage: nsbox image inspect NAME..."},
    {"rm", 1, 1 << 20, "usage: nsbox image rm NAME..."},
};

/* export's one option, --format F, anywhere among its operands, which are left in *args and
 * *nargs. Returns 0, or 125 after a usage error. */
static int export_options(const struct image_cmd *c, char ***args, int *nargs,
                          const char **format) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
  char **v = *args - 1; /* getopt starts after v[0], "export" */
  int o, n = *nargs + 1;
  opterr = 0;
  while ((o = getopt_long(n, v, "", opts, NULL)) != -1)
    if (o == 'f')
      *format = optarg;
    else
      return cli_usage_error("%s", c->usage);
  if (strcmp(*format, "squashfs") != 0 && strcmp(*format, "ext4") != 0 &&
      strcmp(*format, "erofs") != 0)
    return cli_usage_error("image export: unknown format \"%s\" (squashfs, ext4, erofs)", *format);
  *args = v + optind;
  *nargs = n - optind;
  return 0;
}

static int dispatch(struct nsbox_store *s, const char *sub, char **a, int n, const char *format,
                    nsbox_error_t *err) {
  if (strcmp(sub, "load") == 0)
    return image_load(s, a[0], n > 1 ? a[1] : NULL, err);
  if (strcmp(sub, "import") == 0)
    return image_import(s, a[0], a[1], err);
  if (strcmp(sub, "save") == 0)
    return image_save(s, a[0], a[1], err);
  if (strcmp(sub, "export") == 0)
    return image_export(s, a[0], format, a[1], err);
  if (strcmp(sub, "inspect") == 0)
    return image_inspect(s, a, (size_t)n, err);
  if (strcmp(sub, "rm") == 0)
    return image_remove(s, a, (size_t)n, err);
  return image_list(s, err);
}

int cmd_image(const struct cli_globals *g, int argc, char **argv) {
  bool list_alias = strcmp(argv[0], "images") == 0;
  if (!list_alias && (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    if (argc < 2)
      return cli_usage_error("usage: nsbox image load|import|save|export|ls|inspect|rm ...");
    fputs(image_usage, stdout);
    return 0;
  }
  const char *sub = list_alias ? "ls" : argv[1];
  int nargs = list_alias ? argc - 1 : argc - 2;
  char **args = list_alias ? argv + 1 : argv + 2;
  const struct image_cmd *c = NULL;
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && !c; i++)
    if (strcmp(cmds[i].name, sub) == 0)
      c = &cmds[i];
  if (c == NULL)
    return cli_usage_error(
        "unknown image command \"%s\" (load, import, save, export, ls, inspect, rm)", sub);
  const char *format = "squashfs";
  if (strcmp(c->name, "export") == 0 && export_options(c, &args, &nargs, &format) != 0)
    return 125;
  if (nargs < c->min || nargs > c->max)
    return cli_usage_error("%s", c->usage);

  struct nsbox_store s;
  nsbox_error_t err = {0};
  if (store_open(&s, g->root, &err) == 0 && dispatch(&s, sub, args, nargs, format, &err) == 0)
    return 0;
  nsbox_print_error(&err);
  return err.exit_code ? err.exit_code : 125;
}
