namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The arithmetic of ONNX Runtime's CPU integer operators (MLAS, x86-64 with AVX2/FMA — every CPU ONNX Runtime's
/// official x64 build picks those kernels on), reproduced operation by operation so that a result equals ONNX Runtime's
/// bit for bit: which products are rounded to float32, where a fused multiply-add keeps the exact product, the order of
/// additions, round half to even (<c>cvtps2dq</c>) and saturation. Every function works on integer levels held in
/// <see cref="int"/>; the ops (<c>QLinearAdd</c>, <c>QLinearMul</c>, <c>QLinearGlobalAveragePool</c>, the lookup-table
/// ops) convert from and to the 8-bit element types. DESIGN.md ("The integer contract") lists the formulas.
/// </summary>
/// <remarks>
/// The requantization of <c>QLinearConv</c>/<c>QLinearMatMul</c> (int32 accumulator × float multiplier
/// <c>(x_scale·w_scale)/y_scale</c>) is <see cref="QuantizeInteger.Requantize{T}(Tensor{int}, float[], int, int, int, int)"/>.
/// </remarks>
public static class QLinearArithmetic
{
    /// <summary>Rounds half to even and converts as <c>cvtps2dq</c> does (NaN and out-of-range give int.MinValue).</summary>
    public static int RoundToInt(float v)
    {
        float r = MathF.Round(v, MidpointRounding.ToEven);
        return r >= -2147483648f && r < 2147483648f ? (int)r : int.MinValue;
    }

    /// <summary>
    /// The parameters of <c>QLinearAdd</c>: the float ratios <c>a_scale/c_scale</c>, <c>b_scale/c_scale</c> and the fixed
    /// part <c>c_zp − fma(ratio_a, a_zp, ratio_b·b_zp)</c> — ONNX Runtime's compiler contracts <c>ratio_a·a_zp + ratio_b·b_zp</c>
    /// into one fused multiply-add (found against ONNX Runtime 1.32: the separately rounded form differs on a few elements of
    /// an EfficientNet-style residual add whose inputs both have non-zero zero points).
    /// </summary>
    public static (float RatioA, float RatioB, float Fixed) AddParameters(float scaleA, int zeroA, float scaleB, int zeroB, float scaleC, int zeroC)
    {
        float ra = scaleA / scaleC, rb = scaleB / scaleC;
        float products = MathF.FusedMultiplyAdd(ra, zeroA, rb * zeroB);
        return (ra, rb, zeroC - products);
    }

    /// <summary>
    /// One element of <c>QLinearAdd</c> on raw levels <paramref name="a"/>, <paramref name="b"/> (zero points are in the fixed
    /// part): <c>round(fma(a, ratio_a, fma(b, ratio_b, fixed)))</c>, saturated to [qmin, qmax] by the caller.
    /// </summary>
    public static int AddElement(int a, int b, float ratioA, float ratioB, float fixedPart) =>
        RoundToInt(MathF.FusedMultiplyAdd(a, ratioA, MathF.FusedMultiplyAdd(b, ratioB, fixedPart)));

    /// <summary>
    /// <c>QLinearAdd</c> with one operand a single element (ONNX Runtime folds it into the fixed part first, with a rounded
    /// product and sum, then one fused multiply-add per element of the other operand).
    /// </summary>
    public static int AddScalarElement(int other, float ratioOther, float fixedWithScalar) =>
        RoundToInt(MathF.FusedMultiplyAdd(other, ratioOther, fixedWithScalar));

    /// <summary>The fixed part of <see cref="AddScalarElement"/>: <c>fixed + scalar·ratio</c>, product and sum rounded.</summary>
    public static float FoldScalar(float fixedPart, int scalar, float ratio) => fixedPart + scalar * ratio;

    /// <summary>The float ratio of <c>QLinearMul</c>: <c>(a_scale·b_scale)/c_scale</c>.</summary>
    public static float MulRatio(float scaleA, float scaleB, float scaleC) => scaleA * scaleB / scaleC;

    /// <summary>
    /// One element of <c>QLinearMul</c>: the exact product <c>(a − a_zp)(b − b_zp)</c> converted to float, times the ratio,
    /// plus the output zero point (each step rounded to float32), rounded half to even.
    /// </summary>
    public static int MulElement(int a, int zeroA, int b, int zeroB, float ratio, int zeroC)
    {
        float product = (a - zeroA) * (b - zeroB);
        float scaled = product * ratio;
        return RoundToInt(scaled + zeroC);
    }

    /// <summary>The float scale of <c>QLinearGlobalAveragePool</c>: <c>x_scale / (y_scale·(float)imageSize)</c>.</summary>
    public static float AveragePoolScale(float scaleX, float scaleY, int imageSize) => scaleX / (scaleY * imageSize);

    /// <summary>
    /// Requantizes an exact int32 sum: <c>round((float)acc·scale) + zp</c> (the product rounded to float32), saturated by the caller.
    /// </summary>
    public static int Requantize(int acc, float scale, int zeroPoint) => RoundToInt((float)acc * scale) + zeroPoint;

