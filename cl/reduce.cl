/* reduce.cl — sum or max down to a smaller shape, in a fixed summation order (deterministic).
 * Output element o sits at position (j0..j3) of the kept axes (sizes k0..k3, input strides ks);
 * it reduces R elements at positions (i0..i3) of the reduced axes (sizes r0..r3, strides rs). */

#define REDUCE_ARGS                                                                               \
    global float *y, ulong yo, global const float *x, ulong xo, int k1, int k2, int k3, int ks0, int ks1, int ks2,  \
        int ks3, int r1, int r2, int r3, int rs0, int rs1, int rs2, int rs3, int R, int op, float scale

static long kept_base(int o, int k1, int k2, int k3, int ks0, int ks1, int ks2, int ks3) {
    int j3 = o % k3, t = o / k3;
    int j2 = t % k2;
    t /= k2;
    int j1 = t % k1, j0 = t / k1;
    return IDX4(j0, j1, j2, j3, ks0, ks1, ks2, ks3);
}

/* Reduced index r (of type T: int, or int16 for 16 indices at once) as digits (i0..i3) of the
 * reduced axes (radices r0..r3; i0 takes the rest) */
#define REDUCED_DIGITS(T, r, i0, i1, i2, i3)                                                      \
    T i3 = (r) % r3, i2, i1, i0;                                                                  \
    {                                                                                             \
        T u_ = (r) / r3;                                                                          \
        i2 = u_ % r2, u_ /= r2, i1 = u_ % r1, i0 = u_ / r1;                                       \
    }
/* The offset of run q of a contiguous innermost reduced axis (the reduced axes outside it) */
#define RUN_OFFSET(q) IDX4((q) / (r1 * r2), (q) / r2 % r1, (q) % r2, 0, rs0, rs1, rs2, 0)
/* STEP(off) for the reduced index r = start, start + step, ... < R, in that order, off the element's
 * offset from the output's first element: the position walks by the step's digits with carries,
 * one division per work item instead of six per element. */
#define REDUCED_WALK_EACH(start, step, STEP)                                                      \
    {                                                                                             \
        REDUCED_DIGITS(int, start, i0, i1, i2, i3)                                                \
        REDUCED_DIGITS(int, step, d0, d1, d2, d3)                                                 \
        for (int r = (start); r < R; r += (step)) {                                               \
            STEP(IDX4(i0, i1, i2, i3, rs0, rs1, rs2, rs3))                                        \
            i3 += d3, i2 += d2, i1 += d1, i0 += d0;                                               \
            if (i3 >= r3) i3 -= r3, i2++;                                                         \
            if (i2 >= r2) i2 -= r2, i1++;                                                         \
            if (i1 >= r1) i1 -= r1, i0++;                                                         \
        }                                                                                         \
    }
/* acc = combine(op, acc, element) along that walk */
#define WALK_COMBINE_(off) acc = combine(op, acc, x[xo + base + (off)]);
#define REDUCED_WALK(start, step) REDUCED_WALK_EACH(start, step, WALK_COMBINE_)

/* op 0: sum, 1: max (NaN wins, so divergence stays visible) */
static float combine(int op, float acc, float v) { return op == 0 ? acc + v : ((v > acc || isnan(v)) ? v : acc); }
#define COMBINE_OP(a, b) combine(op, a, b)

/* combine for the 16 lanes of a float16 */
static float16 combine16(int op, float16 acc, float16 v) { return op == 0 ? acc + v : select(acc, v, (v > acc) | isnan(v)); }

/* Long reductions: one work-group per output element of nl = EBM_WG (or the device's limit)
 * items; item v strides over the reduced index space from v (or over each run of a long contiguous
 * innermost axis), then a fixed-order tree over the nl sums in local memory. */
