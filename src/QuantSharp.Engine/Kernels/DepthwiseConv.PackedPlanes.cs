using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantSharp.Engine.Threading;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Depthwise forward for tiny planes that keep their size (2×2 or 4×4 deep in a network at 64×64, any kernel with
/// 'same' padding and stride 1): 16 / P consecutive planes of P pixels fill one 16-lane vector, and each tap is a
/// permutation of that vector (input pixel → output pixel, zero where the tap reads padding), multiplied by a vector of
/// the lanes' channel weights. A 2×2 plane fills 4 of the row kernel's 16 lanes per row; here one vector op per tap
/// produces 16 outputs. The taps are fused-multiply-added in the row kernel's order, padding zeros included, so the two
/// give the same bits. AVX-512 only (a lane permutation per tap); elsewhere the row kernel runs.
/// </summary>
internal static unsafe partial class DepthwiseConv
{
    /// <summary>
    /// True when the packed-plane kernel takes this geometry with <paramref name="width"/> lanes. Several images only: for
    /// a single image building the lane weights costs more than the convolution saves.
    /// </summary>
    internal static bool PreferPackedPlanes(ConvGeometry g, int width) =>
        !ForceRows && width == 16 && g.N >= 2 && Avx512F.IsSupported && g.ID == 1 && g.OH == g.IH && g.OW == g.IW && g.OutSize <= 16 && 16 % g.OutSize == 0
        && g.C % (16 / g.OutSize) == 0;

    /// <summary>Tests set this (on their own thread) to run the row kernel whatever the plane.</summary>
    [ThreadStatic] internal static bool ForceRows;

    /// <summary>Forward over all planes (y fully overwritten); the epilogue finishes runs of planes as they are computed.</summary>
    internal static void ForwardPackedPlanes(ConvGeometry g, float[] x, float[] w, float[]? b, float[] y, ConvEpilogue? epilogue)
    {
        int p = g.OutSize, k = 16 / p, taps = g.KH * g.KW, groups = g.C / k;
        // Per tap: the source lane of every output lane, and whether the tap reads a real pixel there.
        var index = new int[taps * 16];
        var valid = new uint[taps * 16];
        for (int t = 0; t < taps; t++)
        {
            int kh = t / g.KW, kw = t % g.KW;
            for (int lane = 0; lane < 16; lane++)
            {
                int plane = lane / p, o = lane % p, oh = o / g.OW, ow = o % g.OW;
                int ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                bool inside = (uint)ih < (uint)g.IH && (uint)iw < (uint)g.IW;
                index[t * 16 + lane] = inside ? plane * p + ih * g.IW + iw : lane;
                valid[t * 16 + lane] = inside ? uint.MaxValue : 0u;
            }
        }
        // Per group of k channels: the bias and each tap's weight, lane by lane.
        // Rented: a layer's lane weights are up to a few hundred KB, rebuilt per call (the weights may have changed).
        var weights = ArrayPool<float>.Shared.Rent(groups * taps * 16);
        var bias = ArrayPool<float>.Shared.Rent(groups * 16);
        try
        {
            // Channel c fills lanes (c mod k)·P … + P − 1 of its group's vectors (plain stores: a Fill call per run of a
            // few lanes cost more than the whole convolution at batch 8).
            fixed (float* pw = weights, pb = bias, src = w)
                for (int c = 0; c < g.C; c++)
                {
                    int grp = c / k, lane0 = c % k * p;
                    float bc = b?[c] ?? 0f;
                    for (int j = 0; j < p; j++) pb[grp * 16 + lane0 + j] = bc;
                    float* wc = src + (long)c * taps, dst = pw + (long)grp * taps * 16 + lane0;
                    for (int t = 0; t < taps; t++, dst += 16)
                    {
                        float v = wc[t];
                        if (p == 16) Vector512.Create(v).Store(dst);
                        else if (p == 8) Vector256.Create(v).Store(dst);
                        else if (p == 4) Vector128.Create(v).Store(dst);
                        else for (int j = 0; j < p; j++) dst[j] = v;
                    }
                }
            int vectors = g.N * g.C / k;
            Work.For(vectors, Math.Max(1, 8192 / (16 * taps)), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                fixed (float* px = x, py = y, pw = weights, pb = bias)
                fixed (int* pi = index)
                fixed (uint* pv = valid)
                {
                    const int Run = 1024; // vectors finished by the epilogue at a time, while in cache
                    for (int v0 = start; v0 < end; v0 += Run)
                    {
                        int v1 = Math.Min(end, v0 + Run), v = v0;
                        // Four vectors at a time: four independent chains of fused multiply-adds hide their latency.
                        for (; v + 4 <= v1; v += 4)
                        {
                            int g0 = v % groups, g1 = (v + 1) % groups, g2 = (v + 2) % groups, g3 = (v + 3) % groups;
                            float* s0 = px + (long)v * 16;
                            Vector512<float> x0 = Vector512.Load(s0), x1 = Vector512.Load(s0 + 16), x2 = Vector512.Load(s0 + 32), x3 = Vector512.Load(s0 + 48);
                            Vector512<float> a0 = Vector512.Load(pb + g0 * 16), a1 = Vector512.Load(pb + g1 * 16), a2 = Vector512.Load(pb + g2 * 16), a3 = Vector512.Load(pb + g3 * 16);
                            float* w0 = pw + (long)g0 * taps * 16, w1 = pw + (long)g1 * taps * 16, w2 = pw + (long)g2 * taps * 16, w3 = pw + (long)g3 * taps * 16;
                            for (int t = 0; t < taps; t++)
                            {
                                var index = Vector512.Load(pi + t * 16);
                                var mask = Vector512.Load(pv + t * 16).AsSingle();
                                a0 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(x0, index) & mask, Vector512.Load(w0 + t * 16), a0);
                                a1 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(x1, index) & mask, Vector512.Load(w1 + t * 16), a1);
                                a2 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(x2, index) & mask, Vector512.Load(w2 + t * 16), a2);
                                a3 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(x3, index) & mask, Vector512.Load(w3 + t * 16), a3);
                            }
                            float* d0 = py + (long)v * 16;
                            a0.Store(d0);
                            a1.Store(d0 + 16);
                            a2.Store(d0 + 32);
                            a3.Store(d0 + 48);
                        }
                        for (; v < v1; v++)
                        {
                            int grp = v % groups;
                            var src = Vector512.Load(px + (long)v * 16);
                            var acc = Vector512.Load(pb + grp * 16);
                            float* wg = pw + (long)grp * taps * 16;
                            for (int t = 0; t < taps; t++)
                            {
                                var tap = Avx512F.PermuteVar16x32(src, Vector512.Load(pi + t * 16)) & Vector512.Load(pv + t * 16).AsSingle();
                                acc = Vector512.FusedMultiplyAdd(tap, Vector512.Load(wg + t * 16), acc);
                            }
                            acc.Store(py + (long)v * 16);
                        }
                        epilogue?.ApplyPlanes(py, (long)v0 * k, (v1 - v0) * k, g.C, p);
                    }
                }
            });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(weights);
            ArrayPool<float>.Shared.Return(bias);
        }
    }
}
