/* memory.cl — fill and strided 4-D copy (permute, slice, concat, expand all reduce to it). */

kernel void fill(global float *y, ulong yo, float v, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[yo + i] = v;
}

/* d[doff + sum i_k * ds_k] = s[soff + sum i_k * ss_k] for i in box (n0, n1, n2, n3).
 * NDRange (n3, n2, n0*n1): the contiguous axis in dimension 0, no 64-bit division. */
kernel void copy_strided(global float *d, ulong doff, global const float *s, ulong soff,
                         int n0, int n1, int n2, int n3,
                         int ds0, int ds1, int ds2, int ds3,
                         int ss0, int ss1, int ss2, int ss3) {
    int i3 = (int)get_global_id(0), i2 = (int)get_global_id(1), i01 = (int)get_global_id(2);
    if (i3 >= n3 || i2 >= n2 || i01 >= n0 * n1) return;
    int i0 = i01 / n1, i1 = i01 - i0 * n1;
    d[doff + IDX4(i0, i1, i2, i3, ds0, ds1, ds2, ds3)] = s[soff + IDX4(i0, i1, i2, i3, ss0, ss1, ss2, ss3)];
}
