/* ebm_main.c — the `ebm` command-line program.
 *
 *   ebm devices [--device D] | --ids [D,D...]     list every OpenCL platform and device
 *   ebm train CONFIG [--device D] [--set s.k=v]... [--out DIR]   train (a config of configs/)
 *   ebm train --resume DIR [--set s.k=v]...       continue a run (e.g. --set run.iters=4000)
 *   ebm train [CONFIG] --print-config             the full configuration, every default shown
 *   ebm sample CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--augment-every N] [--class K|all] [--out PNG|NPY] [--set s.k=v]
 *   ebm sample --compose RUN[:weight=W]... [--compose-op and|or] [sample options]   composed energies
 *   ebm score CHECKPOINT DATA [--out CSV] [--limit N]   per-example energy and |grad_x E|^2
 *   ebm eval CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--min-per-mode N] [--set s.k=v]
 *            [--classifier RUN [--fd]] [--ood] [--ood-folder DIR]
 *   ebm clblast-import [--device D] FILE.json...  keep CLBlast tuners' results for the device
 *   ebm --version
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist.h"
#include "ebm.h"
#include "train.h"

/* Each command's synopsis and description: `ebm COMMAND --help` prints its own, `ebm --help` all. */
static const struct command_help {
    const char *name, *text;
} helps[] = {
    {"devices",
     "  devices [--device D]          list OpenCL platforms and devices, and the one D selects (--device or\n"
     "                                EBM_DEVICE: pocl, nvidia, amd, intel, cpu, gpu, P:D, or a name substring)\n"
     "  devices --ids [D,D...]        a line \"TAG P:D\" per device (each D's, or every device)\n"},
    {"train",
     "  train CONFIG [--out DIR] [--overwrite] [--set section.key=value]... [--device D]\n"
     "                                (a DIR holding a run is refused: --resume it, or --overwrite it)\n"
     "  train --resume DIR [--set section.key=value]... [--device D]\n"
     "  train [CONFIG] --print-config print the full configuration with every default\n"
     "  mpirun -np N ebm train ...    data-parallel over N ranks (a build with MPI): run.batch / N rows each,\n"
     "                                --device SEL,SEL,...: the local rank's entry (else its match of SEL)\n"},
    {"sample",
     "  sample CHECKPOINT [--n N] [--steps K] [--init noise|buffer] [--augment-every N] [--raw] [--seed S]\n"
     "                    [--out PNG|NPY]  Langevin samples (EMA weights unless --raw) as a PNG grid or heat map,\n"
     "                    or (--out FILE.npy) as a NumPy float32 array (N, C, H, W) or (N, D)\n"
     "                    sample and eval: --set sampler.KEY=V, eval.KEY=V, generator.mala_steps=N, ...\n"
     "                    change how the trained model samples (e.g. sampler.step_size, sampler.noise)\n"
     "                    generator runs (meg, ddgm, dual): G(z), with [--mala N] latent MALA steps on z first\n"
     "                    and --steps K Langevin steps on E in x after\n"
     "                    --class K: class-conditional samples, Langevin on E(x, K) (runs with classes: jem);\n"
     "                    --class all: --n (default 8) samples of each class, a row per class\n"
     "  sample --compose RUN[:class=K][:weight=W] --compose ...  [--compose-op and|or] [options above]\n"
     "                    one Langevin chain on several runs' energies (E(x, K) of runs with classes): and\n"
     "                    (default): sum W E (a product of the models; W < 0: NOT), or: -logsumexp(-W E) (a\n"
     "                    mixture); the first run's sampler settings and augmentation transitions\n"},
    {"score",
     "  score CHECKPOINT DATA [--out CSV] [--limit N] [--raw]   energy and |grad_x E|^2 of every example\n"
     "                                (of the first N with --limit; data as in [data] source: IDX, CSV,\n"
     "                                .npy, image folder, toy:NAME); 9 significant digits\n"},
    {"eval",
     "  eval CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--min-per-mode N] [--raw]\n"
     "                 [--seed S] [--set section.key=value]... [--classifier RUN [--fd]] [--ood] [--ood-folder DIR]\n"
     "                                2-D mixtures: modes covered and high-quality sample fraction;\n"
     "                                images with --classifier RUN: modes (channel class tuples) covered\n"
     "                                and KL to uniform (stacked Fashion-MNIST: 26 000 samples, 1000 modes),\n"
     "                                and the same for as many real images (the data's floor);\n"
     "                                --fd: Frechet distance and KID of N (--n, 5000) samples to N test images\n"
     "                                on RUN's penultimate features, and their floor between 2 x N real images\n"
     "                                (not the Inception FID of papers);\n"
     "                                a classify run: its test accuracy; a run with [data] anomaly_class:\n"
     "                                AUPRC of E and |grad E|^2 on MEG's test split (--n: first N examples);\n"
     "                                --ood [--ood-folder DIR]: AUROC of -E, test images vs noise, upside-down,\n"
     "                                inverted images and the folder's (a jem run: also by max softmax);\n"
     "                                a jem run: test accuracy and calibration error (ECE); with --classifier\n"
     "                                RUN: --n samples per class on E(x, K), the fraction RUN assigns to K\n"},
    {"clblast-import",
     "  clblast-import [--device D] FILE.json...   CLBlast's tuners' results (clblast_tuner_xgemm etc.; run\n"
     "                                them all with tools/clblast_tune.sh) for device D: checked (single\n"
     "                                precision, tuned on D, GEMMs with them correct) and kept next to the\n"
     "                                kernel cache, where every later run on D hands them to CLBlast\n"
     "                                (EBM_CLBLAST_TUNED=off: not)\n"}};

