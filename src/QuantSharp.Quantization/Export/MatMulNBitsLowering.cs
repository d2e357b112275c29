using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Replaces <c>MatMul(A, quantize(W))</c> — <c>W</c> a float initializer <c>[K, N]</c> whose quantizer has a 4-bit per-block
/// encoding along K — by ONNX Runtime's <c>com.microsoft.MatMulNBits(A, B, scales[, zero_points])</c>, which computes
/// <c>A · dequant(B)ᵀ</c> with <c>dequant(B)[n, k] = (code − zp)·scale[n, k / block_size]</c>.
/// </summary>
/// <remarks>
/// <para>Layout (ONNX Runtime's contrib schema): attributes <c>K</c>, <c>N</c>, <c>bits</c> = 4, <c>block_size</c> (a power of
/// two ≥ 16); <c>B</c> uint8 <c>[N, K / block_size, block_size / 2]</c> holding the codes of row n along K two per byte,
/// the lower K index in the low nibble; <c>scales</c> float <c>[N · K / block_size]</c> (row n's blocks in order);
/// <c>zero_points</c> uint8 <c>[N · ceil(blocks / 2)]</c>, two per byte low nibble first, each row starting on a new byte,
/// omitted when every block's zero point is the default 8 (a signed symmetric 4-bit grid).</para>
/// <para>The codes are the unsigned stored levels <c>k − offset</c> with zero point <c>−offset</c>, so every weight
/// dequantizes to the sim's <c>k·scale</c>. A weight read by anything other than MatMul input 1, a K the block size does
/// not divide, or another encoding keeps the blocked <c>DequantizeLinear</c> form.</para>
/// </remarks>
public static class MatMulNBitsLowering
{
    /// <summary>The contrib domain of MatMulNBits.</summary>
    public const string Domain = "com.microsoft";

    /// <summary>Rewrites every eligible MatMul of <paramref name="g"/> (a sim graph with quantizer nodes) in place; returns how many.</summary>
    public static int Apply(Graph g, Func<string, Encoding?> encodingOf)
    {
        int rewritten = 0;
        foreach (var q in g.Nodes.Where(QuantizerNode.Is).ToList())
        {
            if (encodingOf(QuantizerNode.QuantizerName(q)) is not { } e || !Eligible(e)) continue;
            if (!g.Initializers.TryGetValue(q.Inputs[0], out var t) || t is not Tensor<float> { Rank: 2 } w) continue;
            int k = w.Dims[0], n = w.Dims[1], bs = e.BlockSize!.Value;
            if (k % bs != 0 || e.Axis != 0) continue;
            var readers = g.Consumers(q.Outputs[0]);
            if (readers.Count == 0 || g.IsOutput(q.Outputs[0]) || readers.Any(r => r.Node.OpType != "MatMul" || r.Node.Domain.Length != 0 || r.Index != 1)) continue;
            var (b, scales, zeroPoints) = Pack(w, e);
            string name = q.Inputs[0];
            string bName = g.UniqueName(name + "_nbits"), sName = g.UniqueName(name + "_nbits_scales");
            g.Initializers[bName] = b;
            g.Initializers[sName] = scales;
            string? zName = null;
            if (zeroPoints is not null) g.Initializers[zName = g.UniqueName(name + "_nbits_zero_points")] = zeroPoints;
            foreach (var (mm, _) in readers)
            {
                var replacement = new Node("MatMulNBits", zName is null ? [mm.Inputs[0], bName, sName] : [mm.Inputs[0], bName, sName, zName],
                        mm.Outputs, mm.Name, Domain)
                    .With("K", AttributeValue.FromInt(k)).With("N", AttributeValue.FromInt(n))
                    .With("bits", AttributeValue.FromInt(4)).With("block_size", AttributeValue.FromInt(bs));
                g.Nodes[g.Nodes.IndexOf(mm)] = replacement;
                rewritten++;
            }
            g.Nodes.Remove(q);
            if (g.Consumers(name).Count == 0 && !g.IsOutput(name)) g.Initializers.Remove(name);
        }
        if (rewritten > 0) g.Opsets[Domain] = 1;
        return rewritten;
    }

    private static bool Eligible(Encoding e) =>
        e is { DataType: EncodingDataType.Int, BitWidth: 4, BlockSize: int bs } && bs >= 16 && (bs & (bs - 1)) == 0 && e.Steps == 15;

    /// <summary>The packed codes, the scales in [n, block] order and the packed zero points (null when all are 8).</summary>
    internal static (Tensor<byte> B, Tensor<float> Scales, Tensor<byte>? ZeroPoints) Pack(Tensor<float> w, Encoding e)
    {
        int k = w.Dims[0], n = w.Dims[1], bs = e.BlockSize!.Value, blocks = k / bs;
        var levels = BlockQuantization.Levels(w, e);
        var b = new byte[n * blocks * (bs / 2)];
        var scales = new float[n * blocks];
        var zp = new int[n * blocks];
        for (int col = 0; col < n; col++)
            for (int blk = 0; blk < blocks; blk++)
            {
                // The encoding's entries run [block, n] (the weight is [K, N], blocked along K).
                int entry = blk * n + col;
                scales[col * blocks + blk] = (float)e.Scales[entry];
                int z = (int)-e.Offsets[entry];
                zp[col * blocks + blk] = z;
                for (int j = 0; j < bs; j++)
                {
                    int code = levels[(blk * bs + j) * n + col] + z;
                    int at = (col * blocks + blk) * (bs / 2) + j / 2;
                    b[at] |= (byte)(j % 2 == 0 ? code : code << 4);
                }
            }
        Tensor<byte>? zeroPoints = null;
        if (zp.Any(z => z != 8))
        {
            int perRow = (blocks + 1) / 2;
            var packed = new byte[n * perRow];
            for (int col = 0; col < n; col++)
                for (int blk = 0; blk < blocks; blk++)
                    packed[col * perRow + blk / 2] |= (byte)(blk % 2 == 0 ? zp[col * blocks + blk] : zp[col * blocks + blk] << 4);
            zeroPoints = new Tensor<byte>(packed, n * perRow);
        }
        return (new Tensor<byte>(b, n, blocks, bs / 2), new Tensor<float>(scales, n * blocks), zeroPoints);
    }
}
