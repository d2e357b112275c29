namespace QuantSharp.Engine.Kernels;

/// <summary>ONNX <c>auto_pad</c> modes that <see cref="ConvParams.AutoPad"/> resolves into explicit pads.</summary>
public enum AutoPadMode
{
    /// <summary>No padding (ONNX <c>VALID</c>).</summary>
    Valid,
    /// <summary>Output = ceil(input / stride); an odd total pad puts the extra cell at the end (ONNX <c>SAME_UPPER</c>).</summary>
    SameUpper,
    /// <summary>Output = ceil(input / stride); an odd total pad puts the extra cell at the beginning (ONNX <c>SAME_LOWER</c>).</summary>
    SameLower,
}

/// <summary>
/// Immutable attributes of an ONNX <c>Conv</c> / <c>ConvTranspose</c> over 1 to 3 spatial dimensions:
/// strides, explicit (possibly asymmetric) pads, dilations and group count.
/// </summary>
/// <remarks>
/// Conv output size per spatial axis: <c>out = floor((in + padBegin + padEnd − ((k − 1)·dilation + 1)) / stride) + 1</c>.
/// ConvTranspose output size: <c>out = stride·(in − 1) + outputPadding + ((k − 1)·dilation + 1) − padBegin − padEnd</c>.
/// Arrays are copied on construction, so an instance never changes.
/// </remarks>
public sealed class ConvParams : IEquatable<ConvParams>
{
    private readonly int[] _strides, _padsBegin, _padsEnd, _dilations;

    /// <summary>Creates the parameters; every array has one entry per spatial axis (1 to 3 axes).</summary>
    /// <exception cref="ShapeException">Lengths differ, a stride or dilation is below 1, a pad is negative, or groups is below 1.</exception>
    public ConvParams(int[] strides, int[] padsBegin, int[] padsEnd, int[] dilations, int groups = 1)
    {
        const string op = "ConvParams";
        int d = strides.Length;
        Check.That(d is >= 1 and <= 3, op, "strides", "1 to 3 spatial axes", $"{d}");
        Check.That(padsBegin.Length == d, op, "padsBegin", $"{d} entries (one per spatial axis)", $"{padsBegin.Length}");
        Check.That(padsEnd.Length == d, op, "padsEnd", $"{d} entries (one per spatial axis)", $"{padsEnd.Length}");
        Check.That(dilations.Length == d, op, "dilations", $"{d} entries (one per spatial axis)", $"{dilations.Length}");
        for (int i = 0; i < d; i++)
        {
            Check.That(strides[i] >= 1, op, "strides", "every stride >= 1", Shapes.Format(strides));
            Check.That(dilations[i] >= 1, op, "dilations", "every dilation >= 1", Shapes.Format(dilations));
            Check.That(padsBegin[i] >= 0, op, "padsBegin", "every pad >= 0", Shapes.Format(padsBegin));
            Check.That(padsEnd[i] >= 0, op, "padsEnd", "every pad >= 0", Shapes.Format(padsEnd));
        }
        Check.That(groups >= 1, op, "groups", ">= 1", $"{groups}");
        _strides = (int[])strides.Clone();
        _padsBegin = (int[])padsBegin.Clone();
        _padsEnd = (int[])padsEnd.Clone();
        _dilations = (int[])dilations.Clone();
        Groups = groups;
    }

    /// <summary>Uniform parameters over <paramref name="spatialRank"/> axes (symmetric pad <paramref name="pad"/>).</summary>
    public static ConvParams Uniform(int spatialRank, int stride = 1, int pad = 0, int dilation = 1, int groups = 1)
    {
        Check.That(spatialRank is >= 1 and <= 3, "ConvParams", "spatialRank", "1 to 3", $"{spatialRank}");
        return new ConvParams(Fill(spatialRank, stride), Fill(spatialRank, pad), Fill(spatialRank, pad), Fill(spatialRank, dilation), groups);
    }