    /// <summary>
    /// ONNX Runtime's logistic function (MLAS, the rational approximation Eigen uses, evaluated with fused multiply-adds
    /// as its FMA3 kernel does): x clamped to [−18, 18], p = x·(((α9·x² + α7)·x² + α5)·x² + α3)·x² + α1),
    /// q = ((((β10·x² + β8)·x² + β6)·x² + β4)·x² + β2)·x² + β0, result p/q + 0.5 clamped to [0, 1].
    /// </summary>
    public static float Logistic(float x)
    {
        if (float.IsNaN(x)) return x;
        float v = Math.Clamp(x, -18f, 18f);
        float v2 = v * v;
        float p = MathF.FusedMultiplyAdd(v2, 4.37031012579801e-11f, 1.15627324459942e-07f);
        p = MathF.FusedMultiplyAdd(p, v2, 6.08574864600143e-05f);
        p = MathF.FusedMultiplyAdd(p, v2, 8.51377133304701e-03f);
        p = MathF.FusedMultiplyAdd(p, v2, 2.48287947061529e-01f);
        p *= v;
        float q = MathF.FusedMultiplyAdd(v2, 6.10247389755681e-13f, 5.76102136993427e-09f);
        q = MathF.FusedMultiplyAdd(q, v2, 6.29106785017040e-06f);
        q = MathF.FusedMultiplyAdd(q, v2, 1.70198817374094e-03f);
        q = MathF.FusedMultiplyAdd(q, v2, 1.16817656904453e-01f);
        q = MathF.FusedMultiplyAdd(q, v2, 9.93151921023180e-01f);
        return Math.Clamp(p / q + 0.5f, 0f, 1f);
    }

    /// <summary>
    /// The exponent table of <c>QLinearSoftmax</c> (float): <c>table[i] = (float)exp((i − 255 + shift)·x_scale)</c> in double,
    /// with <c>shift = max(0, ln(float.MaxValue / reduceLength) − 5) / x_scale</c> so that a sum of <paramref name="reduceLength"/>
    /// entries cannot overflow; for int8 input entry <c>i</c> is stored at index <c>(byte)(i − 128)</c>.
    /// </summary>
    public static float[] SoftmaxTable(float scaleX, int reduceLength, bool signed)
    {
        double shift = Math.Log(float.MaxValue / (double)reduceLength);
        shift = Math.Max(0.0, shift - 5) / scaleX;
        var table = new float[256];
        for (int i = 0; i < 256; i++)
            table[signed ? (byte)(i - 128) : i] = (float)Math.Exp((i - 255 + shift) * (double)scaleX);
        return table;
    }

    /// <summary>
    /// One row of <c>QLinearSoftmax</c> on levels <paramref name="x"/>, as ONNX Runtime's AVX-512 kernel computes it: the table
    /// shifted so the row's largest level meets its top entry; the entries summed in float — 32 at a time into 16 lanes, the
    /// lanes reduced pairwise (<see cref="SixteenLaneSum"/>), the rest added in order; then
    /// <c>y = round(fma(e, (1/sum)·floor(1/y_scale), y_zp))</c> saturated to the output type.
    /// A zero sum leaves the row unwritten in ONNX Runtime; here it is zero.
    /// </summary>
    public static void SoftmaxRow(ReadOnlySpan<int> x, Span<int> y, float[] table, float scaleY, int zeroY, bool signed)
    {
        float yScale = MathF.Floor(1.0f / scaleY);
        int max = int.MinValue;
        foreach (int v in x) max = Math.Max(max, v);
        int Index(int v) => signed ? (byte)(127 - max + v) : 255 - max + v;
        Span<float> lanes = stackalloc float[16];
        lanes.Clear();
        int i = 0;
        for (; i + 32 <= x.Length; i += 32)
        {
            for (int l = 0; l < 16; l++) lanes[l] += table[Index(x[i + l])];
            for (int l = 0; l < 16; l++) lanes[l] += table[Index(x[i + 16 + l])];
        }
        float sum = SixteenLaneSum(lanes);
        for (; i < x.Length; i++) sum += table[Index(x[i])];
        if (sum == 0) { y.Clear(); return; }
        float scale = 1.0f / sum * yScale;
        int lo = signed ? -128 : 0, hi = signed ? 127 : 255;
        for (int k = 0; k < x.Length; k++)
            y[k] = Math.Clamp(RoundToInt(MathF.FusedMultiplyAdd(table[Index(x[k])], scale, zeroY)), lo, hi);
    }

    /// <summary>
    /// The horizontal sum of a 512-bit float register as ONNX Runtime's softmax kernel reduces it: 128-bit blocks 0+1 and 2+3,
    /// then those two, then lanes 0+1 and 2+3 of the result, then those two.
    /// </summary>
    public static float SixteenLaneSum(ReadOnlySpan<float> s)
    {
        Span<float> u = stackalloc float[4];
        for (int j = 0; j < 4; j++) u[j] = (s[j] + s[4 + j]) + (s[8 + j] + s[12 + j]);
        return (u[0] + u[1]) + (u[2] + u[3]);
    }

    /// <summary>
    /// The 256-entry table of a lookup-table op (<c>QLinearSigmoid</c>, <c>QLinearLeakyRelu</c>): every level
    /// <c>i</c> of the input type dequantized as <c>x_scale·(i − x_zp)</c> (one float product), mapped by
    /// <paramref name="f"/>, and quantized as <c>QuantizeLinear</c> does (<c>round(y / y_scale) + y_zp</c>, saturated).
    /// </summary>
    public static int[] LookupTable(bool signed, float scaleX, int zeroX, float scaleY, int zeroY, Func<float, float> f)
    {
        int lo = signed ? -128 : 0, hi = signed ? 127 : 255;
        var table = new int[256];
        for (int i = 0; i < 256; i++)
        {
            int level = signed ? (sbyte)(byte)i : i;
            float x = scaleX * (level - zeroX);
            float y = f(x);
            table[i] = Math.Clamp(RoundToInt(y / scaleY) + zeroY, lo, hi);
        }
        return table;
    }
}
