/* idfzip_cli.c — the idfzip command line, a thin layer over idfzip.h.
 *
 * Owns: argument parsing, file and stdin/stdout handling, safe output (a
 * temporary file in the target folder, renamed into place only when
 * complete; never overwriting without -f), and messages.  Exit codes:
 * 0 success, 1 an input failed (bad file, I/O error), 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../include/idfzip.h"

enum command { CMD_NONE, CMD_COMPRESS, CMD_DECOMPRESS, CMD_INFO, CMD_TEST };

typedef struct cli {
    enum command cmd;
    const char *output;  /* -o */
    int to_stdout;       /* -c */
    int force, remove_input, verbose, quiet;
    const char *model_path;
    idfzip_options opt;
    uint8_t *model_bytes;
} cli;

static const char USAGE[] =
    "Usage: idfzip COMMAND [OPTION]... [FILE]...\n"
    "Lossless image compression with integer discrete flows.\n"
    "\n"
    "Commands:\n"
    "  compress, c      PNG -> .idf (FILE.png becomes FILE.idf)\n"
    "  decompress, d    .idf -> PNG (FILE.idf becomes FILE.png)\n"
    "  info             describe .idf files (size, type, model, bpsp, tiles)\n"
    "  test             decode .idf files fully and check every CRC\n"
    "\n"
    "With no FILE, or when FILE is -, read standard input and write standard output.\n"
    "\n"
    "Options:\n"
    "  -o FILE          write to FILE (one input only; - is standard output)\n"
    "  -c, --stdout     write to standard output\n"
    "  -f, --force      overwrite existing files; write binary data to a terminal\n"
    "  -k, --keep       keep input files (the default)\n"
    "      --rm         remove each input file after it was processed successfully\n"
    "      --no-store   always code with the model, even where keeping the PNG\n"
    "                   (stored mode) would be smaller\n"
    "  -v, --verbose    report sizes, bits per subpixel, time and peak memory\n"
    "  -q, --quiet      no messages except errors\n"
    "  -T, --threads N  use N threads (0, the default: one per core)\n"
    "      --model M    code with model M: a built-in one by name (ar-rgb-mix,\n"
    "                   ar-grey-mix: the defaults for 8-bit RGB, grey and\n"
    "                   palette; ar-rgba-mix, ar-ga-mix: for 8-bit RGBA and\n"
    "                   grey+alpha; ar-rgb, ar-grey: those of idfzip 0.5;\n"
    "                   baseline-v3, for the rest;\n"
    "                   match-v2, the default for images that repeat their\n"
    "                   neighbours: screenshots, diagrams, sprites; match-v1,\n"
    "                   its predecessor; baseline-v2 or baseline-v1, readable\n"
    "                   by idfzip 0.2 or 0.1) or an .idfw file\n"
    "      --max-pixels N  refuse images of more than N pixels (default 268435456)\n"
    "  -h, --help       show this help\n"
    "  -V, --version    show the version\n"
    "\n"
    "Exit status: 0 success, 1 a file could not be processed, 2 usage error.\n";

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "idfzip: %s%s%s\nTry 'idfzip --help' for more information.\n",
            msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

