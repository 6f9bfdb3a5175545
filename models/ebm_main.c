/* ebm_main.c — the `ebm` command-line program.
 *
 *   ebm devices [--device D] | --ids [D,D...]     list every OpenCL platform and device
 *   ebm train CONFIG [--device D] [--set s.k=v]... [--out DIR]   train (a config of configs/)
 *   ebm train --resume DIR [--set s.k=v]...       continue a run (e.g. --set run.iters=4000)
 *   ebm train [CONFIG] --print-config             the full configuration, every default shown
 *   ebm sample CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--augment-every N] [--out PNG] [--set s.k=v]
 *   ebm score CHECKPOINT DATA [--out CSV]         per-example energy and |grad_x E|^2
 *   ebm eval CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--min-per-mode N] [--set s.k=v]
 *            [--classifier RUN] [--ood] [--ood-folder DIR]
 *   ebm --version
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebm.h"
#include "train.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ebm <command> [options]\n"
            "commands:\n"
            "  devices [--device D]          list OpenCL platforms and devices, and the one D selects (--device or\n"
            "                                EBM_DEVICE: pocl, nvidia, amd, intel, cpu, gpu, P:D, or a name substring)\n"
            "  devices --ids [D,D...]        a line \"TAG P:D\" per device (each D's, or every device)\n"
            "  train CONFIG [--out DIR] [--overwrite] [--set section.key=value]... [--device D]\n"
            "                                (a DIR holding a run is refused: --resume it, or --overwrite it)\n"
            "  train --resume DIR [--set section.key=value]... [--device D]\n"
            "  train [CONFIG] --print-config print the full configuration with every default\n"
            "  sample CHECKPOINT [--n N] [--steps K] [--init noise|buffer] [--augment-every N] [--raw] [--seed S]\n"
            "                    [--out PNG]  Langevin samples (EMA weights unless --raw) as a PNG grid or heat map\n"
            "                    sample and eval: --set sampler.KEY=V, eval.KEY=V, generator.mala_steps=N, ...\n"
            "                    change how the trained model samples (e.g. sampler.step_size, sampler.noise)\n"
            "                    generator runs (meg, ddgm, dual): G(z), with [--mala N] latent MALA steps on z first\n"
            "                    and --steps K Langevin steps on E in x after\n"
            "  score CHECKPOINT DATA [--out CSV] [--raw]   energy and |grad_x E|^2 of every example (data as in\n"
            "                                [data] source: IDX, CSV, image folder, toy:NAME)\n"
            "  eval CHECKPOINT [--n N] [--steps K] [--mala N] [--init noise|buffer] [--min-per-mode N] [--raw]\n"
            "                 [--classifier RUN] [--ood] [--ood-folder DIR]\n"
            "                                2-D mixtures: modes covered and high-quality sample fraction;\n"
            "                                images with --classifier RUN: modes (channel class tuples) covered\n"
            "                                and KL to uniform (stacked Fashion-MNIST: 26 000 samples, 1000 modes);\n"
            "                                a classify run: its test accuracy; a run with [data] anomaly_class:\n"
            "                                AUPRC of E and |grad E|^2 on MEG's test split (--n: first N examples);\n"
            "                                --ood [--ood-folder DIR]: AUROC of -E, test images vs noise, upside-down,\n"
            "                                inverted images and the folder's\n"
            "  --version                     print the version\n");
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

static int cmd_devices(int argc, char **argv) {
    const char *sel = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) sel = argv[++i];
        else if (!strcmp(argv[i], "--ids")) return list_ids(i + 1 < argc ? argv[i + 1] : NULL);
        else {
            fprintf(stderr, "ebm devices: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    ebm_status_t st = ebm_devices_print(stdout);
    if (st != EBM_OK) return 1;
    ebm_ctx_t *ctx;
    if (ebm_ctx_create(&ctx, sel) != EBM_OK) {
        fprintf(stderr, "ebm: %s\n", ebm_ctx_error(NULL));
        return 1;
    }
    const ebm_device_info_t *d = ebm_ctx_device(ctx);
    char tag[32];
    ebm_device_tag(d, tag, sizeof tag);
    printf("selected: %d:%d %s [%s]\n", d->platform_index, d->device_index, d->name, tag);
    ebm_ctx_free(ctx);
    return 0;
}

static int cmd_train(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *resume = NULL, *device = NULL;
    const char *sets[64];
    int n_sets = 0, print = 0, overwrite = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--out") && has) out = argv[++i];
        else if (!strcmp(a, "--overwrite")) overwrite = 1;
        else if (!strcmp(a, "--resume") && has) resume = argv[++i];
        else if (!strcmp(a, "--device") && has) device = argv[++i];
        else if (!strcmp(a, "--set") && has && n_sets < 64) sets[n_sets++] = argv[++i];
        else if (!strcmp(a, "--print-config")) print = 1;
        else if (a[0] != '-' && !config) config = a;
        else {
            fprintf(stderr, "ebm train: unexpected argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!config && !resume && !print) {
        fprintf(stderr, "ebm train: give a CONFIG file (see configs/) or --resume DIR\n");
        return 2;
    }
    if (config && resume) {
        fprintf(stderr, "ebm train: --resume takes the config saved in the checkpoint; change it with --set, not a CONFIG file\n");
        return 2;
    }
    ebm_config_t *cfg = ebm_config_new(ebm_train_keys);
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

/* shared options of sample and eval */
static int sample_opts(int argc, char **argv, int first, ebm_sample_opts_t *o, const char **device, int *min_per_mode,
                       const char *cmd) {
    static const char *sets[32];
    o->sets = sets;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--n") && has) o->n = atoi(argv[++i]);
        else if (!strcmp(a, "--steps") && has) o->steps = atoi(argv[++i]);
        else if (!strcmp(a, "--init") && has) o->init = argv[++i];
        else if (!strcmp(a, "--mala") && has) o->mala = atoi(argv[++i]);
        else if (min_per_mode && !strcmp(a, "--classifier") && has) o->classifier = argv[++i];
        else if (min_per_mode && !strcmp(a, "--ood")) o->ood = 1;
        else if (min_per_mode && !strcmp(a, "--ood-folder") && has) o->ood_folder = argv[++i];
        else if (!strcmp(a, "--augment-every") && has) o->augment_every = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && has) o->seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--out") && has) o->out = argv[++i];
        else if (!strcmp(a, "--device") && has) *device = argv[++i];
        else if (!strcmp(a, "--raw")) o->raw = 1;
        else if (!strcmp(a, "--set") && has && o->n_sets < 32) sets[o->n_sets++] = argv[++i];
        else if (min_per_mode && !strcmp(a, "--min-per-mode") && has) *min_per_mode = atoi(argv[++i]);
        else {
            fprintf(stderr, "ebm %s: unexpected argument \"%s\"\n", cmd, a);
            return 0;
        }
    }
    return 1;
}

