/* fftconv.cl — the frequency-domain step of FFT convolution: per bin, a complex reduction
 *   out[i][j][bin] = sum_r op_a(A[i*sai + r*sar][bin]) * op_b(B[j*sbj + r*sbr][bin])
 * with op = conjugate where asked. Forward (correlation), input-grad and weight-grad differ only in
 * strides and conjugation (engine/ops/fftconv.c). NDRange (bins, J, I). */
kernel void cmul_reduce(global float2 *out, global const float2 *A, global const float2 *B, int I, int J, int R, int nb,
                        int sai, int sar, int sbj, int sbr, int conja, int conjb) {
    int bin = (int)get_global_id(0), j = (int)get_global_id(1), i = (int)get_global_id(2);
    if (bin >= nb || j >= J || i >= I) return;
    float2 acc = (float2)(0.0f, 0.0f);
    for (int r = 0; r < R; r++) {
        float2 a = A[(size_t)(i * sai + r * sar) * nb + bin];
        float2 b = B[(size_t)(j * sbj + r * sbr) * nb + bin];
        if (conja) a.y = -a.y;
        if (conjb) b.y = -b.y;
        acc.x += a.x * b.x - a.y * b.y;
        acc.y += a.x * b.y + a.y * b.x;
    }
    out[((size_t)i * J + j) * nb + bin] = acc;
}
