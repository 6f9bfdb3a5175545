/* reduce.cl — sum or max down to a smaller shape. One work-group per output element; each item
 * strides over the reduced index space, then a fixed-order tree in local memory (deterministic). */

kernel void reduce(global float *y, ulong yo, global const float *x, ulong xo,
                   int k1, int k2, int k3, int ks0, int ks1, int ks2, int ks3,
                   int r1, int r2, int r3, int rs0, int rs1, int rs2, int rs3,
                   int R, int op, float scale) {
    local float buf[EBM_WG];
    int o = get_group_id(0);
    int lid = get_local_id(0);
    int j3 = o % k3, t = o / k3;
    int j2 = t % k2;
    t /= k2;
    int j1 = t % k1, j0 = t / k1;
    long base = IDX4(j0, j1, j2, j3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    for (int r = lid; r < R; r += EBM_WG) {
        int i3 = r % r3, u = r / r3;
        int i2 = u % r2;
        u /= r2;
        int i1 = u % r1, i0 = u / r1;
        float v = x[xo + base + IDX4(i0, i1, i2, i3, rs0, rs1, rs2, rs3)];
        acc = op == 0 ? acc + v : ((v > acc || isnan(v)) ? v : acc);
    }
    buf[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = EBM_WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            float v = buf[lid + s];
            buf[lid] = op == 0 ? buf[lid] + v : ((v > buf[lid] || isnan(v)) ? v : buf[lid]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) y[yo + o] = op == 0 ? buf[0] * scale : buf[0];
}

/* The same reduction for short reduced axes: one work item per output element, summing in order. */
kernel void reduce_small(global float *y, ulong yo, global const float *x, ulong xo,
                         int k1, int k2, int k3, int ks0, int ks1, int ks2, int ks3,
                         int r1, int r2, int r3, int rs0, int rs1, int rs2, int rs3,
                         int R, int op, float scale, int n_out) {
    int o = get_global_id(0);
    if (o >= n_out) return;
    int j3 = o % k3, t = o / k3;
    int j2 = t % k2;
    t /= k2;
    int j1 = t % k1, j0 = t / k1;
    long base = IDX4(j0, j1, j2, j3, ks0, ks1, ks2, ks3);
    float acc = op == 0 ? 0.0f : -INFINITY;
    for (int r = 0; r < R; r++) {
        int i3 = r % r3, u = r / r3;
        int i2 = u % r2;
        u /= r2;
        int i1 = u % r1, i0 = u / r1;
        float v = x[xo + base + IDX4(i0, i1, i2, i3, rs0, rs1, rs2, rs3)];
        acc = op == 0 ? acc + v : ((v > acc || isnan(v)) ? v : acc);
    }
    y[yo + o] = op == 0 ? acc * scale : acc;
}