/* a run directory stands for its checkpoint */
static const char *checkpoint_path(const char *arg, char *buf, size_t n) {
    size_t len = strlen(arg);
    if (len > 12 && !strcmp(arg + len - 12, ".safetensors")) return arg;
    snprintf(buf, n, "%s/checkpoint.safetensors", arg);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "devices")) return cmd_devices(argc - 2, argv + 2);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "sample") || !strcmp(cmd, "eval")) {
        if (argc < 3 || argv[2][0] == '-') {
            fprintf(stderr, "ebm %s: give a CHECKPOINT (a run directory or its checkpoint.safetensors)\n", cmd);
            return 2;
        }
        ebm_sample_opts_t o = {.steps = -1, .mala = -1, .augment_every = -1};
        const char *device = NULL;
        int mpm = 0;
        char buf[1200], cbuf[1200];
        if (!sample_opts(argc, argv, 3, &o, &device, !strcmp(cmd, "eval") ? &mpm : NULL, cmd)) return 2;
        const char *ck = checkpoint_path(argv[2], buf, sizeof buf);
        if (o.classifier) o.classifier = checkpoint_path(o.classifier, cbuf, sizeof cbuf);
        return !strcmp(cmd, "sample") ? ebm_sample(ck, device, &o) : ebm_eval(ck, device, &o, mpm);
    }
    if (!strcmp(cmd, "score")) {
        if (argc < 4 || argv[2][0] == '-' || argv[3][0] == '-') {
            fprintf(stderr, "ebm score: give a CHECKPOINT and DATA\n");
            return 2;
        }
        const char *out = NULL, *device = NULL;
        int raw = 0;
        for (int i = 4; i < argc; i++) {
            if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
            else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
            else if (!strcmp(argv[i], "--raw")) raw = 1;
            else {
                fprintf(stderr, "ebm score: unexpected argument \"%s\"\n", argv[i]);
                return 2;
            }
        }
        char buf[1200];
        return ebm_score(checkpoint_path(argv[2], buf, sizeof buf), argv[3], device, out, raw);
    }
    if (!strcmp(cmd, "--version")) {
        printf("ebm %s\n", EBM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ebm: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
