// meanfield/cuda/random.cu -- counter-based Gaussian draws (Philox4x32-10 and Box-Muller).
//
// Compiled after common.cu (MF_FN, MF_BLOCK).  Philox4x32-10 is the counter-based generator of
// Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC'11): block
// j of a stream is a pure function of a 64-bit key and a 128-bit counter, with no state, so a
// draw does not depend on the launch configuration, the device or the CuPy version.  The key
// is set once per net (from its seed); the counter is (block index j, stream): stream = the
// layer, j = 0, 1, 2, ... the position inside the stream.  Each block gives four 32-bit words,
// i.e. two uniform doubles with 53 random bits each, i.e. two N(0, 1) values by Box-Muller.
//
// The functions compile for the host too, so the test-suite checks them against Random123's
// known-answer vectors and an independent Python implementation without a GPU.

#ifndef MEANFIELD_RANDOM_CU
#define MEANFIELD_RANDOM_CU

struct mf_philox_block {
    unsigned int v[4];
};

MF_FN void mf_mul_hilo(unsigned int a, unsigned int b, unsigned int& hi, unsigned int& lo) {
    const unsigned long long p = static_cast<unsigned long long>(a) * b;
    hi = static_cast<unsigned int>(p >> 32);
    lo = static_cast<unsigned int>(p);
}

// Philox4x32 with 10 rounds (Random123's philox4x32_R(10, ctr, key)).
MF_FN mf_philox_block mf_philox4x32_10(mf_philox_block c, unsigned int k0, unsigned int k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        unsigned int hi0, lo0, hi1, lo1;
        mf_mul_hilo(0xD2511F53u, c.v[0], hi0, lo0);
        mf_mul_hilo(0xCD9E8D57u, c.v[2], hi1, lo1);
        const mf_philox_block next = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = next;
        k0 += 0x9E3779B9u;  // Weyl key schedule
        k1 += 0xBB67AE85u;
    }
    return c;
}

// A uniform double in (0, 1) from two words: 53 random bits, offset by half a step so that
// neither 0 (log(0) below) nor 1 can occur.
MF_FN double mf_uniform53(unsigned int hi, unsigned int lo) {
    const unsigned long long bits =
        (static_cast<unsigned long long>(hi >> 5) << 26) | static_cast<unsigned long long>(lo >> 6);
    return (static_cast<double>(bits) + 0.5) * 1.1102230246251565404e-16;  // 2^-53
}

// Two N(0, 1) values of block j of stream (s_hi, s_lo) under key (k0, k1): Box-Muller,
// z0 = r cos(2 pi u2), z1 = r sin(2 pi u2), r = sqrt(-2 log u1).
MF_FN void mf_normal_pair(unsigned long long j, unsigned int s_lo, unsigned int s_hi,
                          unsigned int k0, unsigned int k1, double& z0, double& z1) {
    const mf_philox_block c = {{static_cast<unsigned int>(j), static_cast<unsigned int>(j >> 32),
                                s_lo, s_hi}};
    const mf_philox_block w = mf_philox4x32_10(c, k0, k1);
    const double u1 = mf_uniform53(w.v[0], w.v[1]);
    const double u2 = mf_uniform53(w.v[2], w.v[3]);
    const double r = sqrt(-2.0 * log(u1));
#ifdef MF_DEVICE_CODE
    double s, co;
    sincospi(2.0 * u2, &s, &co);  // exact scaling of the argument by pi
#else
    const double s = sin(6.283185307179586477 * u2), co = cos(6.283185307179586477 * u2);
#endif
    z0 = r * co;
    z1 = r * s;
}

#ifdef MF_DEVICE_CODE

// out[i] for i < n: value i of the stream, i.e. out[2 j] and out[2 j + 1] from block
// first + j.  n may be odd (the last block's second value is dropped).
extern "C" __global__ void __launch_bounds__(MF_BLOCK)
    mf_philox_normal_f64(double* out, long long n, unsigned long long first, unsigned int s_lo,
                         unsigned int s_hi, unsigned int k0, unsigned int k1) {
    const long long blocks = (n + 1) / 2;
    for (long long j = mf_thread_index(); j < blocks; j += mf_thread_count()) {
        double z0, z1;
        mf_normal_pair(first + static_cast<unsigned long long>(j), s_lo, s_hi, k0, k1, z0, z1);
        out[2 * j] = z0;
        if (2 * j + 1 < n) out[2 * j + 1] = z1;
    }
}

#endif  // MF_DEVICE_CODE

#endif  // MEANFIELD_RANDOM_CU
