/* Fused leaky-integrate-and-fire time loops for spikekit-kernels (compiled at first use, loaded with ctypes).
 *
 * Compiled twice, with -DREAL=float -DSUF=f32 and -DREAL=double -DSUF=f64. Build with -ffp-contract=off and
 * without -ffast-math: every expression rounds exactly as PyTorch's elementwise CPU ops do, so the forward
 * outputs match the reference backend bit for bit. The equations and the backward recursion are documented in
 * spikekit_kernels/fused.py.
 *
 * Layout: x, out, u (pre-spike membrane) and the per-step saves are (B, T, N) contiguous; states and
 * per-neuron parameters are (B, N) contiguous. Work is split over (batch row, block of neurons) items across
 * pthreads; each item runs the whole time loop for its neurons.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* type-generic math so that the float build never detours through double (and can be vectorised) */
#define TRUNC(x) _Generic((x), float: truncf, default: trunc)(x)
#define FLOOR(x) _Generic((x), float: floorf, default: floor)(x)
#define EXP(x) _Generic((x), float: expf, default: exp)(x)
#define FABS(x) _Generic((x), float: fabsf, default: fabs)(x)
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

enum { F_SYN = 1, F_NORM = 2, F_FLOOR = 4, F_ALIF = 8, F_SPIKING = 16, F_RESET = 32, F_SUBVAL = 64, F_MAXCLAMP = 128 };
enum { SPK_MULTI = 0, SPK_SINGLE = 1 };
enum { SG_TENSOR = 0, SG_SINGLE_EXP = 1, SG_GAUSS = 2, SG_MULTI_GAUSS = 3, SG_HEAVISIDE = 4, SG_PERIODIC_EXP = 5 };
#define BLOCK 512

typedef struct {
    int64_t B, T, N;
    int flags, spike_kind, sg_kind;
    REAL max_spikes, sg_p[5];
    const REAL *x, *v0, *i0, *b0, *am, *as, *thr, *fl, *aa, *asc, *rc;
    REAL *out, *u, *isave, *bsave, *recv, *vfin, *ifin, *bfin;
    /* backward */
    const REAL *g_out, *g_recv, *g_reci, *g_recb, *g_vfin, *g_ifin, *g_bfin, *sg;
    REAL *gx, *gv0, *gi0, *gb0, *gam, *gas, *gaa;
    int nthreads, tid;
} CAT(Args, SUF);

static inline REAL CAT(spike, SUF)(REAL u, REAL th, int kind, int clamp, REAL mx) {
    REAL s;
    if (kind == SPK_SINGLE) {
        s = (u - th >= (REAL)0) ? (REAL)1 : (REAL)0;
    } else {
        REAL q = TRUNC(u / th);
        s = ((u > (REAL)0) ? (REAL)1 : (REAL)0) * q; /* keeps -0.0 as torch does */
        if (clamp && s > mx) s = mx;
    }
    return s;
}

static inline REAL CAT(gauss, SUF)(REAL x, REAL mu, REAL sigma) {
    REAL d = x - mu;
    return EXP(-(d * d) / (2 * sigma * sigma)) / (sigma * (REAL)sqrt(2 * M_PI));
}

static inline REAL CAT(surrogate, SUF)(const CAT(Args, SUF) * a, REAL u, REAL th, int64_t idx) {
    const REAL *p = a->sg_p;
    switch (a->sg_kind) {
    case SG_SINGLE_EXP: {
        REAL w = th * p[0];
        return p[1] / w * EXP(-FABS(u - th) / w);
    }
    case SG_GAUSS:
        return CAT(gauss, SUF)(u - th, p[0], p[1]) * p[2];
    case SG_MULTI_GAUSS: {
        REAL x = u - th;
        return ((1 + p[2]) * CAT(gauss, SUF)(x, p[0], p[1]) - p[2] * CAT(gauss, SUF)(x, p[1], p[3] * p[1]) -
                p[2] * CAT(gauss, SUF)(x, -p[1], p[3] * p[1])) * p[4];
    }
    case SG_HEAVISIDE:
        return ((u >= th - p[0]) ? (REAL)1 : (REAL)0) / th;
    case SG_PERIODIC_EXP: {
        REAL vn = u / th - (REAL)0.5;
        REAL vp = th * (2 * (vn - FLOOR(vn)) - 1);
        REAL z = (u < th) ? (u - th) : vp;
        return p[1] * EXP(-FABS(z) / p[0]);
    }
    default:
        return a->sg[idx];
    }
}

