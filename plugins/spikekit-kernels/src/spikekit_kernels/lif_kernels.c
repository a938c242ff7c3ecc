/* Fused leaky-integrate-and-fire time loops for spikekit-kernels (compiled at first use, loaded with ctypes).
 *
 * One shared library per configuration: the compiler receives the configuration as macros,
 *   -DREAL=float|double -DFLAGS=<F_* bits> -DSPK=<spike kind> -DSG=<surrogate kind>
 * so every flag test below is a compile-time constant, the loops over neurons are branch-free and the compiler
 * vectorises them. Build with -ffp-contract=off and without -ffast-math: every expression rounds exactly as
 * PyTorch's elementwise CPU ops do (vector division, truncation and comparisons are exact IEEE operations, and no
 * reduction crosses lanes), so the forward outputs match the reference backend bit for bit. The equations and the
 * backward recursion are documented in spikekit_kernels/op.py.
 *
 * Layout: x, out, u (pre-spike membrane) and the per-step saves are (B, T, N) contiguous; states are (B, N)
 * contiguous; per-neuron parameters are (B, N) with any strides (broadcast ones have stride 0; each work item
 * gathers its block into local arrays); the output gradient may have any strides (rows that are not contiguous are
 * gathered into a local buffer). Work items are (batch row, block of BLOCK neurons); each runs the whole time
 * loop for its neurons, the neuron loop innermost. Threads take items from a shared counter.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#ifndef REAL
#define REAL float
#endif
#ifndef FLAGS
#define FLAGS 16
#endif
#ifndef SPK
#define SPK 0
#endif
#ifndef SG
#define SG 1
#endif

enum { F_SYN = 1, F_NORM = 2, F_FLOOR = 4, F_ALIF = 8, F_SPIKING = 16, F_RESET = 32, F_SUBVAL = 64, F_MAXCLAMP = 128 };
enum { SPK_MULTI = 0, SPK_SINGLE = 1 };
enum { SG_TENSOR = 0, SG_SINGLE_EXP = 1, SG_GAUSS = 2, SG_MULTI_GAUSS = 3, SG_HEAVISIDE = 4, SG_PERIODIC_EXP = 5 };
#define HAS(F) ((FLAGS & (F)) != 0)
/* Neurons per work item. An item runs the whole time loop for its neurons, reading one row of BLOCK values per step
 * from rows N values apart: with BLOCK >= N (dense layers up to 1024 neurons) an item's reads and writes over time are
 * one contiguous stream, and for larger N each step still reads 4 KiB contiguously (one page), which the hardware
 * prefetchers follow; 256 (1 KiB per step, a page jump every step) measured about 20 % slower for a LIF layer's
 * forward+backward at [32, 100, 1024]. The per-item arrays (parameters, states, adjoints) stay in L1/L2. */
#define BLOCK 1024
#define INLINE static inline __attribute__((always_inline))
#define R(v) ((REAL)(v))


/* Type-generic math so that the float build never detours through double. trunc and floor are written with rint
 * (round to nearest, exact on integers) because GCC does not vectorise truncf/floorf without -fno-trapping-math;
 * both are exact: for |q| >= 2^23 (2^52) rint(q) = q, below it rint returns the nearest integer and the select
 * steps back by one where that rounded up. The sign of a zero result follows q, as truncf's does. */
#define RINT(x) _Generic((x), float: rintf, default: rint)(x)
#define FABS(x) _Generic((x), float: fabsf, default: fabs)(x)
/* Zero below the smallest normal number: a surrogate far from the threshold times a small output gradient is
 * subnormal, and subnormal input gradients make the next layer's backward (a conv's) several times slower. */
#define FLUSH_TINY(v) (FABS(v) < (sizeof(REAL) == sizeof(float) ? (REAL)FLT_MIN : (REAL)DBL_MIN) ? R(0) : (v))
#define COPYSIGN(x, y) _Generic((x), float: copysignf, default: copysign)(x, y)
#define TRUNC(q) COPYSIGN(FLOORV(FABS(q)), (q))
#define FLOORV(q) floor_v(q)

INLINE REAL floor_v(REAL q) {
    const REAL r = RINT(q);
    return r - ((r > q) ? R(1) : R(0));
}

typedef struct {
    int64_t B, T, N;
    int64_t gsb, gst, gsn;     /* strides of g_out */
    int64_t xsb;               /* batch stride of x when rec is set (one recurrent step, T = 1) */
    int64_t psb[7], psn[7];    /* batch and neuron strides of the 7 parameters below (0 where broadcast) */
    REAL max_spikes, sg_p[5];
    const REAL *x, *v0, *i0, *b0;
    const REAL *alpha_mem, *alpha_syn, *threshold, *v_floor, *alpha_adapt, *adapt_scale, *reset_const;
    REAL *out, *u, *isave, *bsave, *recv, *vfin, *ifin, *bfin;
    /* one step of a recurrent layer (T = 1): the input is x + rec (rec: the recurrent drive, (B, N) contiguous;
     * x: rows xsb apart), and xsave (when set) receives that sum, (B, N) contiguous */
    const REAL *rec;
    REAL *xsave;
    /* backward */
    const REAL *g_out, *g_recv, *g_reci, *g_recb, *g_vfin, *g_ifin, *g_bfin, *sg;
    REAL *gx, *gv0, *gi0, *gb0, *gam, *gas, *gaa;
    int nthreads;
    int stream;     /* write out (forward) and gx (backward) with non-temporal stores (set by launch) */
    int accumulate; /* backward: add the decay factors' gradients to gam, gas, gaa (a recurrent layer's steps) */
    int64_t next;   /* work counter shared by the threads */
} Args;

static const REAL ZEROS[BLOCK];

#if defined(__GNUC__) && !defined(__clang__)
#define IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define IVDEP _Pragma("clang loop vectorize(enable)")
#else
#define IVDEP
#endif

/* exp for float: Cody-Waite reduction and a degree-6 polynomial, branch-free so that the loops vectorise (libm's
 * expf is a scalar call). Within about 1 ulp of the correctly rounded value on [-87, 88] (at most 0.99 ulp without
 * and 1.02 ulp with fused multiply-add, on 20 million points); smaller arguments give ~1e-38 (only the backward
 * pass's surrogate uses it, where such values are zero for every purpose). Gradients need no bitwise agreement, so
 * on CPUs with fused multiply-add the polynomial uses it: half the instructions and a shorter dependency chain. */
