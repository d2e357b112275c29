using QuantSharp.Engine;

namespace QuantSharp.Quantization.Export;

/// <summary>
/// The constant parameters of a QuantizeLinear or DequantizeLinear node: scales, zero points, axis and the integer type's
/// range (8- and 16-bit and int32 types); null from <see cref="Of"/> when a scale or zero point is not an initializer.
/// </summary>
internal sealed record QdqParams(float[] Scales, int[] ZeroPoints, int? Axis, DataType Type, int QMin, int QMax)
{
    /// <summary>One scale and zero point for the whole tensor.</summary>
    public bool PerTensor => Scales.Length == 1;

    /// <summary>The level QuantizeLinear gives <paramref name="x"/> (per tensor): <c>clamp(round(x/scale) + zp)</c>, float32 division, half to even.</summary>
    public int Level(float x)
    {
        double r = MathF.Round(x / Scales[0], MidpointRounding.ToEven) + (double)ZeroPoints[0];
        return (int)Math.Clamp(r, QMin, QMax);
    }

    /// <summary>
    /// The parameters of <paramref name="node"/> (a QuantizeLinear when <paramref name="quantize"/>, else a DequantizeLinear);
    /// the type is the zero point's, or the quantized input's for DequantizeLinear, or uint8 for a QuantizeLinear without one.
    /// </summary>
    public static QdqParams? Of(Graph g, Node node, bool quantize)
    {
        if (node.Inputs.Count < 2 || !g.Initializers.TryGetValue(node.Inputs[1], out var st) || st is not Tensor<float> scale) return null;
        Tensor? zp = null;
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0 && !g.Initializers.TryGetValue(node.Inputs[2], out zp)) return null;
        DataType type;
        if (zp is not null) type = zp.DataType;
        else if (!quantize && g.Initializers.TryGetValue(node.Inputs[0], out var qt)) type = qt.DataType;
        else if (quantize) type = DataType.UInt8;
        else return null;
        var (lo, hi) = type switch
        {
            DataType.UInt8 => (0, 255),
            DataType.Int8 => (-128, 127),
            DataType.UInt16 => (0, 65535),
            DataType.Int16 => (-32768, 32767),
            DataType.Int32 => (int.MinValue, int.MaxValue),
            _ => (0, -1),
        };
        if (hi < lo) return null;
        var zps = zp switch
        {
            null => new int[scale.Length],
            Tensor<byte> b => b.Data.Select(v => (int)v).ToArray(),
            Tensor<sbyte> b => b.Data.Select(v => (int)v).ToArray(),
            Tensor<ushort> b => b.Data.Select(v => (int)v).ToArray(),
            Tensor<short> b => b.Data.Select(v => (int)v).ToArray(),
            Tensor<int> b => b.Data.ToArray(),
            _ => null,
        };
        if (zps is null || zps.Length != scale.Length) return null;
        int? axis = scale.Length > 1 || scale.Rank == 1 && node.Attributes.ContainsKey("axis") ? (int)node.GetInt("axis", 1) : null;
        return new QdqParams(scale.Data.ToArray(), zps, scale.Length > 1 ? axis : null, type, lo, hi);
    }
}