static void usage(FILE *f) {
    fprintf(f, "usage: ebm <command> [options]   (ebm <command> --help: that command's options)\ncommands:\n");
    for (size_t i = 0; i < sizeof helps / sizeof *helps; i++) fputs(helps[i].text, f);
    fprintf(f, "  --version                     print the version\n");
}

static int command_help(const char *cmd) {
    for (size_t i = 0; i < sizeof helps / sizeof *helps; i++)
        if (!strcmp(helps[i].name, cmd)) {
            printf("usage: ebm %s\n%s", cmd, helps[i].text);
            return 0;
        }
    fprintf(stderr, "ebm help: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}

/* What getopt_long did not accept: an unknown option or one missing its value (getopt's own
 * message is off: it would name the program, not the command). */
static int bad_option(const char *cmd, int argc, char **argv) {
    const char *a = optind - 1 < argc ? argv[optind - 1] : "?";
    if (optopt && strncmp(a, "--", 2)) fprintf(stderr, "ebm %s: unknown option -%c\n", cmd, optopt);
    else if (optopt || strchr(a, '=')) fprintf(stderr, "ebm %s: option %s: missing or unexpected value\n", cmd, a);
    else fprintf(stderr, "ebm %s: unknown option %s\n", cmd, a);
    fprintf(stderr, "ebm %s --help lists its options\n", cmd);
    return 2;
}

/* A numeric option's value: the whole text a decimal integer in [lo, hi]; else prints why and 0. */
static int parse_int_in(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "ebm %s: --%s %s: expected an integer from %lld to %lld\n", cmd, opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_int_opt(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out) {
    long long v;
    if (!parse_int_in(cmd, opt, s, lo, hi, &v)) return 0;
    *out = (int)v;
    return 1;
}

/* a seed: any 64-bit unsigned decimal */
static int parse_seed(const char *cmd, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+') {
        fprintf(stderr, "ebm %s: --seed %s: expected an integer from 0 to %llu\n", cmd, s, (unsigned long long)UINT64_MAX);
        return 0;
    }
    *out = v;
    return 1;
}

/* `ebm devices --ids [SEL,SEL...]`: one line "TAG P:D" per device (each selector's device, or every
 * device), tags made unique (intel, intel1, ...); the test suite registers its tests from it. */
static int list_ids(const char *sels) {
    ebm_device_info_t d[64];
    int n = ebm_devices_list(d, 64);
    if (n > 64) n = 64;
    if (n <= 0) {
        fprintf(stderr, "ebm devices: no OpenCL device found\n");
        return 1;
    }
    int pick[64], np = 0;
    if (!sels || !*sels) {
        for (int i = 0; i < n; i++) pick[np++] = i;
    } else {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", sels);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int i = ebm_device_select(d, n, t);
            if (i < 0) {
                fprintf(stderr, "ebm devices: no OpenCL device matches \"%s\"\n", t);
                return 1;
            }
            int dup = 0;
            for (int j = 0; j < np; j++) dup |= pick[j] == i;
            if (!dup && np < 64) pick[np++] = i;
        }
    }
    for (int j = 0; j < np; j++) {
        char tag[32], other[32];
        ebm_device_tag(&d[pick[j]], tag, sizeof tag);
        int same = 0;
        for (int q = 0; q < j; q++) {
            ebm_device_tag(&d[pick[q]], other, sizeof other);
            same += !strcmp(tag, other);
        }
        if (same) printf("%s%d %d:%d\n", tag, same, d[pick[j]].platform_index, d[pick[j]].device_index);
        else printf("%s %d:%d\n", tag, d[pick[j]].platform_index, d[pick[j]].device_index);
    }
    return 0;
}

/* getopt_long over a command's arguments (argv[0] is the command): options anywhere, "--" ends them;
 * every call starts afresh (optind = 0), as the program's tests call main more than once. */
static int next_option(int argc, char **argv, const struct option *opts) {
    return getopt_long(argc, argv, "h", opts, NULL);
}

static int cmd_devices(int argc, char **argv) {
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'}, {"ids", no_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *sel = NULL;
    int ids = 0, c;
    optind = 0, opterr = 0;
    while ((c = next_option(argc, argv, opts)) != -1) {
        if (c == 'd') sel = optarg;
        else if (c == 'i') ids = 1;
        else if (c == 'h') return command_help("devices");
        else return bad_option("devices", argc, argv);
    }
    if (optind < argc && (!ids || optind + 1 < argc)) {
        fprintf(stderr, "ebm devices: unexpected argument \"%s\"\n", argv[ids ? optind + 1 : optind]);
        return 2;
    }
    if (ids) return list_ids(optind < argc ? argv[optind] : sel);
    ebm_status_t st = ebm_devices_print(stdout);
    if (st != EBM_OK) return 1;
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, sel) != EBM_OK) {
        fprintf(stderr, "ebm: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const ebm_device_info_t *d = ebm_ctx_device(ctx);
    char tag[32], kernels[256];
    ebm_device_tag(d, tag, sizeof tag);
    printf("selected: %d:%d %s [%s]\n", d->platform_index, d->device_index, d->name, tag);
    if (ebm_ctx_clblast_tuned(ctx, kernels, sizeof kernels))
        printf("CLBlast tuned for it: %s (%s)\n", kernels, ebm_ctx_clblast_tuned_path(ctx));
    ebm_ctx_free(ctx);
    return 0;
}

static int cmd_clblast_import(int argc, char **argv) {
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *sel = NULL;
    int c;
    optind = 0, opterr = 0;
    while ((c = next_option(argc, argv, opts)) != -1) {
        if (c == 'd') sel = optarg;
        else if (c == 'h') return command_help("clblast-import");
        else return bad_option("clblast-import", argc, argv);
    }
    if (optind >= argc) {
        fprintf(stderr, "ebm clblast-import: give the tuners' result files (clblast_*_32.json)\n");
        return 2;
    }
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, sel) != EBM_OK) {
        fprintf(stderr, "ebm: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    int rc = 0;
    if (ebm_clblast_import(ctx, (const char *const *)argv + optind, argc - optind, stdout) != EBM_OK) {
        fprintf(stderr, "ebm clblast-import: %s\n", ebm_ctx_error(ctx));
        rc = 1;
    }
    ebm_ctx_free(ctx);
    return rc;
}

enum { MAX_SETS = 64 };

/* --set section.key=value, at most MAX_SETS of them; 0 after printing why */
static int add_set(const char *cmd, const char **sets, int *n, const char *a) {
    if (*n == MAX_SETS) {
        fprintf(stderr, "ebm %s: more than %d --set options\n", cmd, MAX_SETS);
        return 0;
    }
    sets[(*n)++] = a;
    return 1;
}

static int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},   {"overwrite", no_argument, NULL, 'w'},
                                         {"resume", required_argument, NULL, 'r'}, {"device", required_argument, NULL, 'd'},
                                         {"set", required_argument, NULL, 's'},    {"print-config", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = NULL, *out = NULL, *resume = NULL, *device = NULL;
    const char *sets[MAX_SETS];
    int n_sets = 0, print = 0, overwrite = 0, c;
    optind = 0, opterr = 0;
    while ((c = next_option(argc, argv, opts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'w': overwrite = 1; break;
        case 'r': resume = optarg; break;
        case 'd': device = optarg; break;
        case 's':
            if (!add_set("train", sets, &n_sets, optarg)) return 2;
            break;
        case 'p': print = 1; break;
        case 'h': return command_help("train");
        default: return bad_option("train", argc, argv);
        }
    }
    if (optind < argc) config = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "ebm train: unexpected argument \"%s\" (one CONFIG file)\n", argv[optind]);
        return 2;
    }
    if (!config && !resume && !print) {
        fprintf(stderr, "ebm train: give a CONFIG file (see configs/) or --resume DIR\n");
        return 2;
    }
    if (config && resume) {
        fprintf(stderr, "ebm train: --resume takes the config saved in the checkpoint; change it with --set, not a CONFIG file\n");
        return 2;
    }
    ebm_config_t *cfg = ebm_train_config_new();
    char err[1024];
    int rc = 1;
    if (!cfg) return 1;
    if (resume) {
        char path[1200];
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
        if (!ebm_checkpoint_load_config(path, cfg)) goto done;
    } else if (config && ebm_config_load(cfg, config, err, sizeof err) != EBM_OK) {
        fprintf(stderr, "ebm: %s\n", err);
        goto done;
    }
    for (int i = 0; i < n_sets; i++)
        if (ebm_config_set(cfg, sets[i], err, sizeof err) != EBM_OK) {
            fprintf(stderr, "ebm: %s\n", err);
            rc = 2;
            goto done;
        }
    if (print) {
        ebm_config_print(cfg, stdout);
        rc = 0;
        goto done;
    }
    char def_out[1024];
    if (!out && !resume) {   /* runs/<config name without .ini> */
        const char *base = strrchr(config, '/');
        base = base ? base + 1 : config;
        int len = (int)strcspn(base, ".");
        snprintf(def_out, sizeof def_out, "runs/%.*s", len, base);
        out = def_out;
    }
    rc = ebm_train(cfg, device, out, resume, overwrite);