    /// <summary>From ONNX attributes: <paramref name="pads"/> in ONNX order (all begins, then all ends); null arrays mean defaults (stride 1, pad 0, dilation 1).</summary>
    public static ConvParams FromOnnx(int spatialRank, int[]? strides, int[]? pads, int[]? dilations, int groups = 1)
    {
        Check.That(spatialRank is >= 1 and <= 3, "ConvParams", "spatialRank", "1 to 3", $"{spatialRank}");
        pads ??= new int[2 * spatialRank];
        Check.That(pads.Length == 2 * spatialRank, "ConvParams", "pads", $"{2 * spatialRank} entries (begins then ends)", Shapes.Format(pads));
        return new ConvParams(strides ?? Fill(spatialRank, 1), pads[..spatialRank], pads[spatialRank..], dilations ?? Fill(spatialRank, 1), groups);
    }

    /// <summary>
    /// The geometry of an ONNX <c>Conv</c> (or <c>ConvInteger</c>, <c>QLinearConv</c>) node from its attributes (strides,
    /// pads, dilations, group, auto_pad resolved against the input's spatial size <paramref name="inputShape"/>[2..]), for
    /// a weight of shape <paramref name="weightShape"/> [M, C/group, k…]. The one place that reads Conv attributes.
    /// </summary>
    /// <exception cref="ShapeException">The weight has rank below 3 or the attributes do not fit it (names the node's op).</exception>
    public static ConvParams FromNode(Node node, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> weightShape)
    {
        int d = weightShape.Length - 2;
        Check.That(d >= 1, node.OpType, "W", "rank >= 3", Shapes.Format(weightShape));
        int groups = (int)node.GetInt("group", 1);
        var strides = IntsOf(node, "strides") ?? Fill(d, 1);
        var dilations = IntsOf(node, "dilations") ?? Fill(d, 1);
        string autoPad = node.GetString("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER" or "VALID")
        {
            var kernel = IntsOf(node, "kernel_shape") ?? weightShape[2..].ToArray();
            var mode = autoPad switch { "SAME_UPPER" => AutoPadMode.SameUpper, "SAME_LOWER" => AutoPadMode.SameLower, _ => AutoPadMode.Valid };
            return AutoPad(mode, inputShape[2..], kernel, strides, dilations, groups);
        }
        return FromOnnx(d, strides, IntsOf(node, "pads"), dilations, groups);
    }

    private static int[]? IntsOf(Node node, string name) => node.GetInts(name)?.Select(v => checked((int)v)).ToArray();

    /// <summary>
    /// Resolves ONNX <c>auto_pad</c> for a Conv into explicit pads: SAME_* pads so that
    /// <c>out = ceil(in / stride)</c> with total pad <c>max(0, (out − 1)·stride + (k − 1)·dilation + 1 − in)</c>.
    /// </summary>
    public static ConvParams AutoPad(AutoPadMode mode, ReadOnlySpan<int> inputSpatial, ReadOnlySpan<int> kernel, int[] strides, int[] dilations, int groups = 1)
    {
        int d = inputSpatial.Length;
        Check.That(kernel.Length == d, "ConvParams.AutoPad", "kernel", $"{d} entries", $"{kernel.Length}");
        Check.That(strides.Length == d && dilations.Length == d, "ConvParams.AutoPad", "strides/dilations", $"{d} entries", $"{strides.Length}/{dilations.Length}");
        var pb = new int[d];
        var pe = new int[d];
        for (int i = 0; i < d && mode != AutoPadMode.Valid; i++)
        {
            int s = Math.Max(strides[i], 1);
            int outSize = (inputSpatial[i] + s - 1) / s;
            int total = Math.Max(0, (outSize - 1) * s + (kernel[i] - 1) * dilations[i] + 1 - inputSpatial[i]);
            int small = total / 2, big = total - small;
            (pb[i], pe[i]) = mode == AutoPadMode.SameUpper ? (small, big) : (big, small);
        }
        return new ConvParams(strides, pb, pe, dilations, groups);
    }