/* one step of the membrane after the spike: reset then floor; returns the carried v */
static inline REAL CAT(after_spike, SUF)(const CAT(Args, SUF) * a, REAL u, REAL s, REAL th, int64_t k) {
    int f = a->flags;
    REAL v = u;
    if (f & F_SPIKING) {
        if (f & F_RESET) {
            const REAL silent = (s == (REAL)0) ? (REAL)1 : (REAL)0;
            v = u * silent + (1 - silent) * a->rc[k];
        } else {
            v = u - s * ((f & F_SUBVAL) ? a->rc[k] : th);
        }
    }
    if (f & F_FLOOR) {
        REAL d = v - a->fl[k];
        v = (d > (REAL)0 ? d : (REAL)0) + a->fl[k];
    }
    return v;
}

static void CAT(forward_item, SUF)(const CAT(Args, SUF) * a, int64_t bi, int64_t n0, int64_t n1) {
    const int64_t T = a->T, N = a->N;
    const int f = a->flags;
    REAL v[BLOCK], is[BLOCK], bb[BLOCK];
    const int64_t len = n1 - n0;
    for (int64_t j = 0; j < len; j++) {
        int64_t k = bi * N + n0 + j;
        v[j] = a->v0[k];
        is[j] = (f & F_SYN) ? a->i0[k] : 0;
        bb[j] = (f & F_ALIF) ? a->b0[k] : 0;
    }
    for (int64_t t = 0; t < T; t++) {
        const int64_t base = (bi * T + t) * N + n0;
        for (int64_t j = 0; j < len; j++) {
            const int64_t k = bi * N + n0 + j, e = base + j;
            const REAL am = a->am[k];
            REAL i = (f & F_SYN) ? a->as[k] * (is[j] + a->x[e]) : a->x[e];
            REAL drive = (f & F_NORM) ? (1 - am) * i : i;
            REAL u = am * v[j] + drive;
            REAL th = (f & F_ALIF) ? a->thr[k] + a->asc[k] * bb[j] : ((f & F_SPIKING) ? a->thr[k] : 0);
            REAL s = 0;
            if (f & F_SPIKING) {
                s = CAT(spike, SUF)(u, th, a->spike_kind, f & F_MAXCLAMP, a->max_spikes);
                a->out[e] = s;
            } else {
                a->out[e] = u;
            }
            a->u[e] = u;
            v[j] = CAT(after_spike, SUF)(a, u, s, th, k);
            if (f & F_ALIF) {
                const REAL aa = a->aa[k];
                bb[j] = aa * bb[j] + (1 - aa) * s;
                a->bsave[e] = bb[j];
            }
            if (f & F_SYN) {
                is[j] = i;
                a->isave[e] = i;
            }
            if (a->recv) a->recv[e] = v[j];
        }
    }
    for (int64_t j = 0; j < len; j++) {
        int64_t k = bi * N + n0 + j;
        a->vfin[k] = v[j];
        if (f & F_SYN) a->ifin[k] = is[j];
        if (f & F_ALIF) a->bfin[k] = bb[j];
    }
}

/*
 * Reverse-time recursion (see fused.py for the derivation). Adjoints carried between steps, per neuron:
 * gw = dL/d(carried v after step t), gi = dL/d i_t, gb = dL/d b_t.
 */
