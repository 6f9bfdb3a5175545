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

static long reduced_off(int r, int r1, int r2, int r3, int rs0, int rs1, int rs2, int rs3) {
    int i3 = r % r3, u = r / r3;
    int i2 = u % r2;
    u /= r2;
    int i1 = u % r1, i0 = u / r1;
    return IDX4(i0, i1, i2, i3, rs0, rs1, rs2, rs3);
}

/* op 0: sum, 1: max (NaN wins, so divergence stays visible) */
static float combine(int op, float acc, float v) { return op == 0 ? acc + v : ((v > acc || isnan(v)) ? v : acc); }

/* Long reductions: one work-group (of at most EBM_WG items) per output element; items stride over
 * the reduced index space, then a fixed-order tree in local memory. */
kernel void reduce(REDUCE_ARGS) {
    local float buf[EBM_WG];
    int o = (int)get_group_id(0);
    int lid = (int)get_local_id(0), nl = (int)get_local_size(0);
    long base = kept_base(o, k1, k2, k3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    for (int r = lid; r < R; r += nl) acc = combine(op, acc, x[xo + base + reduced_off(r, r1, r2, r3, rs0, rs1, rs2, rs3)]);
    buf[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
#define COMBINE_OP(a, b) combine(op, a, b)
    EBM_TREE(buf, lid, nl, COMBINE_OP)
    if (lid == 0) y[yo + o] = op == 0 ? buf[0] * scale : buf[0];
}

/* Short reduced axes: one work item per output element, summing in order. */
kernel void reduce_small(REDUCE_ARGS, int n_out) {
    int o = (int)get_global_id(0);
    if (o >= n_out) return;
    long base = kept_base(o, k1, k2, k3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    for (int r = 0; r < R; r++) acc = combine(op, acc, x[xo + base + reduced_off(r, r1, r2, r3, rs0, rs1, rs2, rs3)]);
    y[yo + o] = op == 0 ? acc * scale : acc;
}
