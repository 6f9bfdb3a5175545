/* rng.cl — Philox4x32-10 and its uniform/normal transforms. This one file is compiled both as
 * OpenCL (kernels at the bottom) and as C (engine/rng.c includes it), so host and device run the
 * same arithmetic. Contraction into FMA is off and only + - * and bit operations are used (no
 * library transcendental, no division), so every IEEE-754 device gives the same bits. */
#ifdef __OPENCL_VERSION__
#pragma OPENCL FP_CONTRACT OFF
typedef uint rng_u32;
typedef ulong rng_u64;
/* Inlined and unrolled on the device (common.cl, EBM_UNROLL: the Langevin update ran 7x slower on
 * PoCL otherwise) */
#define RNG_FN static inline __attribute__((always_inline))
#define RNG_UNROLL EBM_UNROLL
#define RNG_AS_FLOAT(u) as_float(u)
#define RNG_AS_UINT(f) as_uint(f)
#else
#include <stdint.h>
#include <string.h>
typedef uint32_t rng_u32;
typedef uint64_t rng_u64;
#define RNG_FN static inline
#define RNG_UNROLL
static inline float RNG_AS_FLOAT(rng_u32 u) { float f; memcpy(&f, &u, 4); return f; }
static inline rng_u32 RNG_AS_UINT(float f) { rng_u32 u; memcpy(&u, &f, 4); return u; }
#endif

RNG_FN void philox4x32_10(rng_u32 c[4], rng_u32 k0, rng_u32 k1) {
    RNG_UNROLL
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        rng_u64 p0 = (rng_u64)0xD2511F53u * c[0];
        rng_u64 p1 = (rng_u64)0xCD9E8D57u * c[2];
        rng_u32 hi0 = (rng_u32)(p0 >> 32), lo0 = (rng_u32)p0;
        rng_u32 hi1 = (rng_u32)(p1 >> 32), lo1 = (rng_u32)p1;
        rng_u32 n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = lo1;
        c[2] = n2;
        c[3] = lo0;
    }
}

/* The 4 words of Philox block `block` for (seed, stream). */
RNG_FN void rng_block(rng_u64 seed, rng_u64 stream, rng_u64 block, rng_u32 w[4]) {
    w[0] = (rng_u32)block;
    w[1] = (rng_u32)(block >> 32);
    w[2] = (rng_u32)stream;
    w[3] = (rng_u32)(stream >> 32);
    philox4x32_10(w, (rng_u32)seed, (rng_u32)(seed >> 32));
}

/* [0, 1) */
RNG_FN float rng_u01(rng_u32 w) { return (float)(w >> 8) * 5.9604644775390625e-08f; }
/* (0, 1] */
RNG_FN float rng_u01_open0(rng_u32 w) { return (float)((w >> 8) + 1u) * 5.9604644775390625e-08f; }

/* log(u) for u in (0, 1]: exponent split (exact), then 2 atanh((m-1)/(m+1)) with the reciprocal
 * by Newton iterations. Absolute error ~1e-7. */
RNG_FN float rng_log(float u) {
    rng_u32 bits = RNG_AS_UINT(u);
    int e = (int)((bits >> 23) & 0xffu) - 127;
    float m = RNG_AS_FLOAT((bits & 0x7fffffu) | 0x3f800000u);
    if (m > 1.41421356f) {
        m = m * 0.5f;
        e += 1;
    }
    float d = m + 1.0f;
    float r = 0.5f;
    RNG_UNROLL
    for (int i = 0; i < 5; i++) r = r * (2.0f - d * r);
    float s = (m - 1.0f) * r;
    float s2 = s * s;
    float p = 0.09090909f;
    p = p * s2 + 0.11111111f;
    p = p * s2 + 0.14285715f;
    p = p * s2 + 0.2f;
    p = p * s2 + 0.33333334f;
    p = p * s2 + 1.0f;
    return (float)e * 0.69314718f + 2.0f * s * p;
}

RNG_FN float rng_sqrt(float r) {
    if (r <= 0.0f) return 0.0f;
    float y = RNG_AS_FLOAT(0x5f3759dfu - (RNG_AS_UINT(r) >> 1));
    RNG_UNROLL
    for (int i = 0; i < 4; i++) y = y * (1.5f - 0.5f * r * y * y);
    return r * y;
}

