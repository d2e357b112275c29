namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Window geometry of an ONNX pooling op (MaxPool, AveragePool) over 1, 2 or 3 spatial axes of an NCHW tensor:
/// kernel_shape, strides, pads (all begins, then all ends, as ONNX lists them), dilations and ceil_mode.
/// Immutable and validated on construction; every error names the argument, the expected and the actual value.
/// </summary>
/// <remarks>
/// Per spatial axis with input size <c>in</c>, kernel <c>k</c>, stride <c>s</c>, pads <c>pb</c>/<c>pe</c> and dilation <c>d</c>,
/// the window extent is <c>e = (k−1)·d + 1</c> and the output size is
/// <c>out = floor((in + pb + pe − e) / s) + 1</c>, or with ceil_mode <c>ceil(…) + 1</c>, where under ceil_mode a last
/// window that would start inside the end padding (<c>(out−1)·s ≥ in + pb</c>) is dropped — PyTorch's rule, which
/// ONNX's test data encodes. Output position <c>o</c> reads input positions <c>o·s − pb + j·d</c>, <c>j = 0…k−1</c>.
/// </remarks>
public sealed record PoolParams
{
    private readonly int[] _kernel, _strides, _pads, _dilations;

    /// <summary>Creates validated pooling geometry.</summary>
    /// <param name="kernelShape">Window size per spatial axis (1 to 3 values, each ≥ 1).</param>
    /// <param name="strides">Step per axis (≥ 1); null means 1 on every axis.</param>
    /// <param name="pads">Zero/−∞ padding, all begins then all ends (2·rank values ≥ 0, each smaller than the kernel); null means none.</param>
    /// <param name="dilations">Spacing between window taps (≥ 1); null means 1.</param>
    /// <param name="ceilMode">Round the output size up instead of down.</param>
    public PoolParams(int[] kernelShape, int[]? strides = null, int[]? pads = null, int[]? dilations = null, bool ceilMode = false)
    {
        ArgumentNullException.ThrowIfNull(kernelShape);
        const string op = "PoolParams";
        Check.That(kernelShape.Length is >= 1 and <= 3, op, "kernel_shape", "1 to 3 values (1-D, 2-D or 3-D pooling)", Shapes.Format(kernelShape));
        int r = kernelShape.Length;
        strides ??= Enumerable.Repeat(1, r).ToArray();
        pads ??= new int[2 * r];
        dilations ??= Enumerable.Repeat(1, r).ToArray();
        Check.That(strides.Length == r, op, "strides", $"{r} values (one per axis of kernel_shape {Shapes.Format(kernelShape)})", $"{strides.Length} values {Shapes.Format(strides)}");
        Check.That(pads.Length == 2 * r, op, "pads", $"{2 * r} values (begins then ends for kernel_shape {Shapes.Format(kernelShape)})", $"{pads.Length} values {Shapes.Format(pads)}");
        Check.That(dilations.Length == r, op, "dilations", $"{r} values (one per axis of kernel_shape {Shapes.Format(kernelShape)})", $"{dilations.Length} values {Shapes.Format(dilations)}");
        Check.That(kernelShape.All(k => k >= 1), op, "kernel_shape", "values >= 1", Shapes.Format(kernelShape));
        Check.That(strides.All(s => s >= 1), op, "strides", "values >= 1", Shapes.Format(strides));
        Check.That(dilations.All(d => d >= 1), op, "dilations", "values >= 1", Shapes.Format(dilations));
        Check.That(pads.All(p => p >= 0), op, "pads", "values >= 0", Shapes.Format(pads));
        for (int i = 0; i < r; i++)
        {
            Check.That(pads[i] < kernelShape[i] && pads[i + r] < kernelShape[i], op, "pads",
                $"each pad smaller than the kernel on its axis (kernel_shape {Shapes.Format(kernelShape)})", Shapes.Format(pads));
        }
        _kernel = (int[])kernelShape.Clone();
        _strides = (int[])strides.Clone();
        _pads = (int[])pads.Clone();
        _dilations = (int[])dilations.Clone();
        CeilMode = ceilMode;
    }