#ifdef __FMA__
#define MULADD_F(a, b, c) fmaf((a), (b), (c))
#else
#define MULADD_F(a, b, c) ((a) * (b) + (c))
#endif
INLINE float exp_f32(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = rintf(x * 1.44269504088896341f);
    float r = MULADD_F(n, -0.693359375f, x);
    r = MULADD_F(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = MULADD_F(p, r, 1.3981999507e-3f);
    p = MULADD_F(p, r, 8.3334519073e-3f);
    p = MULADD_F(p, r, 4.1665795894e-2f);
    p = MULADD_F(p, r, 1.6666665459e-1f);
    p = MULADD_F(p, r, 5.0000001201e-1f);
    p = MULADD_F(p * r, r, r) + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return p * scale.f;
}
INLINE double exp_f64(double x) { return exp(x); }
#define EXP(x) _Generic((x), float: exp_f32, default: exp_f64)(x)

/* Non-temporal stores: a plain store first reads the line it writes into the cache; for an output far larger than
 * the caches that read doubles the traffic (a loop writing 13 MB measured 1.8 ms with plain stores, 0.8 ms with
 * these). The neuron loops write a row into a local buffer and stream_row copies it out; the caller fences. */
#if defined(__AVX512F__)
#define STREAM_BYTES 64
#define STREAM_STORE(d, s) _mm512_stream_si512((void *)(d), _mm512_loadu_si512((const void *)(s)))
#elif defined(__AVX__)
#define STREAM_BYTES 32
#define STREAM_STORE(d, s) _mm256_stream_si256((__m256i *)(d), _mm256_loadu_si256((const __m256i *)(s)))
#elif defined(__SSE2__)
#define STREAM_BYTES 16
#define STREAM_STORE(d, s) _mm_stream_si128((__m128i *)(d), _mm_loadu_si128((const __m128i *)(s)))
#endif
/* outputs of at least this many bytes are streamed (smaller ones stay in the cache for the next layer) */
#define STREAM_MIN_BYTES (8 << 20)

static void stream_row(REAL *dst, const REAL *src, int64_t len) {
    const size_t n = (size_t)len * sizeof(REAL);
#ifdef STREAM_BYTES
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t k = (STREAM_BYTES - (uintptr_t)d % STREAM_BYTES) % STREAM_BYTES;
    if (k > n) k = n;
    memcpy(d, s, k);
    for (; k + STREAM_BYTES <= n; k += STREAM_BYTES) STREAM_STORE(d + k, s + k);
    memcpy(d + k, s + k, n - k);
#else
    memcpy(dst, src, n);
#endif
}

INLINE void stream_fence(void) {
#ifdef STREAM_BYTES
    _mm_sfence();
#endif
}

/* ------------------------------------------------------------------------------------------- the model */
/* `pow2` (a compile-time constant at every call site): th is a power of two whose reciprocal `rth` is a normal
 * number, so u * rth and u / th are the correctly rounded values of the same real number: the same bits, without
 * a division (the default threshold, 1, is one). */
INLINE REAL spike(REAL u, REAL th, REAL rth, REAL mx, const int pow2) {
    (void)mx, (void)rth;
    if (SPK == SPK_SINGLE) return (u - th >= R(0)) ? R(1) : R(0);
    REAL s = ((u > R(0)) ? R(1) : R(0)) * TRUNC(pow2 ? u * rth : u / th); /* keeps -0.0 as torch does */
    if (HAS(F_MAXCLAMP)) s = (s > mx) ? mx : s;
    return s;
}

/* the membrane after the spike's reset, before the floor */
INLINE REAL after_reset(REAL u, REAL s, REAL th, REAL reset_const) {
    if (!HAS(F_SPIKING)) return u;
    if (HAS(F_RESET)) {
        const REAL silent = (s == R(0)) ? R(1) : R(0);
        return u * silent + (1 - silent) * reset_const;
    }
    return u - s * (HAS(F_SUBVAL) ? reset_const : th);
}

INLINE REAL apply_floor(REAL v, REAL v_floor) {
    if (!HAS(F_FLOOR)) return v;
    const REAL d = v - v_floor;
    return (d > R(0) ? d : R(0)) + v_floor;
}

INLINE REAL gauss(REAL x, REAL mu, REAL sigma) {
    const REAL d = x - mu;
    return EXP(-(d * d) / (2 * sigma * sigma)) / (sigma * (REAL)sqrt(2 * M_PI));
}

/* `iw_fixed`: 1 / (th * p[0]), computed once per neuron where the threshold does not change with time */
INLINE REAL surrogate(const REAL *p, REAL u, REAL th, REAL iw_fixed, REAL given) {
    (void)p, (void)given, (void)iw_fixed;
    switch (SG) {
    case SG_SINGLE_EXP: {
        const REAL iw = HAS(F_ALIF) ? R(1) / (th * p[0]) : iw_fixed; /* a gradient, not a spike: no exactness needed */
        return p[1] * iw * EXP(-FABS(u - th) * iw);
    }
    case SG_GAUSS:
        return gauss(u - th, p[0], p[1]) * p[2];
    case SG_MULTI_GAUSS: {
        const REAL x = u - th;
        return ((1 + p[2]) * gauss(x, p[0], p[1]) - p[2] * gauss(x, p[1], p[3] * p[1]) -
                p[2] * gauss(x, -p[1], p[3] * p[1])) * p[4];
    }
    case SG_HEAVISIDE:
        return ((u >= th - p[0]) ? R(1) : R(0)) / th;
    case SG_PERIODIC_EXP: {
        const REAL vn = u / th - (REAL)0.5;
        const REAL vp = th * (2 * (vn - FLOORV(vn)) - 1);
        const REAL z = (u < th) ? (u - th) : vp;
        return p[1] * EXP(-FABS(z) / p[0]);
    }
    default:
        return given;
    }
}

#define ROW(ptr, t) ((ptr) + (bi * T + (t)) * N + n0)

/* A per-step buffer of one block: row t starts at p + t * s. Rows of a (B, T, N) tensor have s = N; the
 * backward's private recomputation buffer has s = len; outputs nobody reads go to a junk row with s = 0. */
typedef struct {
    REAL *p;
    int64_t s;
} Rows;
#define AT(r, t) ((r).p + (t) * (r).s)

/* The per-neuron parameters of one block, gathered from their (possibly broadcast) strides into contiguous
 * local arrays, so that no parameter is materialised at (B, N) and the neuron loops read them with unit stride. */
typedef struct {
    REAL alpha_mem[BLOCK], alpha_syn[BLOCK], threshold[BLOCK], v_floor[BLOCK];
    REAL alpha_adapt[BLOCK], adapt_scale[BLOCK], reset_const[BLOCK];
    REAL recip_th[BLOCK];  /* 1 / threshold, used only when pow2 */
    REAL inv_width[BLOCK]; /* 1 / (threshold * width) for the exponential surrogate (fixed thresholds only) */
    int pow2;              /* every threshold of the block is a power of two with a normal reciprocal (not ALIF) */
} Params;

/* Whether th is a power of two whose reciprocal is a normal number (then u * (1 / th) == u / th bit for bit): no
 * mantissa bits, and a biased exponent that keeps both th and 1 / th normal. Integer tests only (vectorisable). */
INLINE int exact_reciprocal(REAL th) {
    if (sizeof(REAL) == sizeof(float)) {
        union { float f; uint32_t i; } b = {(float)th};
        const uint32_t e = (b.i >> 23) & 0xffu;
        return ((b.i & 0x7fffffu) == 0) & (e >= 1) & (e <= 253);
    }
    union { double f; uint64_t i; } b = {(double)th};
    const uint64_t e = (b.i >> 52) & 0x7ffu;
    return ((b.i & 0xfffffffffffffull) == 0) & (e >= 1) & (e <= 2045);
}

/* Gathers the block's parameters. This runs once per work item, which for a recurrent layer (one step per call)
 * is as often as the loop itself: a broadcast parameter is one fill, and the threshold's derived values (its
 * reciprocal, the surrogate's inverse width, whether it is a power of two) are computed once when it is one
 * number, and with integer tests and vector divisions otherwise. */
static void load_params(const Args *a, int64_t bi, int64_t n0, int64_t len, Params *P) {
    const REAL *src[7] = {a->alpha_mem, a->alpha_syn, a->threshold, a->v_floor,
                          a->alpha_adapt, a->adapt_scale, a->reset_const};
    REAL *dst[7] = {P->alpha_mem, P->alpha_syn, P->threshold, P->v_floor,
                    P->alpha_adapt, P->adapt_scale, P->reset_const};
    const int need[7] = {1, HAS(F_SYN), 1, HAS(F_FLOOR), HAS(F_ALIF), HAS(F_ALIF), HAS(F_RESET) || HAS(F_SUBVAL)};
    for (int q = 0; q < 7; q++) {
        if (!need[q]) continue;
        const REAL *base = src[q] + bi * a->psb[q] + n0 * a->psn[q];
        const int64_t sn = a->psn[q];
        REAL *restrict d = dst[q];
        if (sn == 0) {
            const REAL c = base[0];
            for (int64_t j = 0; j < len; j++) d[j] = c;
        } else if (sn == 1) {
            memcpy(d, base, sizeof(REAL) * (size_t)len);
        } else {
            for (int64_t j = 0; j < len; j++) d[j] = base[j * sn];
        }
    }
    const REAL width = a->sg_p[0];
    REAL *restrict rth = P->recip_th, *restrict iw = P->inv_width;
    const REAL *restrict th = P->threshold;
    int exact = 1;
    if (a->psn[2] == 0) { /* one threshold for the whole block */
        const REAL r = R(1) / th[0], w = R(1) / (th[0] * width);
        exact = exact_reciprocal(th[0]);
        for (int64_t j = 0; j < len; j++) {
            rth[j] = r;
            iw[j] = w;
        }
    } else {
        for (int64_t j = 0; j < len; j++) {
            rth[j] = R(1) / th[j];
            iw[j] = R(1) / (th[j] * width);
            exact &= exact_reciprocal(th[j]);
        }
    }
    P->pow2 = !HAS(F_ALIF) && SPK == SPK_MULTI && exact;
}

/* ------------------------------------------------------------------------------------------- forward */
/* Configurations whose backward needs, of step t - 1, only its carried membrane w (no spike, threshold or
 * pre-floor membrane): the recomputing forward stores w per step and the backward reads it back. */
#define W_ONLY (!HAS(F_ALIF) && !HAS(F_RESET) && !HAS(F_FLOOR))

/* What a forward loop stores. M_GENERAL: every row it is given (rows nobody reads go to a junk row); M_OUT: the
 * output and the final states only (a layer's forward when nothing per step is kept or recorded); M_RECOMPUTE: the
 * backward's recomputation, u (and i, b, and w for W_ONLY configurations) without output or final states. A store
 * to a junk row costs as much as any other: dropping them measured 20 % off the forward loop. */
enum { M_GENERAL = 0, M_OUT = 1, M_RECOMPUTE = 2 };

/* The time loop of one block of neurons. `mode`, `addrec` (one recurrent step, whose input is x + rec) and `pow2`
 * (see spike()) are compile-time constants at every call site. */
INLINE void forward_steps(const Args *a, const Params *P, int64_t bi, int64_t n0, int64_t len, Rows out, Rows us,
                          Rows is_, Rows bs, Rows rv, const int mode, const int addrec, const int pow2) {
    const int finals = mode != M_RECOMPUTE, keep_out = mode != M_RECOMPUTE, keep_steps = mode != M_OUT;
    const int keep_w = mode == M_GENERAL || (mode == M_RECOMPUTE && W_ONLY);
    const int64_t T = a->T, N = a->N, k0 = bi * N + n0;
    REAL v[BLOCK], is[BLOCK], bb[BLOCK], junkx[BLOCK], srow[BLOCK];
    const REAL *restrict alpha_mem = P->alpha_mem, *restrict alpha_syn = P->alpha_syn;
    const REAL *restrict threshold = P->threshold, *restrict v_floor = P->v_floor;
    const REAL *restrict alpha_adapt = P->alpha_adapt, *restrict adapt_scale = P->adapt_scale;
    const REAL *restrict reset_const = P->reset_const, *restrict recip_th = P->recip_th;
    const REAL mx = a->max_spikes;
    for (int64_t j = 0; j < len; j++) {
        v[j] = a->v0[k0 + j];
        is[j] = HAS(F_SYN) ? a->i0[k0 + j] : 0;
        bb[j] = HAS(F_ALIF) ? a->b0[k0 + j] : 0;
    }
    /* a recurrent step adds the drive here, rounding as torch's x + r does (r = 0 gives x + 0, as the reference) */
    const int streamed = a->stream && out.s != 0;
    for (int64_t t = 0; t < T; t++) {
        const REAL *restrict xt = addrec ? a->x + bi * a->xsb + n0 : ROW(a->x, t);
        const REAL *restrict rt = addrec ? a->rec + k0 : ZEROS;
        REAL *restrict xst = (addrec && a->xsave) ? a->xsave + k0 : junkx;
        REAL *restrict ot = streamed ? srow : AT(out, t), *restrict ut = AT(us, t), *restrict ist = AT(is_, t);
        REAL *restrict bst = AT(bs, t), *restrict rvt = AT(rv, t);
        IVDEP
        for (int64_t j = 0; j < len; j++) {
            const REAL xv = addrec ? xt[j] + rt[j] : xt[j];
            if (addrec) xst[j] = xv;
            const REAL i = HAS(F_SYN) ? alpha_syn[j] * (is[j] + xv) : xv;
            const REAL drive = HAS(F_NORM) ? (1 - alpha_mem[j]) * i : i;
            const REAL u = alpha_mem[j] * v[j] + drive;
            const REAL th = HAS(F_ALIF) ? threshold[j] + adapt_scale[j] * bb[j] : threshold[j];
            const REAL s = HAS(F_SPIKING) ? spike(u, th, recip_th[j], mx, pow2) : u;
            if (keep_out) ot[j] = s;
            if (keep_steps) ut[j] = u;
            const REAL w = apply_floor(after_reset(u, s, th, reset_const[j]), v_floor[j]);
            v[j] = w;
            if (HAS(F_ALIF)) {
                bb[j] = alpha_adapt[j] * bb[j] + (1 - alpha_adapt[j]) * s;
                if (keep_steps) bst[j] = bb[j];
            }
            if (HAS(F_SYN)) {
                is[j] = i;
                if (keep_steps) ist[j] = i;
            }
            if (keep_w) rvt[j] = w;
        }
        if (streamed) stream_row(AT(out, t), srow, len);
    }
    if (streamed) stream_fence();
    if (finals) {
        for (int64_t j = 0; j < len; j++) {
            a->vfin[k0 + j] = v[j];
            if (HAS(F_SYN)) a->ifin[k0 + j] = is[j];
            if (HAS(F_ALIF)) a->bfin[k0 + j] = bb[j];
        }
    }
}

/* `recompute`: the backward's recomputation (M_RECOMPUTE); otherwise M_OUT where it applies, else M_GENERAL */
static void forward_block(const Args *a, const Params *P, int64_t bi, int64_t n0, int64_t len, Rows out, Rows us,
                          Rows is_, Rows bs, Rows rv, const int recompute) {
    const int pow2 = P->pow2;
#define FWD(mode, addrec, p2) forward_steps(a, P, bi, n0, len, out, us, is_, bs, rv, mode, addrec, p2)
    if (a->rec) { /* one recurrent step: its forward keeps u (and the drive) */
        if (pow2) FWD(M_GENERAL, 1, 1);
        else FWD(M_GENERAL, 1, 0);
    } else if (recompute) {
        if (pow2) FWD(M_RECOMPUTE, 0, 1);
        else FWD(M_RECOMPUTE, 0, 0);
    } else if (!a->u && !a->isave && !a->bsave && !a->recv) {
        if (pow2) FWD(M_OUT, 0, 1);
        else FWD(M_OUT, 0, 0);
    } else {
        if (pow2) FWD(M_GENERAL, 0, 1);
        else FWD(M_GENERAL, 0, 0);
    }
#undef FWD
}

static void forward_item(const Args *a, int64_t bi, int64_t n0, int64_t len) {
    const int64_t T = a->T, N = a->N;
    REAL junk[4][BLOCK]; /* one per optional output, so that no two restrict pointers share memory */
    Params P;
    load_params(a, bi, n0, len, &P);
#define TENSOR_ROWS(ptr, k) ((ptr) ? (Rows){(ptr) + bi * T * N + n0, N} : (Rows){junk[k], 0})
    forward_block(a, &P, bi, n0, len, TENSOR_ROWS(a->out, 0), TENSOR_ROWS(a->u, 0), TENSOR_ROWS(a->isave, 1),
                  TENSOR_ROWS(a->bsave, 2), TENSOR_ROWS(a->recv, 3), 0);
}

/* ------------------------------------------------------------------------------------------- backward */
/*
 * Reverse-time recursion (see fused.py for the derivation). Adjoints carried between steps, per neuron:
 * gw = dL/d(carried v after step t), gi = dL/d i_t, gb = dL/d b_t. The spike, threshold and pre-floor membrane
 * of step t are recomputed from u_t once, at step t + 1 (where w_t is needed), and carried to step t.
 */
typedef struct {
    REAL gw[BLOCK], gi[BLOCK], gb[BLOCK], sam[BLOCK], sas[BLOCK], saa[BLOCK];
    REAL cs[BLOCK], cth[BLOCK], cv[BLOCK], grow[BLOCK], gxrow[BLOCK];
} BwdScratch;

/* `ws`: w per step when `wsaved` (then nothing of step t - 1 is recomputed); `pow2` as for spike(). Both are
 * compile-time constants at the call sites. */
INLINE void backward_step(const Args *a, const Params *P, BwdScratch *sc, int64_t bi, int64_t n0, int64_t len,
                          int64_t t, Rows us, Rows is_, Rows bs, Rows ws, const int has_prev, const int wsaved,
                          const int pow2) {
    const int64_t T = a->T, N = a->N, k0 = bi * N + n0;
    const REAL *restrict alpha_mem = P->alpha_mem, *restrict alpha_syn = P->alpha_syn;
    const REAL *restrict threshold = P->threshold, *restrict v_floor = P->v_floor;
    const REAL *restrict alpha_adapt = P->alpha_adapt, *restrict adapt_scale = P->adapt_scale;
    const REAL *restrict reset_const = P->reset_const, *restrict v0 = a->v0 + k0;
    const REAL *restrict recip_th = P->recip_th, *restrict inv_width = P->inv_width;
    const REAL *restrict wpr = (wsaved && has_prev) ? AT(ws, t - 1) : NULL;
    const REAL *restrict b0 = HAS(F_ALIF) ? a->b0 + k0 : NULL, *restrict i0 = HAS(F_SYN) ? a->i0 + k0 : NULL;
    const REAL mx = a->max_spikes;
    const REAL *restrict ut = AT(us, t), *restrict xt = ROW(a->x, t);
    const REAL *restrict upr = (has_prev && !wsaved) ? AT(us, t - 1) : NULL;
    /* b_{t-1} and b_{t-2}; i_t and i_{t-1} */
    const REAL *restrict bprev = HAS(F_ALIF) ? (t >= 1 ? AT(bs, t - 1) : b0) : NULL;
    const REAL *restrict bpp = (HAS(F_ALIF) && has_prev) ? (t >= 2 ? AT(bs, t - 2) : b0) : NULL;
    const REAL *restrict ist = HAS(F_SYN) ? AT(is_, t) : NULL;
    const REAL *restrict iprev = HAS(F_SYN) ? (t >= 1 ? AT(is_, t - 1) : i0) : NULL;
    const REAL *restrict grv = a->g_recv ? ROW(a->g_recv, t) : ZEROS;
    const REAL *restrict gri = a->g_reci ? ROW(a->g_reci, t) : ZEROS;
    const REAL *restrict grb = a->g_recb ? ROW(a->g_recb, t) : ZEROS;
    const REAL *restrict sgt = (SG == SG_TENSOR && a->sg) ? ROW(a->sg, t) : ZEROS;
    const REAL *restrict go;
    {
        const REAL *g0 = a->g_out + bi * a->gsb + t * a->gst + n0 * a->gsn;
        if (a->gsn == 1) {
            go = g0;
        } else if (a->gst == 0 && t < a->T - 1) { /* the same row at every step: gathered at the last one */
            go = sc->grow;
        } else if (a->gsn == 0) { /* one value per row (the gradient of a sum): a broadcast, vectorised */
            const REAL g = g0[0];
            for (int64_t j = 0; j < len; j++) sc->grow[j] = g;
            go = sc->grow;
        } else {
            for (int64_t j = 0; j < len; j++) sc->grow[j] = g0[j * a->gsn];
            go = sc->grow;
        }
    }
    REAL *restrict gxt = a->stream ? sc->gxrow : ROW(a->gx, t);
    REAL *restrict gw = sc->gw, *restrict gi = sc->gi, *restrict gb = sc->gb;
    REAL *restrict sam = sc->sam, *restrict sas = sc->sas, *restrict saa = sc->saa;
    REAL *restrict cs = sc->cs, *restrict cth = sc->cth, *restrict cv = sc->cv;
    const REAL *restrict p = a->sg_p;
    IVDEP
    for (int64_t j = 0; j < len; j++) {
        const REAL u = ut[j];
        const REAL s = wsaved ? R(0) : cs[j], th = wsaved ? threshold[j] : cth[j], vpre = wsaved ? R(0) : cv[j];
        REAL wprev;
        if (wsaved) {
            wprev = has_prev ? wpr[j] : v0[j];
        } else if (has_prev) { /* recompute step t-1: its spike, threshold, reset and floor */
            const REAL up = upr[j];
            const REAL thp = HAS(F_ALIF) ? threshold[j] + adapt_scale[j] * bpp[j] : threshold[j];
            const REAL sp = HAS(F_SPIKING) ? spike(up, thp, recip_th[j], mx, pow2) : up;
            const REAL vp = after_reset(up, sp, thp, reset_const[j]);
            wprev = apply_floor(vp, v_floor[j]);
            cs[j] = sp;
            cth[j] = thp;
            cv[j] = vp;
        } else {
            wprev = v0[j];
        }
        const REAL gwt = gw[j] + grv[j];
        const REAL gv = HAS(F_FLOOR) ? ((vpre - v_floor[j] > R(0)) ? gwt : R(0)) : gwt;
        REAL gu;
        if (HAS(F_SPIKING)) {
            REAL gs = go[j], gth = 0;
            if (HAS(F_RESET)) {
                gu = gv * ((s == R(0)) ? R(1) : R(0));
            } else {
                gu = gv;
                if (HAS(F_SUBVAL)) {
                    gs -= gv * reset_const[j];
                } else {
                    gs -= gv * th;
                    gth = -gv * s;
                }
            }
            if (HAS(F_ALIF)) {
                const REAL gbt = gb[j] + grb[j];
                gs += (1 - alpha_adapt[j]) * gbt;
                saa[j] += gbt * (bprev[j] - s);
                gb[j] = alpha_adapt[j] * gbt + adapt_scale[j] * gth;
            }
            gu += gs * surrogate(p, u, th, inv_width[j], sgt[j]);
        } else {
            gu = gv + go[j];
        }
        /* u = am * wprev + drive, drive = (1 - am) * i or i */
        gw[j] = alpha_mem[j] * gu;
        const REAL i = HAS(F_SYN) ? ist[j] : xt[j];
        REAL gdrive;
        if (HAS(F_NORM)) {
            sam[j] += gu * (wprev - i);
            gdrive = (1 - alpha_mem[j]) * gu;
        } else {
            sam[j] += gu * wprev;
            gdrive = gu;
        }
        if (HAS(F_SYN)) {
            const REAL git = gi[j] + gdrive + gri[j];
            gxt[j] = FLUSH_TINY(alpha_syn[j] * git);
            sas[j] += git * (iprev[j] + xt[j]);
            gi[j] = alpha_syn[j] * git;
        } else {
            gxt[j] = FLUSH_TINY(gdrive);
        }
    }
    if (a->stream) stream_row(ROW(a->gx, t), sc->gxrow, len);
}

INLINE void backward_steps(const Args *a, const Params *P, BwdScratch *sc, int64_t bi, int64_t n0, int64_t len,
                           Rows us, Rows is_, Rows bs, Rows ws, const int wsaved, const int pow2) {
    for (int64_t t = a->T - 1; t >= 1; t--) backward_step(a, P, sc, bi, n0, len, t, us, is_, bs, ws, 1, wsaved, pow2);
    if (a->T > 0) backward_step(a, P, sc, bi, n0, len, 0, us, is_, bs, ws, 0, wsaved, pow2);
    if (a->stream) stream_fence();
}

/* The recomputation buffers, kept between calls. A buffer of this size (800 KiB for 100 steps of 1024 neurons)
 * comes from mmap and leaves through munmap, so a new one per call (or per item) faults in every one of its pages
 * each time: that doubled the backward's time when other work ran in between. Up to SCRATCH_SLOTS buffers of at
 * most SCRATCH_KEEP bytes stay allocated; larger ones are freed after the call. Each buffer starts with a header
 * line holding its capacity. */
#define SCRATCH_SLOTS 8
#define SCRATCH_KEEP ((size_t)4 << 20)
#define SCRATCH_HEAD 64
static void *scratch_pool[SCRATCH_SLOTS];

static REAL *scratch_get(size_t bytes) {
    for (int k = 0; k < SCRATCH_SLOTS; k++) {
        char *p = (char *)__atomic_exchange_n(&scratch_pool[k], NULL, __ATOMIC_ACQ_REL);
        if (!p) continue;
        if (*(size_t *)p >= bytes) return (REAL *)(p + SCRATCH_HEAD);
        free(p);
    }
    char *p = (char *)aligned_alloc(SCRATCH_HEAD, SCRATCH_HEAD + (bytes + SCRATCH_HEAD - 1) / SCRATCH_HEAD * SCRATCH_HEAD);
    if (!p) return NULL;
    *(size_t *)p = bytes;
    return (REAL *)(p + SCRATCH_HEAD);
}

static void scratch_put(REAL *buf) {
    if (!buf) return;
    char *p = (char *)buf - SCRATCH_HEAD;
    if (*(size_t *)p <= SCRATCH_KEEP) {
        for (int k = 0; k < SCRATCH_SLOTS; k++) {
            void *none = NULL;
            if (__atomic_compare_exchange_n(&scratch_pool[k], &none, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
        }
    }
    free(p);
}

/* rows of the recomputation buffer per step: u, then i, b and w where kept */
#define SCRATCH_ROWS (1 + HAS(F_SYN) + HAS(F_ALIF) + W_ONLY)

/* `buf`: this thread's recomputation buffer, for T steps of up to `bs` neurons (NULL when the forward kept u).
 * Returns -1 when the buffer could not be allocated. */
static int backward_item(const Args *a, int64_t bi, int64_t n0, int64_t len, REAL *buf) {
    const int64_t T = a->T, N = a->N, k0 = bi * N + n0;
    BwdScratch sc;
    Params P;
    load_params(a, bi, n0, len, &P);
    REAL junk[5][BLOCK];
    Rows us, is_, bs, ws = {junk[4], 0};
    const int wsaved = W_ONLY && !a->u;
    if (a->u) { /* the forward saved u (and i, b) for all steps */
        us = (Rows){a->u + bi * T * N + n0, N};
        is_ = (Rows){HAS(F_SYN) ? a->isave + bi * T * N + n0 : NULL, N};
        bs = (Rows){HAS(F_ALIF) ? a->bsave + bi * T * N + n0 : NULL, N};
    } else { /* recompute this block's forward into a private buffer (bitwise the same values) */
        if (!buf && T > 0) return -1;
        us = (Rows){buf, len};
        is_ = HAS(F_SYN) ? (Rows){buf + T * len, len} : (Rows){junk[0], 0};
        bs = HAS(F_ALIF) ? (Rows){buf + (1 + HAS(F_SYN)) * T * len, len} : (Rows){junk[1], 0};
        if (wsaved) ws = (Rows){buf + (SCRATCH_ROWS - 1) * T * len, len};
        forward_block(a, &P, bi, n0, len, (Rows){junk[2], 0}, us, is_, bs, ws, 1);
    }
    for (int64_t j = 0; j < len; j++) {
        sc.gw[j] = a->g_vfin ? a->g_vfin[k0 + j] : 0;
        sc.gi[j] = (a->g_ifin && HAS(F_SYN)) ? a->g_ifin[k0 + j] : 0;
        sc.gb[j] = (a->g_bfin && HAS(F_ALIF)) ? a->g_bfin[k0 + j] : 0;
        sc.sam[j] = sc.sas[j] = sc.saa[j] = 0;
    }
    if (T > 0) { /* spike, threshold and pre-floor membrane of the last step */
        const REAL *ul = AT(us, T - 1);
        const REAL *bl = HAS(F_ALIF) ? (T >= 2 ? AT(bs, T - 2) : a->b0 + k0) : NULL;
        for (int64_t j = 0; j < len; j++) {
            const REAL th = HAS(F_ALIF) ? P.threshold[j] + P.adapt_scale[j] * bl[j] : P.threshold[j];
            const REAL s = HAS(F_SPIKING) ? spike(ul[j], th, P.recip_th[j], a->max_spikes, 0) : ul[j];
            sc.cs[j] = s;
            sc.cth[j] = th;
            sc.cv[j] = after_reset(ul[j], s, th, P.reset_const[j]);
        }
    }
    if (wsaved) backward_steps(a, &P, &sc, bi, n0, len, us, is_, bs, ws, 1, 0);
    else if (P.pow2) backward_steps(a, &P, &sc, bi, n0, len, us, is_, bs, ws, 0, 1);
    else backward_steps(a, &P, &sc, bi, n0, len, us, is_, bs, ws, 0, 0);
    const int acc = a->accumulate;
    for (int64_t j = 0; j < len; j++) {
        a->gv0[k0 + j] = sc.gw[j];
        a->gam[k0 + j] = acc ? a->gam[k0 + j] + sc.sam[j] : sc.sam[j];
        if (HAS(F_SYN)) {
            a->gi0[k0 + j] = sc.gi[j];
            a->gas[k0 + j] = acc ? a->gas[k0 + j] + sc.sas[j] : sc.sas[j];
        }
        if (HAS(F_ALIF)) {
            a->gb0[k0 + j] = sc.gb[j];
            a->gaa[k0 + j] = acc ? a->gaa[k0 + j] + sc.saa[j] : sc.saa[j];
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------- threads */
typedef struct {
    Args *a;
    int64_t bs; /* neurons per item (<= BLOCK) */
    int backward;
    int failed;
} Job;

static void *run_items(void *p) {
    Job *job = (Job *)p;
    Args *a = job->a;
    const int64_t bs = job->bs, nblk = (a->N + bs - 1) / bs, items = a->B * nblk;
    REAL *buf = NULL;
    if (job->backward && !a->u && a->T > 0) /* may be NULL: backward_item reports it */
        buf = scratch_get(sizeof(REAL) * (size_t)a->T * (size_t)(SCRATCH_ROWS * bs));
    for (;;) {
        const int64_t it = __atomic_fetch_add(&a->next, 1, __ATOMIC_RELAXED);
        if (it >= items) break;
        const int64_t bi = it / nblk, n0 = (it % nblk) * bs;
        const int64_t len = n0 + bs < a->N ? bs : a->N - n0;
        if (!job->backward) forward_item(a, bi, n0, len);
        else if (backward_item(a, bi, n0, len, buf) != 0) __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
    }
    scratch_put(buf);
    return NULL;
}

/* neuron-steps per thread below which more threads cost more than they save (torch's grain size): a parallel
 * region waits for its slowest thread, and on a busy machine that can be a scheduler time slice (24 ms median
 * measured for a [2, 10, 32] layer with 2 threads at load 4, against 0.3 ms with one) */
#define GRAIN ((int64_t)1 << 15)

static int launch(Args *a, int backward) {
    int nt = a->nthreads < 1 ? 1 : (a->nthreads > 64 ? 64 : a->nthreads);
    const int64_t by_work = a->B * a->T * a->N / GRAIN;
    if (by_work < nt) nt = by_work < 1 ? 1 : (int)by_work;
    /* smaller items when there would be fewer than two per thread (small batches), down to 64 neurons */
    int64_t bs = BLOCK;
    while (bs > 64 && a->B * ((a->N + bs - 1) / bs) < 2 * (int64_t)nt) bs /= 2;
    const int64_t items = a->B * ((a->N + bs - 1) / bs);
    if (items < nt) nt = (int)items;
    a->next = 0;
    a->stream = a->B * a->T * a->N * (int64_t)sizeof(REAL) >= STREAM_MIN_BYTES;
    Job job = {a, bs, backward, 0};
    if (nt == 1) { /* one thread (a recurrent layer's small steps): no parallel region to open */
        run_items(&job);
        return job.failed ? -2 : 0;
    }
#ifdef _OPENMP
    /* the OpenMP runtime that torch itself runs on (see build_cache.py): its threads, already started and waiting */
#pragma omp parallel num_threads(nt)
    run_items(&job);
    return job.failed ? -2 : 0;
#endif
    pthread_t th[64];
    int started = 1;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, run_items, &job) != 0) break; /* fewer threads still finish */
    run_items(&job);
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
    return job.failed ? -2 : 0;
}

/* ------------------------------------------------------------------------------------------- spike products */
/* one rounding: v * w + c exactly, rounded once (what the BLAS's fused multiply-add kernels compute) */
static inline REAL FMA(REAL v, REAL w, REAL c) {
    return sizeof(REAL) == sizeof(float) ? (REAL)fmaf((float)v, (float)w, (float)c) : (REAL)fma(v, w, c);
}

/* The weight gradient of a recurrent nn.Linear, r_{t+1} = s_t W^T, over all steps at once, from the spikes:
 *   WT[j, i] = sum over rows m of S[m, j] * G[m, i]     (WT = the gradient of W, transposed: (n_in, n_out))
 * Rows m run over steps and batch rows: row (t, b) of S starts at s + t * step + b * n_in, of G at g + t * step +
 * b * n_out. Spikes are mostly zero; each nonzero S[m, j] adds one row of G to row j of WT, so the work follows
 * the number of spikes instead of the rows times both widths of a dense product. Threads own disjoint rows of WT.
 * From one spike in 16 on, the rows m are taken WROWS at a time (their G, 64 KiB at 512 outputs in float32, stays
 * in the first-level cache); each row j of WT then collects the block's spikes of input j (listed first), SPAN_W
 * outputs at a time in registers, and is loaded and stored once per block instead of once per spike (99 steps of
 * 32 x 512 at 30 % spiking on one core: 10.7 against 12.5 ms; at 2.4 % the row adds are faster, 2.1 against 2.6).
 * A gradient, so the order of the sums is free (the rows m ascend either way).
 * Returns 1 without writing anything when more than `max_nonzero` spikes are found (a dense product is then
 * faster) or the lists cannot be allocated, 0 after writing WT. */
#define WROWS 32
#define SPAN_W (4 * (int64_t)(64 / sizeof(REAL))) /* four vectors of 64 bytes */
typedef struct {
    const REAL *g, *sp;
    int64_t steps, rows, step, n_in, n_out;
} WGrad;

static const REAL *wrow(const REAL *base, const WGrad *w, int64_t m, int64_t width) {
    return base + (m / w->rows) * w->step + (m % w->rows) * width;
}

/* SPAN_W outputs of one row of WT: the sum over the listed spikes, in registers (four vectors of 16 floats or 8
 * doubles, GCC / Clang vector types: a local array was kept on the stack), then stored (or added) */
typedef REAL vreal __attribute__((vector_size(64)));
#define VLEN ((int64_t)(64 / sizeof(REAL)))
static inline vreal vload(const REAL *p) {
    vreal x;
    memcpy(&x, p, sizeof x);
    return x;
}
static inline void weight_span(const int32_t *at, const REAL *val, int32_t e0, int32_t e1, const REAL **grow,
                               int64_t i0, REAL *restrict o, int first) {
    vreal a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int32_t e = e0; e < e1; e++) {
        const REAL *gr = grow[at[e]] + i0;
        const vreal v = (vreal){0} + val[e];
        a0 += v * vload(gr), a1 += v * vload(gr + VLEN), a2 += v * vload(gr + 2 * VLEN), a3 += v * vload(gr + 3 * VLEN);
    }
    if (!first) a0 += vload(o), a1 += vload(o + VLEN), a2 += vload(o + 2 * VLEN), a3 += vload(o + 3 * VLEN);
    memcpy(o, &a0, sizeof a0), memcpy(o + VLEN, &a1, sizeof a1);
    memcpy(o + 2 * VLEN, &a2, sizeof a2), memcpy(o + 3 * VLEN, &a3, sizeof a3);
}

static void weight_tail(const int32_t *at, const REAL *val, int32_t e0, int32_t e1, const REAL **grow, int64_t i0,
                        int64_t width, REAL *restrict o, int first) {
    for (int64_t i = 0; i < width; i++) o[i] = first ? R(0) : o[i];
    for (int32_t e = e0; e < e1; e++)
        for (int64_t i = 0; i < width; i++) o[i] = FMA(val[e], grow[at[e]][i0 + i], o[i]);
}

/* rows j0..j1 of WT from rows m0..m1 of S and G; `cnt` (n_in + 1), `at` and `val` (WROWS * n_in) are scratch */
static void weight_block(const WGrad *w, int64_t m0, int64_t m1, int64_t j0, int64_t j1, int first, int32_t *cnt,
                         int32_t *at, REAL *val, REAL *wt) {
    const int64_t n_out = w->n_out;
    memset(cnt + j0, 0, sizeof(int32_t) * (size_t)(j1 - j0 + 1));
    for (int64_t m = m0; m < m1; m++) {
        const REAL *srow = wrow(w->sp, w, m, w->n_in);
        for (int64_t j = j0; j < j1; j++) cnt[j + 1] += srow[j] != R(0);
    }
    for (int64_t j = j0; j < j1; j++) cnt[j + 1] += cnt[j];
    for (int64_t m = m0; m < m1; m++) { /* fill in ascending m: each input's list is in row order */
        const REAL *srow = wrow(w->sp, w, m, w->n_in);
        for (int64_t j = j0; j < j1; j++)
            if (srow[j] != R(0)) at[cnt[j]] = (int32_t)(m - m0), val[cnt[j]++] = srow[j];
    }
    for (int64_t j = j1 - 1; j > j0; j--) cnt[j] = cnt[j - 1]; /* back to starts */
    cnt[j0] = 0;
    const REAL *grow[WROWS];
    for (int64_t m = m0; m < m1; m++) grow[m - m0] = wrow(w->g, w, m, n_out);
    for (int64_t j = j0; j < j1; j++)
        for (int64_t i0 = 0; i0 < n_out && (first || cnt[j] < cnt[j + 1]); i0 += SPAN_W) {
            if (n_out - i0 >= SPAN_W)
                weight_span(at, val, cnt[j], cnt[j + 1], grow, i0, wt + j * n_out + i0, first);
            else
                weight_tail(at, val, cnt[j], cnt[j + 1], grow, i0, n_out - i0, wt + j * n_out + i0, first);
        }
}

/* rows j0..j1 of WT, one row of G added per spike (faster than the blocks below when under one in 16 spikes:
 * then most rows of WT get no spike of a block and the lists cost more than they save) */
static void weight_rows(const WGrad *w, int64_t j0, int64_t j1, REAL *wt) {
    const int64_t n_out = w->n_out;
    memset(wt + j0 * n_out, 0, sizeof(REAL) * (size_t)((j1 - j0) * n_out));
    for (int64_t t = 0; t < w->steps; t++)
        for (int64_t b = 0; b < w->rows; b++) {
            const REAL *srow = w->sp + t * w->step + b * w->n_in;
            const REAL *restrict grow = w->g + t * w->step + b * n_out;
            for (int64_t j = j0; j < j1; j++) {
                const REAL v = srow[j];
                if (v == R(0)) continue;
                REAL *restrict o = wt + j * n_out;
                for (int64_t i = 0; i < n_out; i++) o[i] += v * grow[i];
            }
        }
}

int spike_weight_grad(const REAL *g, const REAL *sp, int64_t steps, int64_t rows, int64_t step, int64_t n_in,
                      int64_t n_out, int64_t max_nonzero, REAL *wt, int nthreads) {
    int64_t nz = 0;
    for (int64_t t = 0; t < steps; t++) {
        const REAL *st = sp + t * step;
        int64_t c = 0;
        for (int64_t k = 0; k < rows * n_in; k++) c += st[k] != R(0);
        nz += c;
        if (nz > max_nonzero) return 1;
    }
    int nt = nthreads < 1 ? 1 : nthreads;
    if (nt > n_in) nt = (int)n_in;
    const WGrad w = {g, sp, steps, rows, step, n_in, n_out};
    const int64_t total = steps * rows;
    const int sparse = nz * 16 < total * n_in;
    int32_t *cnt = malloc(sizeof(int32_t) * (size_t)(nt * (n_in + 1)));
    int32_t *at = malloc(sizeof(int32_t) * (size_t)(WROWS * n_in));
    REAL *val = malloc(sizeof(REAL) * (size_t)(WROWS * n_in));
    if (!cnt || !at || !val || WROWS * n_in > INT32_MAX) {
        free(cnt), free(at), free(val);
        return 1;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num(), team = omp_get_num_threads();
#else
        const int me = 0, team = 1;
#endif
        const int64_t j0 = n_in * me / team, j1 = n_in * (me + 1) / team;
        if (sparse) {
            weight_rows(&w, j0, j1, wt);
        } else { /* its own copy of cnt, and its part of at / val (WROWS * j0 on) */
            int32_t *mycnt = cnt + (int64_t)me * (n_in + 1);
            if (total == 0) memset(wt + j0 * n_out, 0, sizeof(REAL) * (size_t)((j1 - j0) * n_out));
            for (int64_t m0 = 0; m0 < total; m0 += WROWS) {
                const int64_t m1 = m0 + WROWS < total ? m0 + WROWS : total;
                weight_block(&w, m0, m1, j0, j1, m0 == 0, mycnt, at + WROWS * j0, val + WROWS * j0, wt);
            }
        }
    }
    free(cnt), free(at), free(val);
    return 0;
}

/* ------------------------------------------------------------------------------------------- recurrent layers */
/* A recurrent layer with a plain nn.Linear from the N neurons to themselves, r_{t+1} = s_t W^T (+ bias), its whole
 * time loop in one call: per step the neuron update (launch with T = 1, input x_t + r_t) and the product with W,
 * taken by the BLAS function torch itself calls for torch.mm / torch.addmm (the Fortran ?gemm_ of the library torch
 * links, found at run time and passed in), with the arguments torch passes, so the product has the same bits as
 * the reference's. Buffers are time-major: step t's (B, N) slice starts `stride` elements after step t-1's. */
typedef void (*gemm_fn)(const char *, const char *, const int *, const int *, const int *, const REAL *,
                        const REAL *, const int *, const REAL *, const int *, const REAL *, REAL *, const int *);

/* cblas_?gemm_compute (layout, transa, transb, m, n, k, a, lda, b, ldb, beta, c, ldc), with `a` packed */
typedef void (*compute_fn)(int, int, int, int, int, int, const void *, int, const REAL *, int, REAL, REAL *, int);

typedef struct {
    int64_t T, stride;
    gemm_fn gemm;
    const REAL *w, *bias;         /* (N, N) row-major weight; (N) bias or NULL */
    REAL *r;                      /* (B, N): the recurrent drive of the current step (r_0 = 0 on entry) */
    const REAL *x;                /* the layer's input, (B, T, N) contiguous */
    REAL *xp, *s, *wv, *is, *bs;  /* per step: x + r, spikes, carried membrane, i, b (NULL where not kept) */
    const REAL *g_out;            /* backward: the output gradient with strides gob, got, gon, or NULL */
    int64_t gob, got, gon;
    REAL *gs;                     /* (B, N): the gradient reaching s_t */
    const REAL *v0, *i0, *b0;     /* the layer's initial states */
    const REAL *grv, *gri, *grb;  /* time-major gradients of the recordings, or NULL */
    REAL *gx;                     /* time-major input gradients (x + r's) */
    const REAL *wt;               /* W^T, (N, N) contiguous, for the product from the spikes (kc > 0) */
    int64_t kc;                   /* the BLAS's block of the summed dimension (0: always call the BLAS) */
    REAL *part;                   /* (nthreads, N) scratch of the product from the spikes */
    int64_t nthreads;             /* threads of the product from the spikes */
    compute_fn compute;           /* backward: the BLAS's product with a packed operand (MKL's ?gemm_compute), */
    const void *wpacked;          /* and W packed for it once per backward; NULL: ?gemm_ packs W every step */
} Rec;

#define AT(p, t) ((p) ? (p) + (t) * rc->stride : NULL)

/* out = s W^T (+ bias): torch.mm(s, W.t()) / torch.addmm(bias, s, W.t()) (the bias copied in, then beta = 1) */
static void rec_product(const Rec *rc, int64_t B, int64_t N, const REAL *s, REAL *out) {
    const int n = (int)N, b = (int)B;
    const REAL one = R(1), zero = R(0);
    if (rc->bias)
        for (int64_t i = 0; i < B; i++) memcpy(out + i * N, rc->bias, sizeof(REAL) * (size_t)N);
    rc->gemm("T", "N", &n, &b, &n, &one, rc->w, &n, s, &n, rc->bias ? &one : &zero, out, &n);
}


/* out = s W^T (+ bias) from the spikes, in the order the BLAS sums (found by the caller's probe): the summed
 * dimension in blocks of kc; within a block, k ascending, one fused multiply-add per term into a partial sum that
 * starts at zero; the block's partial sum then added to the output (which starts at the bias, or is the first
 * block's sum). Terms whose spike is zero are skipped: adding them changes no value. Threads take batch rows.
 * Returns 0; 1 when more than `max_nonzero` spikes were found (nothing written: take the dense product; from the
 * spikes is faster up to about one spike in two: 0.12 against 0.19 ms at 30 % for 32 x 512 on one core). */
int sparse_rec_product(const REAL *s, const REAL *wt, const REAL *bias, int64_t B, int64_t N, int64_t kc,
                       int64_t max_nonzero, REAL *out, REAL *part, int nthreads) {
    int64_t nz = 0;
    for (int64_t k = 0; k < B * N; k++) nz += s[k] != R(0);
    if (nz > max_nonzero) return 1;
    int nt = nthreads < 1 ? 1 : (nthreads > B ? (int)B : nthreads);
    if (nz * N / (8 * GRAIN) < nt) nt = nz * N < 8 * GRAIN ? 1 : (int)(nz * N / (8 * GRAIN)); /* fma per thread */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t b = 0; b < B; b++) {
#ifdef _OPENMP
        REAL *restrict scratch = part + (int64_t)omp_get_thread_num() * N;
#else
        REAL *restrict scratch = part;
#endif
        const REAL *restrict sb = s + b * N;
        REAL *restrict o = out + b * N;
        if (bias) memcpy(o, bias, sizeof(REAL) * (size_t)N);
        for (int64_t k0 = 0; k0 < N; k0 += kc) {
            const int64_t k1 = k0 + kc < N ? k0 + kc : N;
            REAL *restrict p = (k0 == 0 && !bias) ? o : scratch;
            memset(p, 0, sizeof(REAL) * (size_t)N);
            for (int64_t k = k0; k < k1; k++) {
                const REAL v = sb[k];
                if (v == R(0)) continue;
                const REAL *restrict w = wt + k * N;
                IVDEP for (int64_t j = 0; j < N; j++) p[j] = FMA(v, w[j], p[j]);
            }
            if (p != o) {
                IVDEP for (int64_t j = 0; j < N; j++) o[j] = o[j] + p[j];
            }
        }
    }
    return 0;
}

int lif_recurrent_forward(Args *a, const Rec *rc) {
    const int64_t B = a->B, N = a->N;
    a->rec = rc->r;
    a->u = NULL;
    for (int64_t t = 0; t < rc->T; t++) {
        a->x = rc->x + t * N;
        a->out = AT(rc->s, t);
        a->xsave = AT(rc->xp, t);
        a->recv = AT(rc->wv, t);
        a->isave = AT(rc->is, t);
        a->bsave = AT(rc->bs, t);
        const int err = launch(a, 0);
        if (err) return err;
        if (t < rc->T - 1 && (rc->kc <= 0 || sparse_rec_product(a->out, rc->wt, rc->bias, B, N, rc->kc, B * N / 2,
                                                                 rc->r, rc->part, (int)rc->nthreads) != 0))
            rec_product(rc, B, N, a->out, rc->r);
    }
    return 0;
}

/* gs = g_out[:, t] + gr W  (torch.addmm(g_out[:, t], gr, W)), or gr W without an output gradient */
static void rec_grad_product(const Rec *rc, int64_t B, int64_t N, int64_t t, const REAL *gr) {
    const int n = (int)N, b = (int)B;
    const REAL one = R(1), zero = R(0);
    if (rc->g_out)
        for (int64_t i = 0; i < B; i++)
            for (int64_t j = 0; j < N; j++) rc->gs[i * N + j] = rc->g_out[i * rc->gob + t * rc->got + j * rc->gon];
    if (gr && rc->compute && rc->wpacked) /* column-major, A packed, B not transposed: the same product */
        rc->compute(102, 151, 111, n, b, n, rc->wpacked, n, gr, n, rc->g_out ? one : zero, rc->gs, n);
    else if (gr)
        rc->gemm("N", "N", &n, &b, &n, &one, rc->w, &n, gr, &n, rc->g_out ? &one : &zero, rc->gs, &n);
}

int lif_recurrent_backward(Args *a, const Rec *rc) {
    const int64_t B = a->B, N = a->N;
    a->u = a->isave = a->bsave = NULL;
    a->g_out = rc->gs;
    a->gsb = N;
    a->gsn = 1;
    for (int64_t t = rc->T - 1; t >= 0; t--) {
        if (t < rc->T - 1 || rc->g_out) rec_grad_product(rc, B, N, t, t < rc->T - 1 ? AT(rc->gx, t + 1) : NULL);
        a->x = AT(rc->xp, t);
        a->g_recv = AT(rc->grv, t);
        a->g_reci = AT(rc->gri, t);
        a->g_recb = AT(rc->grb, t);
        a->gx = AT(rc->gx, t);
        a->v0 = t > 0 ? AT(rc->wv, t - 1) : rc->v0;
        a->i0 = t > 0 ? AT(rc->is, t - 1) : rc->i0;
        a->b0 = t > 0 ? AT(rc->bs, t - 1) : rc->b0;
        const int err = launch(a, 1);
        if (err) return err;
    }
    return 0;
}

int rec_size(void) { return (int)sizeof(Rec); }
int lif_forward(Args *a) { return launch(a, 0); }
int lif_backward(Args *a) { return launch(a, 1); }
int args_size(void) { return (int)sizeof(Args); }
int config_flags(void) { return FLAGS; }
