/* optim.cl — fused optimizer updates over the flat parameter buffer. `scale` points at a device
 * scalar multiplying the gradient (global-norm clipping without a host round trip). */

kernel void sgd_step(global float *p, global float *g, global float *m, global const float *scale,
                     float lr, float momentum, float wd, int has_m, ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i] * scale[0] + wd * p[i];
    if (has_m) {
        float mi = momentum * m[i] + gi;
        m[i] = mi;
        gi = mi;
    }
    p[i] -= lr * gi;
}

/* PyTorch Adam (L2 in the gradient) or AdamW (decoupled); bc1 = 1 - b1^t, bc2 = 1 - b2^t */
kernel void adam_step(global float *p, global float *g, global float *m, global float *v, global const float *scale,
                      float lr, float b1, float b2, float eps, float wd, int decoupled, float bc1, float bc2, ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float pi = p[i];
    float gi = g[i] * scale[0];
    if (decoupled) pi -= lr * wd * pi;
    else gi += wd * pi;
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float denom = sqrt(vi / bc2) + eps;
    p[i] = pi - (lr / bc1) * mi / denom;
}

kernel void adagrad_step(global float *p, global float *g, global float *s, global const float *scale,
                         float lr, float eps, float wd, ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i] * scale[0] + wd * p[i];
    float si = s[i] + gi * gi;
    s[i] = si;
    p[i] -= lr * gi / (sqrt(si) + eps);
}

/* partial sums of squares: group b sums the elements [b*chunk, min((b+1)*chunk, n)) into out[b] */
kernel void sumsq_partial(global float *out, global const float *g, ulong n, ulong chunk) {
    local float buf[EBM_WG];
    size_t grp = get_group_id(0);
    int lid = (int)get_local_id(0), nl = (int)get_local_size(0);
    /* in ulong (size_t may be 32 bits); the bounds of a device buffer fit the device's size_t */
    size_t start = (size_t)(grp * chunk), end = (size_t)min(grp * chunk + chunk, n);
    float acc = 0.0f;
    for (size_t i = start + (size_t)lid; i < end; i += (size_t)nl) acc += g[i] * g[i];
    buf[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    EBM_TREE(buf, lid, nl, EBM_ADD)
    if (lid == 0) out[grp] = buf[0];
}

/* one work-group: norm = sqrt(sum partials); scale = min(1, max_norm / (norm + 1e-6)) (PyTorch) */
kernel void clip_scale(global float *scale, global float *norm, global const float *partials, int n_part, float max_norm) {
    local float buf[EBM_WG];
    int lid = (int)get_local_id(0), nl = (int)get_local_size(0);
    float acc = 0.0f;
    for (int i = lid; i < n_part; i += nl) acc += partials[i];
    buf[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    EBM_TREE(buf, lid, nl, EBM_ADD)
    if (lid == 0) {
        float nrm = sqrt(buf[0]);
        norm[0] = nrm;
        float c = max_norm > 0.0f ? max_norm / (nrm + 1e-6f) : 1.0f;
        scale[0] = c < 1.0f ? c : 1.0f;
    }
}

kernel void ema_update(global float *e, global const float *p, float decay, ulong n) {
    size_t i = get_global_id(0);
    if (i < n) e[i] = decay * e[i] + (1.0f - decay) * p[i];
}

kernel void swap(global float *a, global float *b, ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float t = a[i];
    a[i] = b[i];
    b[i] = t;
}