    /// <summary>
    /// Explicit pads (begins then ends) for ONNX's deprecated <c>auto_pad</c> attribute: "NOTSET" or "VALID" give zeros;
    /// "SAME_UPPER"/"SAME_LOWER" pad so that <c>out = ceil(in / stride)</c>, with total pad
    /// <c>max(0, (out − 1)·s + (k − 1)·d + 1 − in)</c> split evenly and the odd unit at the end (UPPER) or the beginning (LOWER).
    /// </summary>
    public static int[] AutoPads(string autoPad, int[] kernelShape, int[]? strides, int[]? dilations, ReadOnlySpan<int> inputSpatial)
    {
        ArgumentNullException.ThrowIfNull(autoPad);
        ArgumentNullException.ThrowIfNull(kernelShape);
        const string op = "PoolParams.AutoPads";
        int r = kernelShape.Length;
        Check.That(inputSpatial.Length == r, op, "inputSpatial", $"{r} sizes (one per axis of kernel_shape {Shapes.Format(kernelShape)})", Shapes.Format(inputSpatial));
        var pads = new int[2 * r];
        if (autoPad is "NOTSET" or "VALID" or "") return pads;
        Check.That(autoPad is "SAME_UPPER" or "SAME_LOWER", op, "auto_pad", "NOTSET, VALID, SAME_UPPER or SAME_LOWER", autoPad);
        for (int i = 0; i < r; i++)
        {
            int s = strides?[i] ?? 1, d = dilations?[i] ?? 1;
            Check.That(s >= 1 && d >= 1, op, "strides", "strides and dilations >= 1", $"stride {s}, dilation {d}");
            int o = (inputSpatial[i] + s - 1) / s;
            int total = Math.Max(0, (o - 1) * s + (kernelShape[i] - 1) * d + 1 - inputSpatial[i]);
            int small = total / 2;
            pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
            pads[i + r] = total - pads[i];
        }
        return pads;
    }

    /// <summary>Number of spatial axes (1, 2 or 3).</summary>
    public int SpatialRank => _kernel.Length;

    /// <summary>Window size per spatial axis.</summary>
    public IReadOnlyList<int> KernelShape => _kernel;

    /// <summary>Stride per spatial axis.</summary>
    public IReadOnlyList<int> Strides => _strides;

    /// <summary>Pads, all begins then all ends (ONNX order).</summary>
    public IReadOnlyList<int> Pads => _pads;

    /// <summary>Dilation per spatial axis.</summary>
    public IReadOnlyList<int> Dilations => _dilations;

    /// <summary>True when the output size is rounded up (see the type remarks).</summary>
    public bool CeilMode { get; }

    /// <summary>Output size along spatial axis <paramref name="axis"/> for input size <paramref name="inputSize"/>; throws naming <paramref name="op"/> when the padded input is shorter than the window.</summary>
    public int OutputSize(int axis, int inputSize, string op = "Pool")
    {
        int k = _kernel[axis], s = _strides[axis], d = _dilations[axis], pb = _pads[axis], pe = _pads[axis + SpatialRank];
        int extent = (k - 1) * d + 1;
        long num = (long)inputSize + pb + pe - extent;
        if (num < 0)
            throw new ShapeException($"{op}: argument 'X' expected spatial axis {axis} of size >= {extent - pb - pe} (window extent {extent} minus pads {pb}+{pe}), got {inputSize}");
        long o = CeilMode ? (num + s - 1) / s + 1 : num / s + 1;
        if (CeilMode && (o - 1) * s >= inputSize + pb) o--;
        return (int)o;
    }

    /// <summary>
    /// Output shape [N, C, out…] for input shape <paramref name="inputShape"/> [N, C, in…]; checks the rank matches
    /// kernel_shape and names <paramref name="op"/> in errors.
    /// </summary>
    public int[] OutputShape(ReadOnlySpan<int> inputShape, string op = "Pool")
    {
        Check.Rank(op, "X", inputShape, 2 + SpatialRank);
        var o = new int[inputShape.Length];
        o[0] = inputShape[0];
        o[1] = inputShape[1];
        for (int i = 0; i < SpatialRank; i++) o[2 + i] = OutputSize(i, inputShape[2 + i], op);
        return o;
    }

