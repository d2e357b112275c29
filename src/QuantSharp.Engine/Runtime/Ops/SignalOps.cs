using static QuantSharp.Engine.Runtime.InputRole;
using static QuantSharp.Engine.Runtime.Ops.Table;

namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>
/// Signal-processing ops (opset 17+): HannWindow, HammingWindow, BlackmanWindow, DFT, STFT and MelWeightMatrix.
/// Complex tensors follow ONNX: a trailing dimension of 2 holds (real, imaginary); a trailing 1 is a real signal.
/// Transforms are computed in double with a plain O(n²) sum over a twiddle table (exact for any length) and returned
/// in the input's element type (float or double). Forward only.
/// </summary>
internal static class SignalOps
{
    public static void Register(OpRegistry r)
    {
        // periodic = 1 spreads N points over a period of N (for spectral analysis); 0 gives the symmetric N − 1 window.
        Add(r, "HannWindow", 17, n => Window(n, (k, d) => 0.5 - 0.5 * Math.Cos(2 * Math.PI * k / d)));
        Add(r, "HammingWindow", 17, n => Window(n, (k, d) => 25.0 / 46 - 21.0 / 46 * Math.Cos(2 * Math.PI * k / d)));
        Add(r, "BlackmanWindow", 17, n => Window(n, (k, d) => 0.42 - 0.5 * Math.Cos(2 * Math.PI * k / d) + 0.08 * Math.Cos(4 * Math.PI * k / d)));
        // DFT-17 takes the axis as an attribute (default 1); DFT-20 as input 2 (default −2), counted on the input's rank.
        Add(r, "DFT", 17, n =>
        {
            long axis = n.GetInt("axis", 1);
            return ((a, _) => [Dft(a, n, a.OptionalLongs(1)?[0], axis)], null);
        });
        Add(r, "DFT", 20, n => ((a, _) => [Dft(a, n, a.Has(1) ? a.Longs(1)[0] : null, a.Has(2) ? a.Longs(2)[0] : -2)], null));
        Add(r, "STFT", 17, n => ((a, _) => [Stft(a, n)], null));
        Add(r, "MelWeightMatrix", 17, n => ((a, _) => [MelWeightMatrix(a, n)], null));
        Describe(r);
    }

    /// <summary>Schema facts: sizes, lengths and frame steps are settings; windows and the mel matrix take their output_datatype.</summary>
    private static void Describe(OpRegistry r)
    {
        foreach (var op in new[] { "HannWindow", "HammingWindow", "BlackmanWindow" })
            r.Describe(op).WithInputs(Setting).WithOutputType(TypeRules.FromAttribute("output_datatype"));
        r.Describe("MelWeightMatrix").WithInputs(Setting, Setting, Setting, Setting, Setting).WithOutputType(TypeRules.FromAttribute("output_datatype"));
        r.Describe("DFT").WithInputs(Data, Setting, Setting);
        r.Describe("STFT").WithInputs(Data, Setting, Data, Setting);
    }

    private static (ForwardRule, GradientRule?) Window(Node n, Func<int, double, double> w)
    {
        bool periodic = n.GetInt("periodic", 1) != 0;
        var to = LayoutOps.OnnxElementType((int)n.GetInt("output_datatype", 1), n);
        return ((a, _) =>
        {
            long size = a.Longs(0) is { Length: 1 } s ? s[0] : throw new GraphException($"node {n.Label}: input 0 ('size') expected a scalar");
            if (size < 0) throw new GraphException($"node {n.Label}: input 0 ('size') expected a non-negative length, got {size}");
            var y = new Tensor<double>((int)size);
            double d = periodic ? size : size - 1;
            for (int k = 0; k < size; k++) y.Data[k] = d == 0 ? 1 : w(k, d); // a symmetric one-point window is [1] (as numpy's)
            return [TensorOps.Cast(y, to)];
        }, null);
    }