static void report(const char *name, const char *what)
{
    fprintf(stderr, "idfzip: %s: %s\n", name, what);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Processor cores online, at least 1 and at most the library's 256. */
static int core_count(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : (cores > 256 ? 256 : (int)cores);
}

/* strerror(err), except that running out of memory reads as the library
 * says it, so every path says "out of memory" alike. */
static const char *error_text(int err)
{
    return err == ENOMEM ? idfzip_error_string(IDFZIP_ERR_NOMEM) : strerror(err);
}

/* ---- reading and writing whole files ---- */

static int read_stream(FILE *f, uint8_t **out, size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        errno = ENOMEM;
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
        } else {
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf || ferror(f)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *size = n;
    return 0;
}

static int read_input(const char *name, uint8_t **data, size_t *size)
{
    if (strcmp(name, "-") == 0)
        return read_stream(stdin, data, size);
    FILE *f = fopen(name, "rb");
    if (!f)
        return -1;
    int r = read_stream(f, data, size);
    int saved = errno;
    fclose(f);
    errno = saved;
    return r;
}

static int write_stdout(const cli *c, const uint8_t *data, size_t size)
{
    if (isatty(STDOUT_FILENO) && !c->force) {
        fprintf(stderr, "idfzip: refusing to write binary data to a terminal (use -f)\n");
        return -1;
    }
    if (fwrite(data, 1, size, stdout) != size || fflush(stdout) != 0) {
        report("(stdout)", error_text(errno));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        size -= (size_t)w;
    }
    return 0;
}

/* Moves the finished temporary file into place: link() refuses to replace
 * an existing file, so without -f nothing is ever overwritten, even when
 * the file appeared while we were working. */
static int commit_output(const cli *c, const char *tmp, const char *path)
{
    if (c->force)
        return rename(tmp, path);
    if (link(tmp, path) == 0)
        return unlink(tmp);
    if (errno == EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st) == 0) { /* no hard links here: check, then rename */
        errno = EEXIST;
        return -1;
    }
    return rename(tmp, path);
}

