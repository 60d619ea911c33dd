/*
 * replay.c -- runs the fuzz target over files and directories (recursively)
 * without libFuzzer, so every corpus entry and every testdata image is
 * replayed by `meson test` under the sanitizers.  .gz files are inflated
 * first (up to a cap).
 */
#define _DEFAULT_SOURCE 1
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (64u << 20)

static int nfiles;

static int replay_file(const char *path)
{
    size_t len = strlen(path);
    int gz = len > 3 && strcmp(path + len - 3, ".gz") == 0;
    uint8_t *buf = malloc(REPLAY_MAX_INPUT);
    if (!buf)
        return -1;
    size_t n = 0;
    if (gz) {
        gzFile f = gzopen(path, "rb");
        if (!f) {
            free(buf);
            return -1;
        }
        int r;
        while (n < REPLAY_MAX_INPUT && (r = gzread(f, buf + n, (unsigned)(REPLAY_MAX_INPUT - n))) > 0)
            n += (size_t)r;
        gzclose(f);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            free(buf);
            return -1;
        }
        n = fread(buf, 1, REPLAY_MAX_INPUT, f);
        fclose(f);
    }
    /* An exact-size copy so ASan sees reads past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    nfiles++;
    return 0;
}

static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: not found\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (replay(sub) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay(argv[i]) < 0)
            rc = 1;
    printf("replayed %d inputs\n", nfiles);
    return rc;
}