    /// <inheritdoc />
    public bool Equals(PoolParams? other) =>
        other is not null && CeilMode == other.CeilMode && _kernel.AsSpan().SequenceEqual(other._kernel) &&
        _strides.AsSpan().SequenceEqual(other._strides) && _pads.AsSpan().SequenceEqual(other._pads) &&
        _dilations.AsSpan().SequenceEqual(other._dilations);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int v in _kernel) h.Add(v);
        foreach (int v in _strides) h.Add(v);
        foreach (int v in _pads) h.Add(v);
        foreach (int v in _dilations) h.Add(v);
        h.Add(CeilMode);
        return h.ToHashCode();
    }

    /// <summary>Formats the geometry as ONNX attribute values.</summary>
    public override string ToString() =>
        $"PoolParams(kernel_shape={Shapes.Format(_kernel)}, strides={Shapes.Format(_strides)}, pads={Shapes.Format(_pads)}, dilations={Shapes.Format(_dilations)}, ceil_mode={(CeilMode ? 1 : 0)})";

    /// <summary>The geometry for input shape <paramref name="inputShape"/>, lifted to three spatial axes (leading axes of size 1).</summary>
    internal PoolGeometry Geometry(ReadOnlySpan<int> inputShape, string op)
    {
        var outShape = OutputShape(inputShape, op);
        int r = SpatialRank, lift = 3 - r;
        var g = new PoolGeometry { N = inputShape[0], C = inputShape[1] };
        Span<int> inS = stackalloc int[3], outS = stackalloc int[3], k = stackalloc int[3], s = stackalloc int[3],
            pb = stackalloc int[3], pe = stackalloc int[3], d = stackalloc int[3];
        for (int a = 0; a < 3; a++)
        {
            int i = a - lift;
            bool real = i >= 0;
            inS[a] = real ? inputShape[2 + i] : 1;
            outS[a] = real ? outShape[2 + i] : 1;
            k[a] = real ? _kernel[i] : 1;
            s[a] = real ? _strides[i] : 1;
            pb[a] = real ? _pads[i] : 0;
            pe[a] = real ? _pads[i + r] : 0;
            d[a] = real ? _dilations[i] : 1;
        }
        g.D = inS[0]; g.H = inS[1]; g.W = inS[2];
        g.OD = outS[0]; g.OH = outS[1]; g.OW = outS[2];
        g.KD = k[0]; g.KH = k[1]; g.KW = k[2];
        g.SD = s[0]; g.SH = s[1]; g.SW = s[2];
        g.PD = pb[0]; g.PH = pb[1]; g.PW = pb[2];
        g.PDe = pe[0]; g.PHe = pe[1]; g.PWe = pe[2];
        g.DD = d[0]; g.DH = d[1]; g.DW = d[2];
        g.OutputShape = outShape;
        return g;
    }
}

/// <summary>Pooling geometry lifted to three spatial axes (D, H, W); unused leading axes have size 1, kernel 1, stride 1, no pad.</summary>
internal struct PoolGeometry
{
    public int N, C, D, H, W, OD, OH, OW, KD, KH, KW, SD, SH, SW, PD, PH, PW, PDe, PHe, PWe, DD, DH, DW;
    public int[] OutputShape;

    public readonly int Planes => N * C;
    public readonly int InPlane => D * H * W;
    public readonly int OutPlane => OD * OH * OW;

    /// <summary>Number of taps of a window starting at <paramref name="start"/> (pad-relative already subtracted) that fall in [lo, hi).</summary>
    public static int Count(int start, int k, int dil, int lo, int hi)
    {
        int c = 0;
        for (int j = 0; j < k; j++)
        {
            int p = start + j * dil;
            if (p >= lo && p < hi) c++;
        }
        return c;
    }

    /// <summary>
    /// AveragePool divisor factor along one axis for output <paramref name="o"/>: taps inside the input, or with
    /// count_include_pad taps inside the padded input [−pb, in+pe) (taps beyond it under ceil_mode never count).
    /// </summary>
    public static int Divisor(int o, int s, int pb, int pe, int k, int dil, int size, bool includePad) =>
        includePad ? Count(o * s - pb, k, dil, -pb, size + pe) : Count(o * s - pb, k, dil, 0, size);
}
