/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Without libFuzzer: run a fuzz target over every file of a corpus folder,
 * so that the seeds (and crashes once found and added) stay regression
 * tests in the ordinary build.
 */
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
    int n = 0;

    for (int i = 1; i < argc; i++) {
        GDir *dir = g_dir_open(argv[i], 0, NULL);
        const char *name;

        if (dir == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *path = g_build_filename(argv[i], name, NULL);
            g_autofree char *data = NULL;
            gsize len;

            if (!g_file_get_contents(path, &data, &len, NULL))
                return 1;
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            n++;
        }
        g_dir_close(dir);
    }
    printf("%d passed, 0 failed\n", n);
    return n > 0 ? 0 : 1;
}