static void CAT(backward_item, SUF)(const CAT(Args, SUF) * a, int64_t bi, int64_t n0, int64_t n1) {
    const int64_t T = a->T, N = a->N;
    const int f = a->flags;
    REAL gw[BLOCK], gi[BLOCK], gb[BLOCK], sam[BLOCK], sas[BLOCK], saa[BLOCK];
    const int64_t len = n1 - n0;
    for (int64_t j = 0; j < len; j++) {
        int64_t k = bi * N + n0 + j;
        gw[j] = a->g_vfin ? a->g_vfin[k] : 0;
        gi[j] = (a->g_ifin && (f & F_SYN)) ? a->g_ifin[k] : 0;
        gb[j] = (a->g_bfin && (f & F_ALIF)) ? a->g_bfin[k] : 0;
        sam[j] = sas[j] = saa[j] = 0;
    }
    for (int64_t t = T - 1; t >= 0; t--) {
        const int64_t base = (bi * T + t) * N + n0;
        for (int64_t j = 0; j < len; j++) {
            const int64_t k = bi * N + n0 + j, e = base + j, ep = e - N;
            const REAL am = a->am[k];
            const REAL u = a->u[e];
            /* states before step t */
            const REAL bprev = (f & F_ALIF) ? (t > 0 ? a->bsave[ep] : a->b0[k]) : 0;
            const REAL iprev = (f & F_SYN) ? (t > 0 ? a->isave[ep] : a->i0[k]) : 0;
            REAL wprev;
            if (t > 0) {
                const REAL up = a->u[ep];
                REAL thp = 0, sp = 0;
                if (f & F_SPIKING) {
                    const REAL bpp = (f & F_ALIF) ? (t > 1 ? a->bsave[ep - N] : a->b0[k]) : 0;
                    thp = (f & F_ALIF) ? a->thr[k] + a->asc[k] * bpp : a->thr[k];
                    sp = CAT(spike, SUF)(up, thp, a->spike_kind, f & F_MAXCLAMP, a->max_spikes);
                }
                wprev = CAT(after_spike, SUF)(a, up, sp, thp, k);
            } else {
                wprev = a->v0[k];
            }
            const REAL th = (f & F_ALIF) ? a->thr[k] + a->asc[k] * bprev : ((f & F_SPIKING) ? a->thr[k] : 0);
            REAL gwt = gw[j] + (a->g_recv ? a->g_recv[e] : 0);
            REAL gv = gwt;
            REAL gu = 0, gs = 0, gth = 0;
            if (f & F_FLOOR) {
                /* recompute the pre-floor v to get relu's mask */
                REAL s0 = (f & F_SPIKING) ? CAT(spike, SUF)(u, th, a->spike_kind, f & F_MAXCLAMP, a->max_spikes) : 0;
                REAL v = u;
                if (f & F_SPIKING) {
                    if (f & F_RESET) {
                        const REAL silent = (s0 == (REAL)0) ? (REAL)1 : (REAL)0;
                        v = u * silent + (1 - silent) * a->rc[k];
                    }
                    else {
                        v = u - s0 * ((f & F_SUBVAL) ? a->rc[k] : th);
                    }
                }
                gv = (v - a->fl[k] > (REAL)0) ? gwt : (REAL)0;
            }
            if (f & F_SPIKING) {
                const REAL s = CAT(spike, SUF)(u, th, a->spike_kind, f & F_MAXCLAMP, a->max_spikes);
                gs = a->g_out[e];
                if (f & F_RESET) {
                    gu = gv * ((s == (REAL)0) ? (REAL)1 : (REAL)0);
                } else {
                    gu = gv;
                    if (f & F_SUBVAL) {
                        gs -= gv * a->rc[k];
                    } else {
                        gs -= gv * th;
                        gth = -gv * s;
                    }
                }
                if (f & F_ALIF) {
                    const REAL aa = a->aa[k];
                    REAL gbt = gb[j] + (a->g_recb ? a->g_recb[e] : 0);
                    gs += (1 - aa) * gbt;
                    saa[j] += gbt * (bprev - s);
                    gb[j] = aa * gbt + a->asc[k] * gth;
                }
                gu += gs * CAT(surrogate, SUF)(a, u, th, e);
            } else {
                gu = gv + a->g_out[e];
            }
            /* u = am * wprev + drive, drive = (1 - am) * i or i */
            gw[j] = am * gu;
            REAL i = (f & F_SYN) ? a->isave[e] : a->x[e];
            REAL gdrive;
            if (f & F_NORM) {
                sam[j] += gu * (wprev - i);
                gdrive = (1 - am) * gu;
            } else {
                sam[j] += gu * wprev;
                gdrive = gu;
            }
            if (f & F_SYN) {
                const REAL as = a->as[k];
                REAL git = gi[j] + gdrive + (a->g_reci ? a->g_reci[e] : 0);
                a->gx[e] = as * git;
                sas[j] += git * (iprev + a->x[e]);
                gi[j] = as * git;
            } else {
                a->gx[e] = gdrive;
            }
        }
    }
    for (int64_t j = 0; j < len; j++) {
        int64_t k = bi * N + n0 + j;
        a->gv0[k] = gw[j];
        a->gam[k] = sam[j];
        if (f & F_SYN) {
            a->gi0[k] = gi[j];
            a->gas[k] = sas[j];
        }
        if (f & F_ALIF) {
            a->gb0[k] = gb[j];
            a->gaa[k] = saa[j];
        }
    }
}