/* cos and sin of 2*pi*u, u in [0, 1): quadrant split (exact), Taylor on [-pi/4, pi/4]. */
RNG_FN void rng_sincos2pi(float u, float *c, float *s) {
    float t = u * 4.0f;
    int q = (int)t;
    float f = t - (float)q;
    if (f >= 0.5f) {
        f = f - 1.0f;
        q += 1;
    }
    float th = f * 1.57079637f, t2 = th * th;
    float sp = 2.7557319e-06f;
    sp = sp * t2 - 1.98412698e-04f;
    sp = sp * t2 + 8.33333377e-03f;
    sp = sp * t2 - 0.166666672f;
    sp = sp * t2 + 1.0f;
    float sn = th * sp;
    float cp = 2.48015873e-05f;
    cp = cp * t2 - 1.38888892e-03f;
    cp = cp * t2 + 4.16666679e-02f;
    cp = cp * t2 - 0.5f;
    float cs = cp * t2 + 1.0f;
    q &= 3;   /* selects, not a switch (see RNG_FN) */
    *c = q == 0 ? cs : (q == 1 ? -sn : (q == 2 ? -cs : sn));
    *s = q == 0 ? sn : (q == 1 ? cs : (q == 2 ? -sn : -cs));
}

/* Two standard normals from two words (Box–Muller). */
RNG_FN void rng_normal2(rng_u32 w0, rng_u32 w1, float *n0, float *n1) {
    float rad = rng_sqrt(-2.0f * rng_log(rng_u01_open0(w0)));
    float c, s;
    rng_sincos2pi(rng_u01(w1), &c, &s);
    *n0 = rad * c;
    *n1 = rad * s;
}

#ifdef __OPENCL_VERSION__
/* One work item per Philox block: elements 4*b .. 4*b+3 of the draw. */
kernel void rng_bits(global uint *y, ulong yo, ulong seed, ulong stream, ulong counter, ulong n) {
    ulong b = get_global_id(0);
    if (b * 4 >= n) return;
    uint w[4];
    rng_block(seed, stream, counter + b, w);
    RNG_UNROLL
    for (int j = 0; j < 4; j++)
        if (b * 4 + j < n) y[yo + b * 4 + j] = w[j];
}

kernel void rng_uniform(global float *y, ulong yo, ulong seed, ulong stream, ulong counter, float lo, float hi, ulong n) {
    ulong b = get_global_id(0);
    if (b * 4 >= n) return;
    uint w[4];
    rng_block(seed, stream, counter + b, w);
    RNG_UNROLL
    for (int j = 0; j < 4; j++)
        if (b * 4 + j < n) y[yo + b * 4 + j] = lo + (hi - lo) * rng_u01(w[j]);
}

/* One fused Langevin update per element i, the noise drawn from Philox block counter + i/4:
 *   y = clamp(x - eta * clip(g, -c, c) + sigma * N(0, 1), lo, hi)
 * (c <= 0: no gradient clipping; sigma = 0: no noise; lo/hi +-INFINITY: no clamp). */
kernel void langevin_step(global float *y, ulong yo, global const float *x, ulong xo, global const float *g, ulong go,
                          float eta, float sigma, float clip, float lo, float hi, ulong seed, ulong stream, ulong counter,
                          ulong n) {
    ulong b = get_global_id(0);
    if (b * 4 >= n) return;
    uint w[4];
    float v[4];
    rng_block(seed, stream, counter + b, w);
    rng_normal2(w[0], w[1], &v[0], &v[1]);
    rng_normal2(w[2], w[3], &v[2], &v[3]);
    RNG_UNROLL
    for (int j = 0; j < 4; j++) {
        ulong i = b * 4 + j;
        if (i < n) {
            float gi = g[go + i];
            if (clip > 0.0f) gi = fmin(fmax(gi, -clip), clip);
            float r = x[xo + i] - eta * gi + sigma * v[j];
            y[yo + i] = isnan(r) ? r : fmin(fmax(r, lo), hi);
        }
    }
}

/* MALA acceptance per chain: chain c keeps its proposal when u_c < exp(log_alpha_c).
 * x (chains, d) updated in place; accepted[c] = 0 or 1. */