    /// <summary>
    /// Forward: X[k] = Σₜ x[t]·e^(−2πi·kt/L); inverse: x[t] = (1/L)·Σₖ X[k]·e^(+2πi·kt/L). L is dft_length (the signal is
    /// zero-padded or truncated to it) or the signal's length; onesided keeps the ⌊L/2⌋ + 1 non-redundant bins of a
    /// forward transform. onesided with inverse is the real inverse: the input holds bins 0 … K − 1 of a Hermitian
    /// spectrum; bins k ≥ K are conj(X[L − k]) (0 when that is missing too) and the output is the real part, a signal
    /// [..., L, 1] with L = dft_length or 2·(K − 1). Given bins are used as given even above L/2 (ONNX Runtime's rule;
    /// numpy's irfft would drop them: the two differ only when dft_length &lt; 2·(K − 1)).
    /// </summary>
    private static Tensor Dft(OpArgs a, Node n, long? dftLength, long axisArg)
    {
        var input = a.Any(0);
        var x = ToDouble(input, n);
        bool inverse = n.GetInt("inverse", 0) != 0, onesided = n.GetInt("onesided", 0) != 0;
        if (x.Rank < 2 || x.Dims[^1] is not (1 or 2))
            throw new GraphException($"node {n.Label}: input 0 ('input') expected shape [..., signal, 1 or 2], got {Shapes.Format(x.Dims)}");
        int axis = (int)(axisArg < 0 ? axisArg + x.Rank : axisArg);
        if (axis < 0 || axis >= x.Rank - 1)
            throw new GraphException($"node {n.Label}: axis expected a signal axis in [{-x.Rank}, {x.Rank - 2}] excluding the last (complex) axis, got {axisArg}");
        bool complex = x.Dims[^1] == 2;
        // onesided + inverse is the real inverse (IRFFT): a one-sided spectrum in, a real signal of dft_length points out.
        bool realInverse = onesided && inverse;
        if (realInverse && !complex) throw new GraphException($"node {n.Label}: onesided = 1 with inverse = 1 needs a complex one-sided spectrum (trailing dimension 2), got {Shapes.Format(x.Dims)}");
        if (onesided && !inverse && complex) throw new GraphException($"node {n.Label}: onesided = 1 needs a real input (trailing dimension 1), got complex input {Shapes.Format(x.Dims)}");
        int length = x.Dims[axis], size = (int)(dftLength ?? (realInverse ? 2 * (length - 1) : length));
        if (size <= 0) throw new GraphException($"node {n.Label}: input 1 ('dft_length') expected a positive length, got {size}");
        int bins = realInverse ? size : onesided ? size / 2 + 1 : size;
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= x.Dims[d];
        for (int d = axis + 1; d < x.Rank - 1; d++) inner *= x.Dims[d];
        var shape = x.Shape;
        shape[axis] = bins;
        shape[^1] = realInverse ? 1 : 2;
        var y = new Tensor<double>(shape);
        var plan = new Transform(size, inverse);
        var re = new double[size];
        var im = new double[size];
        int channels = complex ? 2 : 1;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                Array.Clear(re);
                Array.Clear(im);
                if (realInverse)
                {
                    // Bins past the given ones come from conjugate symmetry: X[k] = conj(X[size − k]).
                    for (int k = 0; k < size; k++)
                    {
                        bool mirrored = k >= length;
                        int source = mirrored ? size - k : k;
                        if (source >= length) continue;
                        int src = ((o * length + source) * inner + i) * 2;
                        re[k] = x.Data[src];
                        im[k] = mirrored ? -x.Data[src + 1] : x.Data[src + 1];
                    }
                    for (int t = 0; t < size; t++) y.Data[(o * size + t) * inner + i] = plan.Bin(re, im, t).Re;
                    continue;
                }
                for (int t = 0; t < Math.Min(length, size); t++)
                {
                    int src = ((o * length + t) * inner + i) * channels;
                    re[t] = x.Data[src];
                    if (complex) im[t] = x.Data[src + 1];
                }
                plan.WriteBins(re, im, bins, y.Data, (o * bins * inner + i) * 2, inner * 2);
            }
        return input is Tensor<double> ? y : TensorOps.Cast(y, DataType.Float32);
    }

    /// <summary>
    /// Frames f = 0 … ⌊(len − L)/step⌋ of the signal, each x[f·step + t]·w[t] for t &lt; L, transformed as by DFT (onesided by
    /// default). L is the window's length or the frame_length input; without a window the frame is not weighted.
    /// Output [batch, frames, bins, 2].
    /// </summary>
    private static Tensor Stft(OpArgs a, Node n)
    {
        var input = a.Any(0);
        var x = ToDouble(input, n);
        bool onesided = n.GetInt("onesided", 1) != 0;
        if (x.Rank != 3 || x.Dims[2] is not (1 or 2))
            throw new GraphException($"node {n.Label}: input 0 ('signal') expected shape [batch, length, 1 or 2], got {Shapes.Format(x.Dims)}");
        bool complex = x.Dims[2] == 2;
        if (onesided && complex) throw new GraphException($"node {n.Label}: onesided = 1 needs a real signal (trailing dimension 1), got {Shapes.Format(x.Dims)}");
        long step = a.Longs(1)[0];
        var window = a.Has(2) ? ToDouble(a.Any(2), n) : null;
        long? frameLengthInput = a.Has(3) ? a.Longs(3)[0] : null;
        if (window is not null && window.Rank != 1) throw new GraphException($"node {n.Label}: input 2 ('window') expected rank 1, got {Shapes.Format(window.Dims)}");
        if (window is not null && frameLengthInput is long fl && fl != window.Length)
            throw new GraphException($"node {n.Label}: input 3 ('frame_length') is {fl} but the window has {window.Length} points");
        int frame = window?.Length ?? (int)(frameLengthInput ?? throw new GraphException($"node {n.Label}: expected a window (input 2) or a frame_length (input 3)"));
        int batches = x.Dims[0], length = x.Dims[1], channels = complex ? 2 : 1;
        if (step <= 0) throw new GraphException($"node {n.Label}: input 1 ('frame_step') expected a positive step, got {step}");
        if (frame <= 0 || frame > length) throw new GraphException($"node {n.Label}: frame length expected in [1, {length}], got {frame}");
        int frames = (int)((length - frame) / step) + 1, bins = onesided ? frame / 2 + 1 : frame;
        var y = new Tensor<double>(batches, frames, bins, 2);
        var plan = new Transform(frame, inverse: false);
        var re = new double[frame];
        var im = new double[frame];
        for (int b = 0; b < batches; b++)
            for (int f = 0; f < frames; f++)
            {
                for (int t = 0; t < frame; t++)
                {
                    double w = window?.Data[t] ?? 1;
                    int src = (int)((b * length + f * step + t) * channels);
                    re[t] = x.Data[src] * w;
                    im[t] = complex ? x.Data[src + 1] * w : 0;
                }
                plan.WriteBins(re, im, bins, y.Data, (b * frames + f) * bins * 2, 2);
            }
        return input is Tensor<double> ? y : TensorOps.Cast(y, DataType.Float32);
    }

    /// <summary>
    /// Triangular mel filters: num_mel_bins + 2 points on the mel scale (mel = 2595·log10(1 + hz/700)) starting at the lower
    /// edge, mapped to FFT bin indices ⌊(dft_length + 1)·hz / sample_rate⌋; filter i rises linearly from point i to point
    /// i + 1 and falls to point i + 2. Output [⌊dft_length/2⌋ + 1, num_mel_bins].
    /// The points are spaced (high − low)/(num_mel_bins + 2) apart, so the last one stops one step short of the upper
    /// edge: that is how ONNX's reference implementation (and its test data, and ONNX Runtime) defines the op.
    /// </summary>
    private static Tensor MelWeightMatrix(OpArgs a, Node n)
    {
        int mels = (int)a.Longs(0)[0], dftLength = (int)a.Longs(1)[0], sampleRate = (int)a.Longs(2)[0];
        double lowHz = a.ScalarOr(3, 0f), highHz = a.ScalarOr(4, 0f);
        var to = LayoutOps.OnnxElementType((int)n.GetInt("output_datatype", 1), n);
        if (mels <= 0 || dftLength <= 0 || sampleRate <= 0)
            throw new GraphException($"node {n.Label}: num_mel_bins, dft_length and sample_rate expected positive, got {mels}, {dftLength}, {sampleRate}");
        if (!(lowHz >= 0 && highHz > lowHz))
            throw new GraphException($"node {n.Label}: expected 0 ≤ lower_edge_hertz < upper_edge_hertz, got {lowHz} and {highHz}");
        int spectrumBins = dftLength / 2 + 1;
        double lowMel = 2595 * Math.Log10(1 + lowHz / 700), highMel = 2595 * Math.Log10(1 + highHz / 700);
        double melStep = (highMel - lowMel) / (mels + 2);
        var points = new int[mels + 2];
        for (int i = 0; i < points.Length; i++)
        {
            double hz = 700 * (Math.Pow(10, (lowMel + i * melStep) / 2595) - 1);
            points[i] = (int)Math.Floor((dftLength + 1) * hz / sampleRate);
        }
        var y = new Tensor<double>(spectrumBins, mels);
        void Set(int bin, int mel, double v)
        {
            if (bin < 0 || bin >= spectrumBins)
                throw new GraphException($"node {n.Label}: mel point maps to FFT bin {bin}, outside [0, {spectrumBins - 1}] (upper_edge_hertz above the Nyquist frequency?)");
            y.Data[bin * mels + mel] = v;
        }
        for (int m = 0; m < mels; m++)
        {
            int lo = points[m], center = points[m + 1], hi = points[m + 2];
            if (center == lo) Set(center, m, 1);
            else for (int j = lo; j <= center; j++) Set(j, m, (double)(j - lo) / (center - lo));
            if (hi > center) for (int j = center; j < hi; j++) Set(j, m, (double)(hi - j) / (hi - center));
        }
        return TensorOps.Cast(y, to);
    }

    /// <summary>One DFT length: the twiddle table cos/sin(2π·m/L) and the bin sum.</summary>
    private sealed class Transform
    {
        private readonly double[] _cos, _sin;
        private readonly bool _inverse;

        public Transform(int size, bool inverse)
        {
            _inverse = inverse;
            _cos = new double[size];
            _sin = new double[size];
            for (int m = 0; m < size; m++)
            {
                double angle = 2 * Math.PI * m / size;
                _cos[m] = Math.Cos(angle);
                _sin[m] = Math.Sin(angle);
            }
        }

        /// <summary>Bins 0 … <paramref name="bins"/>−1 as (re, im) pairs into <paramref name="y"/> from <paramref name="start"/>, bin k at start + k·stride.</summary>
        public void WriteBins(double[] re, double[] im, int bins, double[] y, int start, int stride)
        {
            for (int k = 0; k < bins; k++)
            {
                var (vr, vi) = Bin(re, im, k);
                y[start + k * stride] = vr;
                y[start + k * stride + 1] = vi;
            }
        }

        public (double Re, double Im) Bin(double[] re, double[] im, int k)
        {
            int size = _cos.Length;
            double sr = 0, si = 0, sign = _inverse ? 1 : -1;
            for (int t = 0, m = 0; t < size; t++, m = (m + k) % size)
            {
                double c = _cos[m], s = sign * _sin[m];
                sr += re[t] * c - im[t] * s;
                si += re[t] * s + im[t] * c;
            }
            return _inverse ? (sr / size, si / size) : (sr, si);
        }
    }

    private static Tensor<double> ToDouble(Tensor t, Node n) => t switch
    {
        Tensor<double> d => d,
        Tensor<float> f => (Tensor<double>)TensorOps.Cast(f, DataType.Float64),
        _ => throw new GraphException($"node {n.Label}: expected a float or double signal, got {t.DataType}"),
    };
}