static void *CAT(run_items, SUF)(void *p, int backward) {
    CAT(Args, SUF) *a = (CAT(Args, SUF) *)p;
    const int64_t nblk = (a->N + BLOCK - 1) / BLOCK;
    const int64_t items = a->B * nblk;
    for (int64_t it = a->tid; it < items; it += a->nthreads) {
        int64_t bi = it / nblk, blk = it % nblk;
        int64_t n0 = blk * BLOCK, n1 = n0 + BLOCK < a->N ? n0 + BLOCK : a->N;
        if (backward) CAT(backward_item, SUF)(a, bi, n0, n1);
        else CAT(forward_item, SUF)(a, bi, n0, n1);
    }
    return NULL;
}
static void *CAT(fwd_thread, SUF)(void *p) { return CAT(run_items, SUF)(p, 0); }
static void *CAT(bwd_thread, SUF)(void *p) { return CAT(run_items, SUF)(p, 1); }

static int CAT(launch, SUF)(CAT(Args, SUF) * a, int backward) {
    int nt = a->nthreads < 1 ? 1 : (a->nthreads > 64 ? 64 : a->nthreads);
    const int64_t items = a->B * ((a->N + BLOCK - 1) / BLOCK);
    if (items < nt) nt = (int)items;
    if (nt <= 1) {
        a->nthreads = 1;
        a->tid = 0;
        CAT(run_items, SUF)(a, backward);
        return 0;
    }
    CAT(Args, SUF) per[64];
    pthread_t th[64];
    for (int i = 0; i < nt; i++) {
        per[i] = *a;
        per[i].nthreads = nt;
        per[i].tid = i;
    }
    for (int i = 1; i < nt; i++) {
        if (pthread_create(&th[i], NULL, backward ? CAT(bwd_thread, SUF) : CAT(fwd_thread, SUF), &per[i]) != 0) {
            for (int j = 1; j < i; j++) pthread_join(th[j], NULL);
            return -1;
        }
    }
    CAT(run_items, SUF)(&per[0], backward);
    for (int i = 1; i < nt; i++) pthread_join(th[i], NULL);
    return 0;
}

int CAT(lif_forward, SUF)(CAT(Args, SUF) * a) { return CAT(launch, SUF)(a, 0); }
int CAT(lif_backward, SUF)(CAT(Args, SUF) * a) { return CAT(launch, SUF)(a, 1); }
int CAT(args_size, SUF)(void) { return (int)sizeof(CAT(Args, SUF)); }