kernel void mala_select(global float *x, ulong xo, global const float *prop, ulong po, global const float *log_alpha,
                        ulong lo_, global const float *u, ulong uo, global float *accepted, ulong ao, int d, ulong n) {
    ulong i = get_global_id(0);
    if (i >= n) return;
    ulong c = i / (ulong)d;
    int acc = log(u[uo + c]) < log_alpha[lo_ + c];
    if (acc) x[xo + i] = prop[po + i];
    if (i % (ulong)d == 0) accepted[ao + c] = acc ? 1.0f : 0.0f;
}

/* Replay-buffer draw: row r of y (row_len values) is a copy of row idx[r] of buf, or, where
 * idx[r] < 0, fresh U(lo, hi) noise from Philox block counter + (r * row_len + i) / 4. NDRange (row_len, B). */
kernel void rows_gather(global float *y, global const float *buf, global const int *idx, int row_len, int B, float lo,
                        float hi, ulong seed, ulong stream, ulong counter) {
    int i = (int)get_global_id(0), r = (int)get_global_id(1);
    if (i >= row_len || r >= B) return;
    int src = idx[r];
    ulong e = (ulong)r * row_len + i;
    uint w[4];
#ifdef RB_U8   /* 8-bit storage: code k stands for the bin [k, k+1) / 256 of [lo, hi], read back uniformly in it */
    rng_block(seed, stream, counter + e / 4, w);
    float u = rng_u01(w[e % 4]);
    if (src >= 0) {
        float k = (float)((global const uchar *)buf)[(size_t)src * row_len + i];
        y[(size_t)r * row_len + i] = lo + (hi - lo) * ((k + u) * (1.0f / 256.0f));
    } else
        y[(size_t)r * row_len + i] = lo + (hi - lo) * u;
#else
    if (src >= 0) {
        y[(size_t)r * row_len + i] = buf[(size_t)src * row_len + i];
    } else {
        rng_block(seed, stream, counter + e / 4, w);
        y[(size_t)r * row_len + i] = lo + (hi - lo) * rng_u01(w[e % 4]);
    }
#endif
}

/* Replay-buffer store: row r of x goes to row slot[r] of buf (slot < 0: dropped). NDRange (row_len, B). */
kernel void rows_scatter(global float *buf, global const float *x, ulong xo, global const int *slot, int row_len, int B, float lo,
                         float hi) {
    int i = (int)get_global_id(0), r = (int)get_global_id(1);
    if (i >= row_len || r >= B || slot[r] < 0) return;
    float v = x[xo + (size_t)r * row_len + i];
#ifdef RB_U8
    float k = floor((v - lo) / (hi - lo) * 256.0f);
    ((global uchar *)buf)[(size_t)slot[r] * row_len + i] = (uchar)clamp(k, 0.0f, 255.0f);   /* NaN -> 0 */
#else
    (void)lo, (void)hi;   /* the 8-bit storage's range */
    buf[(size_t)slot[r] * row_len + i] = v;
#endif
}

/* Bernoulli draws: y_i = 1 where u_i < p_i, else 0, u_i = uniform word i % 4 of Philox block counter + i/4
 * (the draw ebm_rng_host_uniform makes), so host and every device give the same 0/1 pattern. */
kernel void bernoulli(global float *y, ulong yo, global const float *p, ulong po, ulong seed, ulong stream, ulong counter,
                      ulong n) {
    ulong b = get_global_id(0);
    if (b * 4 >= n) return;
    uint w[4];
    rng_block(seed, stream, counter + b, w);
    RNG_UNROLL
    for (int j = 0; j < 4; j++)
        if (b * 4 + j < n) y[yo + b * 4 + j] = rng_u01(w[j]) < p[po + b * 4 + j] ? 1.0f : 0.0f;
}

kernel void rng_normal(global float *y, ulong yo, ulong seed, ulong stream, ulong counter, float mean, float std, ulong n) {
    ulong b = get_global_id(0);
    if (b * 4 >= n) return;
    uint w[4];
    rng_block(seed, stream, counter + b, w);
    float v[4];
    rng_normal2(w[0], w[1], &v[0], &v[1]);
    rng_normal2(w[2], w[3], &v[2], &v[3]);
    RNG_UNROLL
    for (int j = 0; j < 4; j++)
        if (b * 4 + j < n) y[yo + b * 4 + j] = mean + std * v[j];
}
#endif