done:
    ebm_config_free(cfg);
    return rc;
}

/* options of sample and eval (eval: min_per_mode not NULL); the CHECKPOINT into *checkpoint; 1 to go on,
 * else the exit status + 10 (0: --help printed, 2: a usage error printed) */
static int sample_opts(int argc, char **argv, ebm_sample_opts_t *o, const char **checkpoint, const char **device, int *min_per_mode) {
    static const struct option opts[] = {{"n", required_argument, NULL, 'n'},           {"steps", required_argument, NULL, 'k'},
                                         {"init", required_argument, NULL, 'i'},        {"mala", required_argument, NULL, 'm'},
                                         {"augment-every", required_argument, NULL, 'a'}, {"seed", required_argument, NULL, 'S'},
                                         {"out", required_argument, NULL, 'o'},         {"device", required_argument, NULL, 'd'},
                                         {"raw", no_argument, NULL, 'r'},               {"set", required_argument, NULL, 's'},
                                         {"classifier", required_argument, NULL, 'c'},  {"ood", no_argument, NULL, 'O'},
                                         {"ood-folder", required_argument, NULL, 'f'},  {"min-per-mode", required_argument, NULL, 'p'},
                                         {"fd", no_argument, NULL, 'F'},                {"compose", required_argument, NULL, 'X'},
                                         {"compose-op", required_argument, NULL, 'P'},  {"class", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
    static const char *sets[MAX_SETS];
    const char *cmd = argv[0];
    int eval = min_per_mode != NULL, c;
    o->sets = sets;
    optind = 0, opterr = 0;
    while ((c = next_option(argc, argv, opts)) != -1) {
        int ok = 1;
        if (!eval && (c == 'c' || c == 'O' || c == 'f' || c == 'p' || c == 'F')) {   /* eval's own */
            fprintf(stderr, "ebm sample: %s is an option of ebm eval\n", argv[optind - 1]);
            return 12;
        }
        if (eval && c == 'C') {   /* sample's own */
            fprintf(stderr, "ebm eval: --class is an option of ebm sample (eval --classifier RUN judges every class's samples)\n");
            return 12;
        }
        if (eval && (c == 'X' || c == 'P')) {   /* sample's own */
            fprintf(stderr, "ebm eval: %s is an option of ebm sample\n", argv[optind - 1]);
            return 12;
        }
        switch (c) {
        case 'n': ok = parse_int_opt(cmd, "n", optarg, 1, 10000000, &o->n); break;
        case 'k': ok = parse_int_opt(cmd, "steps", optarg, 0, 10000000, &o->steps); break;
        case 'm': ok = parse_int_opt(cmd, "mala", optarg, 0, 1000000, &o->mala); break;
        case 'a': ok = parse_int_opt(cmd, "augment-every", optarg, 0, 1000000000, &o->augment_every); break;
        case 'p': ok = parse_int_opt(cmd, "min-per-mode", optarg, 1, 1000000000, min_per_mode); break;
        case 'C':   /* a class, or all: a row of samples per class */
            o->conditional = 1, o->label = -1;
            if (strcmp(optarg, "all")) ok = parse_int_opt(cmd, "class", optarg, 0, 100000, &o->label);
            break;
        case 'S': ok = parse_seed(cmd, optarg, &o->seed); break;
        case 'i':
            if (strcmp(optarg, "noise") && strcmp(optarg, "buffer")) {
                fprintf(stderr, "ebm %s: --init %s: expected noise or buffer\n", cmd, optarg);
                ok = 0;
            }
            o->init = optarg;
            break;
        case 'o': o->out = optarg; break;
        case 'd': *device = optarg; break;
        case 'r': o->raw = 1; break;
        case 's': ok = add_set(cmd, sets, &o->n_sets, optarg); break;
        case 'c': o->classifier = optarg; break;
        case 'O': o->ood = 1; break;
        case 'F': o->fd = 1; break;
        case 'X':
            if (o->n_compose >= 8) {
                fprintf(stderr, "ebm sample: --compose: at most 8 runs\n");
                ok = 0;
            } else
                o->compose[o->n_compose++] = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "and") && strcmp(optarg, "or")) {
                fprintf(stderr, "ebm sample: --compose-op %s: expected and or or\n", optarg);
                ok = 0;
            }
            o->compose_or = !strcmp(optarg, "or");
            break;
        case 'f': o->ood_folder = optarg; break;
        case 'h': return 10 + command_help(cmd);
        default: return 10 + bad_option(cmd, argc, argv);
        }
        if (!ok) return 12;
    }
    if (o->n_compose > 0) {   /* the runs are the --compose arguments */
        if (optind < argc) {
            fprintf(stderr, "ebm sample: unexpected argument \"%s\" with --compose (the runs are the --compose arguments)\n", argv[optind]);
            return 12;
        }
        if (o->init && strcmp(o->init, "noise")) {
            fprintf(stderr, "ebm sample: --compose chains start from noise (--init %s)\n", o->init);
            return 12;
        }
        if (o->conditional) {
            fprintf(stderr, "ebm sample: --class with --compose: give each run's class as RUN:class=K\n");
            return 12;
        }
        *checkpoint = NULL;
        return 1;
    }
    if (o->compose_or) {
        fprintf(stderr, "ebm sample: --compose-op without --compose\n");
        return 12;
    }
    if (optind == argc) {
        fprintf(stderr, "ebm %s: give a CHECKPOINT (a run directory or its checkpoint.safetensors)\n", cmd);
        return 12;
    }
    *checkpoint = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "ebm %s: unexpected argument \"%s\" (one CHECKPOINT)\n", cmd, argv[optind]);
        return 12;
    }
    return 1;
}