static int write_file(const cli *c, const char *path, const uint8_t *data, size_t size,
                      mode_t mode)
{
    struct stat st;
    if (!c->force && stat(path, &st) == 0) {
        report(path, "already exists; use -f to overwrite");
        return -1;
    }
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        report(path, error_text(ENOMEM));
        return -1;
    }
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    int ok = fd >= 0 && fchmod(fd, mode) == 0 && write_all(fd, data, size) == 0 &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && commit_output(c, tmp, path) != 0)
        ok = 0;
    if (!ok) {
        report(path, errno == EEXIST ? "already exists; use -f to overwrite" : error_text(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

/* ---- output names ---- */

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcasecmp(name + n - s, suffix) == 0;
}

/* FILE.png -> FILE.idf (or FILE.x -> FILE.x.idf); FILE.idf -> FILE.png. */
static char *default_output(enum command cmd, const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 5);
    if (!out)
        return NULL;
    memcpy(out, in, n + 1);
    if (cmd == CMD_COMPRESS && has_suffix(in, ".png"))
        memcpy(out + n - 4, ".idf", 5);
    else if (cmd == CMD_COMPRESS)
        memcpy(out + n, ".idf", 5);
    else if (has_suffix(in, ".idf"))
        memcpy(out + n - 4, ".png", 5);
    else {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- commands ---- */

static double bpsp_of(size_t bytes, const idfzip_info *info)
{
    double subpixels = (double)info->width * info->height * info->channels;
    return 8.0 * (double)bytes / subpixels;
}

static void print_info(const char *name, const idfzip_info *info)
{
    static const char *const kinds[] = {"grey", "?", "RGB", "palette", "grey+alpha", "?", "RGBA"};
    printf("%s: %ux%u %s %u-bit, %llu bytes, %.4f bpsp, ", name, info->width, info->height,
           info->color_type <= 6 ? kinds[info->color_type] : "?", info->bit_depth,
           (unsigned long long)info->file_size, bpsp_of(info->file_size, info));
    if (info->mode == 1)
        printf("stored (original PNG kept)\n");
    else
        printf("model %s (crc %08x), %u tiles of %ux%u\n", info->model_name, info->model_crc,
               info->tile_count, info->tile_width, info->tile_height);
}

static int run_codec(const cli *c, const uint8_t *in, size_t in_size, uint8_t **out,
                     size_t *out_size)
{
    if (c->cmd == CMD_COMPRESS)
        return idfzip_compress_png(in, in_size, &c->opt, out, out_size);
    return idfzip_decompress_png(in, in_size, &c->opt, out, out_size);
}

/* Peak resident memory of the process so far in MiB (Linux reports
 * ru_maxrss in KiB), so -v shows what the pixel limit lets a file cost. */
static double peak_memory_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

static void print_verbose(const cli *c, const char *name, size_t in_size, size_t out_size,
                          const uint8_t *idf, size_t idf_size, double secs)
{
    idfzip_info info;
    if (idfzip_get_info(idf, idf_size, &info) != IDFZIP_OK)
        return;
    double mp = (double)info.width * info.height / 1e6;
    fprintf(stderr, "%s: %zu -> %zu bytes, %.4f bpsp%s, %.3f s, %.2f MP/s, peak memory %.1f MiB\n",
            name, in_size, out_size, bpsp_of(idf_size, &info), info.mode == 1 ? " (stored)" : "",
            secs, secs > 0 ? mp / secs : 0.0, peak_memory_mib());
    (void)c;
}

static mode_t output_mode(const char *in)
{
    struct stat st;
    if (strcmp(in, "-") != 0 && stat(in, &st) == 0)
        return st.st_mode & 0666;
    return 0644;
}

static int finish_output(const cli *c, const char *in, const uint8_t *out, size_t out_size)
{
    int to_stdout = c->to_stdout || (c->output && strcmp(c->output, "-") == 0) ||
                    (!c->output && strcmp(in, "-") == 0);
    if (to_stdout)
        return write_stdout(c, out, out_size);
    char *path = c->output ? strdup(c->output) : default_output(c->cmd, in);
    if (!path) {
        report(in, c->output ? error_text(ENOMEM) : "unknown suffix (expected .idf); use -o");
        return -1;
    }
    int r = write_file(c, path, out, out_size, output_mode(in));
    free(path);
    return r;
}

static int process_one(const cli *c, const char *in)
{
    uint8_t *data = NULL, *out = NULL;
    size_t size = 0, out_size = 0;
    const char *name = strcmp(in, "-") == 0 ? "(stdin)" : in;
    if (read_input(in, &data, &size) != 0) {
        report(name, error_text(errno));
        return 1;
    }
    double t0 = now_seconds();
    int st = IDFZIP_OK, rc = 0;
    if (c->cmd == CMD_INFO) {
        idfzip_info info;
        st = idfzip_get_info(data, size, &info);
        if (st == IDFZIP_OK)
            print_info(name, &info);
    } else if (c->cmd == CMD_TEST) {
        idfzip_image img;
        st = idfzip_decompress_image(data, size, &c->opt, &img);
        idfzip_image_free(&img);
        if (st == IDFZIP_OK && c->verbose)
            fprintf(stderr, "%s: OK, peak memory %.1f MiB\n", name, peak_memory_mib());
    } else {
        st = run_codec(c, data, size, &out, &out_size);
        if (st == IDFZIP_OK && finish_output(c, in, out, out_size) != 0)
            rc = 1;
        else if (st == IDFZIP_OK && c->verbose)
            print_verbose(c, name, size, out_size, c->cmd == CMD_COMPRESS ? out : data,
                          c->cmd == CMD_COMPRESS ? out_size : size, now_seconds() - t0);
    }
    if (st != IDFZIP_OK) {
        report(name, idfzip_error_string(st));
        rc = 1;
    }
    if (rc == 0 && c->remove_input && strcmp(in, "-") != 0 &&
        (c->cmd == CMD_COMPRESS || c->cmd == CMD_DECOMPRESS) && unlink(in) != 0) {
        report(name, error_text(errno));
        rc = 1;
    }
    idfzip_free(out);
    free(data);
    return rc;
}

/* ---- argument parsing ---- */

static enum command parse_command(const char *s)
{
    if (!strcmp(s, "compress") || !strcmp(s, "c"))
        return CMD_COMPRESS;
    if (!strcmp(s, "decompress") || !strcmp(s, "d"))
        return CMD_DECOMPRESS;
    if (!strcmp(s, "info"))
        return CMD_INFO;
    if (!strcmp(s, "test"))
        return CMD_TEST;
    return CMD_NONE;
}

static int parse_number(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return -1;
    *v = strtoull(s, &end, 10);
    return (errno || *end || *v > max) ? -1 : 0;
}

/* --model: a built-in model's name, else a file to read. */
static int load_model(cli *c)
{
    size_t size;
    if (idfzip_builtin_model(c->model_path)) {
        c->opt.model_name = c->model_path;
        return 0;
    }
    if (read_input(c->model_path, &c->model_bytes, &size) != 0) {
        report(c->model_path, error_text(errno));
        return 1;
    }
    c->opt.model = c->model_bytes;
    c->opt.model_size = size;
    return 0;
}

/* Handles one option at argv[*i]; returns 0, or an exit code to stop with
 * (-1 means exit 0 after --help/--version). */
static int parse_option(cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    unsigned long long n;
    if (!strcmp(a, "-h") || !strcmp(a, "--help"))
        return fputs(USAGE, stdout), -1;
    if (!strcmp(a, "-V") || !strcmp(a, "--version"))
        return printf("idfzip %s\n", idfzip_version_string()), -1;
    if (!strcmp(a, "-c") || !strcmp(a, "--stdout"))
        c->to_stdout = 1;
    else if (!strcmp(a, "-f") || !strcmp(a, "--force"))
        c->force = 1;
    else if (!strcmp(a, "-k") || !strcmp(a, "--keep"))
        c->remove_input = 0;
    else if (!strcmp(a, "--rm"))
        c->remove_input = 1;
    else if (!strcmp(a, "--no-store"))
        c->opt.force_model = 1;
    else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
        c->verbose = 1, c->quiet = 0;
    else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
        c->quiet = 1, c->verbose = 0;
    else if (!strcmp(a, "-o")) {
        if (!val)
            return usage_error("option requires an argument:", a);
        c->output = val, (*i)++;
    } else if (!strcmp(a, "-T") || !strcmp(a, "--threads")) {
        if (parse_number(val, 256, &n) != 0)
            return usage_error("invalid thread count:", val ? val : "(none)");
        c->opt.threads = n ? (int)n : core_count(), (*i)++;
    } else if (!strcmp(a, "--max-pixels")) {
        if (parse_number(val, UINT64_MAX, &n) != 0 || n == 0)
            return usage_error("invalid pixel limit:", val ? val : "(none)");
        c->opt.max_pixels = n, (*i)++;
    } else if (!strcmp(a, "--model")) {
        if (!val)
            return usage_error("option requires an argument:", a);
        c->model_path = val, (*i)++;
    } else
        return usage_error("unknown option:", a);
    return 0;
}

int main(int argc, char **argv)
{
    cli c = {0};
    idfzip_options_init(&c.opt);
    /* As cjxl and djxl do: every core unless -T says otherwise (the tiles
     * bound it; the output never depends on it). */
    c.opt.threads = core_count();
    /* IDFZIP_KERNELS=portable: plain C nets (the output never depends on it). */
    const char *kernels = getenv("IDFZIP_KERNELS");
    c.opt.portable_kernels = kernels && !strcmp(kernels, "portable");
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, rc = 0, options_done = 0;
    if (!files) {
        fprintf(stderr, "idfzip: %s\n", error_text(ENOMEM));
        return 1;
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        if (!options_done && !strcmp(argv[i], "--"))
            options_done = 1;
        else if (!options_done && argv[i][0] == '-' && argv[i][1] != 0)
            rc = parse_option(&c, argc, argv, &i);
        else if (c.cmd != CMD_NONE)
            files[nfiles++] = argv[i];
        else if ((c.cmd = parse_command(argv[i])) == CMD_NONE)
            rc = usage_error("unknown command:", argv[i]);
    }
    if (rc == 0 && c.cmd == CMD_NONE)
        rc = usage_error("no command given", NULL);
    if (rc == 0 && nfiles > 1 && c.output && strcmp(c.output, "-") != 0)
        rc = usage_error("-o takes a single input file", NULL);
    if (rc == 0 && c.model_path)
        rc = load_model(&c);
    if (rc == 0 && nfiles == 0)
        files[nfiles++] = "-";
    int failed = 0;
    for (int k = 0; rc == 0 && k < nfiles; k++)
        failed |= process_one(&c, files[k]);
    free(files);
    free(c.model_bytes);
    if (rc < 0)
        return 0; /* --help or --version */
    return rc ? rc : failed;
}