kernel void reduce(REDUCE_ARGS) {
    local float buf[EBM_WG];
    int o = (int)get_group_id(0);
    int lid = (int)get_local_id(0), nl = (int)get_local_size(0);
    long base = kept_base(o, k1, k2, k3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    if (rs3 == 1 && r3 >= nl) {
        /* a contiguous innermost axis at least a group long: the items take consecutive elements
         * of each of its runs (vector loads), the runs in order */
        for (int q = 0; q < R / r3; q++) {
            long run = base + RUN_OFFSET(q);
            for (int i = lid; i < r3; i += nl) acc = combine(op, acc, x[xo + run + i]);
        }
    } else
        REDUCED_WALK(lid, nl)
    buf[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    EBM_TREE(buf, lid, nl, COMBINE_OP)
    if (lid == 0) y[yo + o] = op == 0 ? buf[0] * scale : buf[0];
}

/* reduce for PoCL, which runs a loop inside a work item as scalar code: a work item carries 16
 * consecutive items of reduce (nl = 16 x the work-group) in the lanes of a float16. The same sums in
 * the same order, the same bits. */
kernel void reduce_lanes(REDUCE_ARGS) {
    local float buf[EBM_WG];
    int o = (int)get_group_id(0);
    int v0 = 16 * (int)get_local_id(0), nl = 16 * (int)get_local_size(0);
    long base = kept_base(o, k1, k2, k3, ks0, ks1, ks2, ks3);
    float none = op == 0 ? 0.0f : -INFINITY;
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    if (rs3 == 1 && r3 >= nl) {
        float16 a = (float16)none;
        for (int q = 0; q < R / r3; q++) {
            global const float *run = x + xo + base + RUN_OFFSET(q);
            for (int i = v0; i < r3; i += nl) {
                float16 v;
                if (i + 16 <= r3)
                    v = vload16(0, run + i);
                else {
                    float t[16];
                    for (int l = 0; l < 16; l++) t[l] = i + l < r3 ? run[i + l] : none;
                    v = vload16(0, t);
                }
                /* the lanes past the run keep their sums */
                a = select(a, combine16(op, a, v), (int16)i + lane < (int16)r3);
            }
        }
        vstore16(a, 0, buf + v0);
    } else {
        /* REDUCED_WALK for the 16 items at once: lane l from v0 + l by nl, its digits in int16s */
        REDUCED_DIGITS(int16, (int16)v0 + lane, i0, i1, i2, i3)
        REDUCED_DIGITS(int, nl, d0, d1, d2, d3)
        float16 a = (float16)none;
        for (int r = v0; r < R; r += nl) {
            float16 v;
            if (rs3 == 1 && i3.s0 + 16 <= r3 && r + 16 <= R)   /* the 16 elements within one run: one load */
                v = vload16(0, x + xo + base + IDX4(i0.s0, i1.s0, i2.s0, i3.s0, rs0, rs1, rs2, rs3));
            else {
                int h0[16], h1[16], h2[16], h3[16];
                vstore16(i0, 0, h0), vstore16(i1, 0, h1), vstore16(i2, 0, h2), vstore16(i3, 0, h3);
                float t[16];
                for (int l = 0; l < 16; l++) t[l] = r + l < R ? x[xo + base + IDX4(h0[l], h1[l], h2[l], h3[l], rs0, rs1, rs2, rs3)] : none;
                v = vload16(0, t);
            }
            a = select(a, combine16(op, a, v), (int16)r + lane < (int16)R);
            /* the step's digits, with carries (a comparison is -1 where true) */
            i3 += d3, i2 += d2, i1 += d1, i0 += d0;
            int16 c = i3 >= (int16)r3;
            i3 = select(i3, i3 - r3, c), i2 -= c;
            c = i2 >= (int16)r2;
            i2 = select(i2, i2 - r2, c), i1 -= c;
            c = i1 >= (int16)r1;
            i1 = select(i1, i1 - r1, c), i0 -= c;
        }
        vstore16(a, 0, buf + v0);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    EBM_TREE_SPAN(buf, v0, 16, nl, COMBINE_OP)   /* EBM_TREE's pairs, 16 entries per work item */
    if (v0 == 0) y[yo + o] = op == 0 ? buf[0] * scale : buf[0];
}

/* Short reduced axes: one work item per output element, summing in order. (Intel's CPU compiler
 * vectorised the contiguous loop with the additions reassociated: one ulp off the other devices'
 * sums of 19 floats; the pragma keeps the order.) */
/* output o of reduce_small */
static void reduce_one(REDUCE_ARGS, int o) {
    long base = kept_base(o, k1, k2, k3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    if (rs3 == 1 && r3 == R) {   /* contiguous */
#pragma clang loop vectorize(disable)
        for (int r = 0; r < R; r++) acc = combine(op, acc, x[xo + base + r]);
    } else
        REDUCED_WALK(0, 1)
    y[yo + o] = op == 0 ? acc * scale : acc;
}

#define REDUCE_PASS y, yo, x, xo, k1, k2, k3, ks0, ks1, ks2, ks3, r1, r2, r3, rs0, rs1, rs2, rs3, R, op, scale

kernel void reduce_small(REDUCE_ARGS, int n_out) {
    int o = (int)get_global_id(0);
    if (o >= n_out) return;
    reduce_one(REDUCE_PASS, o);
}

/* reduce_small on PoCL (EBM_REDUCE_LANES=16): a work item takes 16 consecutive outputs. Where they
 * are 16 consecutive elements of the innermost kept axis, of stride 1 (a sum over the outer axes,
 * as of per-chunk partial results), each step of the walk loads them as one vector, and the 16 sums
 * run in the lanes of a float16; elsewhere the outputs go one at a time. Every output still adds its
 * R elements in order: the bits of reduce_small. NDRange ceil(n_out / 16). */
kernel void reduce_small16(REDUCE_ARGS, int n_out) {
    int o0 = 16 * (int)get_global_id(0);
    if (o0 >= n_out) return;
    if (ks3 == 1 && o0 % k3 + 16 <= k3 && o0 + 16 <= n_out) {
        global const float *xb = x + xo + kept_base(o0, k1, k2, k3, ks0, ks1, ks2, ks3);
        float16 acc = (float16)(op == 0 ? 0.0f : -INFINITY);
#define WALK_COMBINE16_(off) acc = combine16(op, acc, vload16(0, xb + (off)));
        REDUCED_WALK_EACH(0, 1, WALK_COMBINE16_)
#undef WALK_COMBINE16_
        vstore16(op == 0 ? acc * scale : acc, 0, y + yo + o0);
        return;
    }
    for (int o = o0; o < min(o0 + 16, n_out); o++) reduce_one(REDUCE_PASS, o);
}