static int cmd_score(int argc, char **argv, const char **checkpoint, const char **data, const char **out, const char **device, int *raw,
                     int *limit) {
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'}, {"device", required_argument, NULL, 'd'},
                                         {"raw", no_argument, NULL, 'r'},        {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int c;
    optind = 0, opterr = 0;
    while ((c = next_option(argc, argv, opts)) != -1) {
        if (c == 'o') *out = optarg;
        else if (c == 'd') *device = optarg;
        else if (c == 'r') *raw = 1;
        else if (c == 'l') {
            if (!parse_int_opt("score", "limit", optarg, 1, 1000000000, limit)) return 12;
        }
        else if (c == 'h') return 10 + command_help("score");
        else return 10 + bad_option("score", argc, argv);
    }
    if (argc - optind != 2) {
        fprintf(stderr, "ebm score: give a CHECKPOINT and DATA%s\n", argc - optind > 2 ? ", nothing more" : "");
        return 12;
    }
    *checkpoint = argv[optind], *data = argv[optind + 1];
    return 1;
}

/* a run directory stands for its checkpoint */
static const char *checkpoint_path(const char *arg, char *buf, size_t n) {
    size_t len = strlen(arg);
    if (len > 12 && !strcmp(arg + len - 12, ".safetensors")) return arg;
    snprintf(buf, n, "%s/checkpoint.safetensors", arg);
    return buf;
}

/* This build has no MPI: started as one of N > 1 ranks (mpirun, mpiexec), every rank would train,
 * sample or evaluate on its own into the same run folder. 1 after printing why (exit status 2), 0 to
 * go on. Open MPI sets OMPI_COMM_WORLD_SIZE, MPICH and Intel MPI's Hydra PMI_SIZE. */
static int started_as_ranks(const char *cmd) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) {
            if (dist_built())
                fprintf(stderr, "ebm %s: started as one of %ld MPI ranks (%s=%s), but only `ebm train` runs data-parallel: the "
                                "ranks would run %ld independent copies. Run a single process.\n", cmd, n, vars[i], v, n);
            else
                fprintf(stderr, "ebm %s: started as one of %ld MPI ranks (%s=%s), but this ebm is built without MPI: the ranks "
                                "would run %ld independent copies into one run folder. Run a single process.\n", cmd, n, vars[i], v, n);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "clblast-import")) return cmd_clblast_import(argc - 1, argv + 1);
    /* train runs data-parallel when built with MPI; the other commands are one process */
    if ((!strcmp(cmd, "train") ? !dist_built() : !strcmp(cmd, "sample") || !strcmp(cmd, "eval") || !strcmp(cmd, "score")) &&
        started_as_ranks(cmd))
        return 2;
    if (!strcmp(cmd, "train")) {
        if (!dist_init(&argc, &argv)) return 1;
        int rc = cmd_train(argc - 1, argv + 1);
        dist_finalize();
        return rc;
    }
    if (!strcmp(cmd, "sample") || !strcmp(cmd, "eval")) {
        ebm_sample_opts_t o = {.steps = -1, .mala = -1, .augment_every = -1};
        const char *device = NULL, *checkpoint = NULL;
        int mpm = 0, st = sample_opts(argc - 1, argv + 1, &o, &checkpoint, &device, !strcmp(cmd, "eval") ? &mpm : NULL);
        if (st != 1) return st - 10;
        char buf[1200], cbuf[1200];
        const char *ck = checkpoint ? checkpoint_path(checkpoint, buf, sizeof buf) : NULL;
        if (o.classifier) o.classifier = checkpoint_path(o.classifier, cbuf, sizeof cbuf);
        return !strcmp(cmd, "sample") ? ebm_sample(ck, device, &o) : ebm_eval(ck, device, &o, mpm);
    }
    if (!strcmp(cmd, "score")) {
        const char *checkpoint = NULL, *data = NULL, *out = NULL, *device = NULL;
        int raw = 0, limit = 0, st = cmd_score(argc - 1, argv + 1, &checkpoint, &data, &out, &device, &raw, &limit);
        if (st != 1) return st - 10;
        char buf[1200];
        return ebm_score(checkpoint_path(checkpoint, buf, sizeof buf), data, device, out, raw, limit);
    }
    if (!strcmp(cmd, "--version")) {
        printf("ebm %s\n", EBM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        if (argc > 2) return command_help(argv[2]);
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ebm: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
