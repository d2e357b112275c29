using QuantSharp.Engine;
using QuantSharp.Engine.Runtime.Quantizers;
using QuantSharp.Quantization.Encodings;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// Lowers a per-block parameter quantizer to ONNX opset 21: the weight stored as integers <c>k + zp</c> (int4/int8/int16
/// when the grid is signed symmetric, with zero point 0; uint4/uint8/uint16 with zero point <c>−offset</c> otherwise),
/// followed by <c>DequantizeLinear</c> with <c>axis</c> = the block axis and <c>block_size</c>, its scale and zero point
/// shaped like the weight with the block axis divided into blocks. With <see cref="QdqOptions.QuantizeWeights"/> off the
/// float weight is kept and gets a blocked <c>QuantizeLinear</c> in front (4-, 8- and 16-bit grids only, which need no clip).
/// </summary>
internal static class BlockedQdq
{
    /// <summary>The opset blocked QuantizeLinear/DequantizeLinear need.</summary>
    public const long Opset = 21;

    public static List<Node> Lower(Graph g, Node q, string name, Encoding e, QdqOptions options)
    {
        string input = q.Inputs[0];
        if (!g.Initializers.TryGetValue(input, out var t) || t is not Tensor<float> weight)
            throw new NotSupportedException($"QdqExport: quantizer '{name}': a {e.Granularity} encoding applies to float initializers only, and '{input}' is not one");
        var c = BlockContainer.For(name, e);
        int axis = e.Axis!.Value, bs = e.BlockSize!.Value;
        var scaleDims = BlockQuantization.ScaleDims(weight.Dims, axis, bs);
        string scale = g.UniqueName(input + "_scale");
        g.Initializers[scale] = new Tensor<float>(e.Scales.Select(s => (float)s).ToArray(), scaleDims);
        string zp = g.UniqueName(input + "_zero_point");
        g.Initializers[zp] = c.Typed(c.ZeroPoints(e), scaleDims);
        var nodes = new List<Node>();
        string levels;
        if (options.QuantizeWeights)
        {
            levels = g.UniqueName(input + "_" + c.Type.ToString().ToLowerInvariant());
            g.Initializers[levels] = c.Typed(c.Stored(weight, e), weight.Shape);
        }
        else
        {
            if (c.NeedsClip(e))
                throw new NotSupportedException($"QdqExport: quantizer '{name}': a {e.BitWidth}-bit {e.Granularity} encoding without stored weights needs a clip; export with QuantizeWeights");
            levels = g.UniqueName(q.Outputs[0] + "_" + c.Type.ToString().ToLowerInvariant());
            nodes.Add(Blocked(new Node("QuantizeLinear", [input, scale, zp], [levels], name + "_QuantizeLinear"), axis, bs));
        }
        nodes.Add(Blocked(new Node("DequantizeLinear", [levels, scale, zp], [q.Outputs[0]], name + "_DequantizeLinear"), axis, bs));
        return nodes;
    }

    private static Node Blocked(Node n, int axis, int blockSize) =>
        n.With("axis", AttributeValue.FromInt(axis)).With("block_size", AttributeValue.FromInt(blockSize));

    /// <summary>The ONNX integer type of a per-block encoding and the shift from grid levels to stored values.</summary>
    private sealed record BlockContainer(DataType Type, int Bits, bool Signed)
    {
        public static BlockContainer For(string name, Encoding e)
        {
            if (e.BitWidth > 16)
                throw new NotSupportedException($"QdqExport: quantizer '{name}': a {e.BitWidth}-bit {e.Granularity} encoding has no ONNX type (expected 2..16 bits)");
            int bits = e.BitWidth == 4 ? 4 : e.BitWidth <= 8 ? 8 : 16;
            long o0 = e.Offsets[0];
            bool signed = e.Symmetric && o0 < 0 && e.Offsets.All(o => o == o0) && o0 >= -(1L << (bits - 1));
            var type = (bits, signed) switch
            {
                (4, true) => DataType.Int4, (4, false) => DataType.UInt4,
                (8, true) => DataType.Int8, (8, false) => DataType.UInt8,
                (16, true) => DataType.Int16, _ => DataType.UInt16,
            };
            return new BlockContainer(type, bits, signed);
        }

        /// <summary>Zero point of each block: 0 on a signed type, −offset on an unsigned one.</summary>
        public int[] ZeroPoints(Encoding e) => e.Offsets.Select(o => Signed ? 0 : (int)-o).ToArray();

        /// <summary>The stored value of each element: its grid level plus its block's zero point.</summary>
        public int[] Stored(Tensor<float> weight, Encoding e)
        {
            var levels = BlockQuantization.Levels(weight, e);
            if (Signed) return levels;
            int axis = e.Axis!.Value, bs = e.BlockSize!.Value;
            for (int i = 0; i < levels.Length; i++) levels[i] -= (int)e.Offsets[BlockQuantization.EntryOf(i, weight.Dims, axis, bs)];
            return levels;
        }

        /// <summary>Whether the type's range is wider than the grid (then a QuantizeLinear alone would not saturate like the sim).</summary>
        public bool NeedsClip(Encoding e) => e.Steps != (1L << Bits) - 1;

        public Tensor Typed(int[] values, int[] shape) => Type switch
        {
            DataType.Int4 => new Tensor<sbyte>(values.Select(v => (sbyte)v).ToArray(), shape).AsElementType(DataType.Int4),
            DataType.UInt4 => new Tensor<byte>(values.Select(v => (byte)v).ToArray(), shape).AsElementType(DataType.UInt4),
            DataType.Int8 => new Tensor<sbyte>(values.Select(v => (sbyte)v).ToArray(), shape),
            DataType.UInt8 => new Tensor<byte>(values.Select(v => (byte)v).ToArray(), shape),
            DataType.Int16 => new Tensor<short>(values.Select(v => (short)v).ToArray(), shape),
            _ => new Tensor<ushort>(values.Select(v => (ushort)v).ToArray(), shape),
        };
    }
}