    /// <summary>
    /// ConvTranspose pads that produce the requested <paramref name="outputSpatial"/> (ONNX <c>output_shape</c>):
    /// total = stride·(in − 1) + outputPadding + (k − 1)·dilation + 1 − output; SAME_UPPER puts the larger half at the
    /// beginning, otherwise at the end (the ONNX rule).
    /// </summary>
    public static ConvParams ForTransposeOutputShape(ReadOnlySpan<int> inputSpatial, ReadOnlySpan<int> kernel, ReadOnlySpan<int> outputSpatial,
        int[] strides, int[] dilations, int[]? outputPadding = null, int groups = 1, bool sameUpper = false)
    {
        const string op = "ConvTranspose";
        int d = inputSpatial.Length;
        Check.That(kernel.Length == d, op, "kernel", $"{d} entries", $"{kernel.Length}");
        Check.That(outputSpatial.Length == d, op, "output_shape", $"{d} entries", Shapes.Format(outputSpatial));
        Check.That(strides.Length == d && dilations.Length == d, op, "strides/dilations", $"{d} entries", $"{strides.Length}/{dilations.Length}");
        Check.That(outputPadding is null || outputPadding.Length == d, op, "outputPadding", $"{d} entries", outputPadding is null ? "" : Shapes.Format(outputPadding));
        var pb = new int[d];
        var pe = new int[d];
        for (int i = 0; i < d; i++)
        {
            int total = strides[i] * (inputSpatial[i] - 1) + (outputPadding?[i] ?? 0) + (kernel[i] - 1) * dilations[i] + 1 - outputSpatial[i];
            Check.That(total >= 0, op, "output_shape", $"at most {outputSpatial[i] + total} on spatial axis {i}", $"{outputSpatial[i]}");
            int small = total / 2, big = total - small;
            (pb[i], pe[i]) = sameUpper ? (big, small) : (small, big);
        }
        return new ConvParams(strides, pb, pe, dilations, groups);
    }

    /// <summary>Number of spatial axes (1, 2 or 3).</summary>
    public int SpatialRank => _strides.Length;

    /// <summary>Stride per spatial axis.</summary>
    public ReadOnlySpan<int> Strides => _strides;

    /// <summary>Padding before each spatial axis.</summary>
    public ReadOnlySpan<int> PadsBegin => _padsBegin;

    /// <summary>Padding after each spatial axis.</summary>
    public ReadOnlySpan<int> PadsEnd => _padsEnd;

    /// <summary>Dilation per spatial axis.</summary>
    public ReadOnlySpan<int> Dilations => _dilations;

    /// <summary>Number of groups: input and output channels are split into this many independent convolutions.</summary>
    public int Groups { get; }

    /// <summary>Conv output shape [N, M, out…] for an input [N, C, in…] and weight [M, C/group, k…]; validates everything.</summary>
    public int[] OutputShape(ReadOnlySpan<int> inputShape, ReadOnlySpan<int> weightShape) =>
        ConvGeometry.ForConv("Conv", inputShape, weightShape, this).OutputShape;

    /// <summary>ConvTranspose output shape [N, M, out…] for an input [N, C, in…] and weight [C, M/group, k…]; validates everything.</summary>
    public int[] TransposeOutputShape(ReadOnlySpan<int> inputShape, ReadOnlySpan<int> weightShape, int[]? outputPadding = null) =>
        ConvGeometry.ForTranspose("ConvTranspose", inputShape, weightShape, this, outputPadding).InputShape;

    /// <inheritdoc />
    public bool Equals(ConvParams? other) => other is not null && Groups == other.Groups &&
        _strides.AsSpan().SequenceEqual(other._strides) && _padsBegin.AsSpan().SequenceEqual(other._padsBegin) &&
        _padsEnd.AsSpan().SequenceEqual(other._padsEnd) && _dilations.AsSpan().SequenceEqual(other._dilations);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ConvParams);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Groups);
        foreach (var a in new[] { _strides, _padsBegin, _padsEnd, _dilations })
            foreach (var v in a) h.Add(v);
        return h.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"ConvParams(strides={Shapes.Format(_strides)}, pads={Shapes.Format(_padsBegin)}+{Shapes.Format(_padsEnd)}, dilations={Shapes.Format(_dilations)}, groups={Groups})";

    private static int[] Fill(int n, int v)
    {
        var a = new int[n];
        Array.Fill(a, v);
        return a;
    }
}
