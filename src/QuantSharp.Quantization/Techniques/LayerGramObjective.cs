using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Quantization.Techniques;

/// <summary>
/// A layer's reconstruction loss over all data in closed form, from statistics streamed once (AdaRound, AdaQuant): for a
/// candidate weight <c>W̃ = W + Δ</c> and bias <c>b̃ = b + δ</c> of a layer with inputs x and FP32 targets y,
/// <c>L = (1/S)·Σ‖W̃ ⊛ x + b̃ − y‖² = (1/S)·(E₀ + 2⟨Δ, R⟩ + Σ_g tr(Δ_g G_g Δ_gᵀ) + 2⟨δ, r̄⟩ + 2Σ_m δ_m⟨Δ_m, μ_m⟩ + S‖δ‖²)</c>,
/// with S the output rows (samples × positions), r = W ⊛ x + b − y the residual of the FP32 weight on the (quantized-model)
/// inputs, <c>E₀ = Σ‖r‖²</c>, <c>R = Σ r ⊗ patch</c> (the weight gradient of the conv/matmul at r), <c>r̄</c> the residual
/// summed per output channel, <c>μ_m</c> the sum of the patches output channel m reads, and <c>G_g</c> the Gram matrix of
/// group g's input patches (<see cref="ConvGram"/>). Gradients: <c>∂L/∂W̃ = (2/S)·(R + Δ·G + δ⊗μ)</c>,
/// <c>∂L/∂b̃_m = (2/S)·(r̄_m + ⟨Δ_m, μ_m⟩ + S·δ_m)</c>.
/// </summary>
/// <remarks>
/// <para>Why: the sampled objective costs a forward and a weight-gradient pass over a batch of images every iteration
/// (2·rows·M·K multiply-adds) and needs every sample's inputs and outputs in memory; the closed form costs <c>M·K²</c> per
/// iteration, is exact over all samples rather than a 32-image estimate, and its statistics take <c>G·K² + 2·M·K</c> floats
/// however many samples there are. The techniques pick it when <c>K ≤ 2·rows per iteration</c> (every layer of a
/// MobileNetV2 but its classifier). The expansion is around the FP32 weight, so nothing cancels: Δ is the small rounding
/// change and r the small residual, each computed directly.</para>
/// <para>Weight layouts: rows are output channels ([M, K…], Conv and Gemm with transB) or columns are ([K, M], MatMul and
/// Gemm), which <see cref="AdaRoundLayer.BackwardWeight"/> already follows for R and μ (μ is the weight gradient at an
/// all-ones output gradient, so it is laid out like the weight, each output channel holding its own copy).</para>
/// </remarks>
public sealed class LayerGramObjective
{
    private readonly AdaRoundLayer _layer;
    private readonly Tensor<float> _weight;
    private readonly double[] _gramSum, _residualSum, _patchSum, _residualByOutput, _energyByOutput, _signalByOutput;
    private readonly int _groups, _k, _outputs;
    private readonly bool _rowsAreOutputs;
    private readonly float[] _delta, _product;
    private float[]? _gram, _residual, _patch;
    private double _e0, _targetSquares;
    private long _rows;

    /// <summary>
    /// An empty objective for <paramref name="layer"/> around the FP32 weight <paramref name="weight"/> and the layer's bias;
    /// feed it with <see cref="Add"/>. With <paramref name="biasTerms"/> it also keeps what a bias change needs (r̄ and μ,
    /// one more weight-gradient pass per chunk).
    /// </summary>
    public LayerGramObjective(AdaRoundLayer layer, Tensor<float> weight, bool biasTerms = false)
    {
        Check.SameShape("LayerGramObjective", "weight", layer.WeightShape, weight.Dims);
        _layer = layer;
        _weight = weight;
        _groups = layer.ConvParams?.Groups ?? 1;
        _outputs = layer.OutputChannels;
        _rowsAreOutputs = layer.ConvParams is not null || layer.TransB;
        _k = weight.Length / _outputs; // weight elements per output channel: C/group·k… for a conv, K for a matmul
        _delta = new float[weight.Length];
        _product = new float[weight.Length];
        _gramSum = new double[checked((long)_groups * _k * _k)];
        _residualSum = new double[weight.Length];
        _patchSum = biasTerms ? new double[weight.Length] : [];
        _residualByOutput = new double[_outputs];
        _energyByOutput = new double[_outputs];
        _signalByOutput = new double[_outputs];
        BiasTerms = biasTerms;
    }

    /// <summary>Whether a bias change can be evaluated (see the constructor).</summary>
    public bool BiasTerms { get; }

    /// <summary>Patch length K of one group (the Gram matrices are K×K).</summary>
    public int K => _k;

    /// <summary>Output channels M.</summary>
    public int Outputs => _outputs;

    /// <summary>Output rows S added so far (samples × output positions; tokens for a MatMul).</summary>
    public long Rows => _rows;

    /// <summary>Root mean square of the targets added so far.</summary>
    public double TargetRms => _rows == 0 ? 0 : Math.Sqrt(_targetSquares / ((double)_rows * _outputs));

    /// <summary>
    /// Adds a chunk of layer inputs <paramref name="x"/> and FP32 targets <paramref name="y"/> (the layer's input and output
    /// shapes, as <see cref="Layerwise"/> captures them).
    /// </summary>
    /// <exception cref="ShapeException">Inputs and targets that do not fit the layer.</exception>
    public void Add(Tensor<float> x, Tensor<float> y)
    {
        Check.SameShape("LayerGramObjective.Add", "targets", _layer.OutputShape(x.Dims), y.Dims);
        _gram = _residual = _patch = null;
        var r = new Tensor<float>(y.Dims);
        _layer.Forward(x, _weight, r);
        var rs = r.Data;
        var ys = y.Data;
        int batch = y.Dims[0], plane = (int)(rs.LongLength / ((long)batch * _outputs));
        for (int n = 0; n < batch; n++)
            for (int m = 0; m < _outputs; m++)
            {
                double e = 0, t2 = 0;
                long at = ((long)n * _outputs + m) * plane;
                for (long i = at; i < at + plane; i++)
                {
                    float d = rs[i] - ys[i];
                    rs[i] = d;
                    e += (double)d * d;
                    t2 += (double)ys[i] * ys[i];
                }
                _energyByOutput[m] += e;
                _signalByOutput[m] += t2;
                _e0 += e;
                _targetSquares += t2;
            }
        _rows += y.Length / _outputs;
        var gradient = new Tensor<float>(_weight.Dims);
        _layer.BackwardWeight(x, r, gradient); // Σ r ⊗ patch: ∂(½Σ‖r‖²)/∂W in the weight's layout
        for (int i = 0; i < gradient.Length; i++) _residualSum[i] += gradient.Data[i];
        if (BiasTerms)
        {
            AddPerOutput(rs, y.Dims[0]);
            r.AsSpan().Fill(1f);
            _layer.BackwardWeight(x, r, gradient); // Σ patch, per output channel, in the weight's layout
            for (int i = 0; i < gradient.Length; i++) _patchSum[i] += gradient.Data[i];
        }
        if (_layer.ConvParams is { } p) ConvGram.Accumulate(x, _layer.WeightShape, p, _gramSum);
        else
        {
            int n = x.Dims[0];
            var g = new float[_k * _k];
            Gemm.Sgemm(true, false, _k, _k, n, 1f, x.AsSpan(), _k, x.AsSpan(), _k, 0f, g, _k);
            for (int i = 0; i < g.Length; i++) _gramSum[i] += g[i];
        }
    }

    /// <summary>r̄ += the residual [N, M, positions…] summed per output channel.</summary>
    private void AddPerOutput(float[] residual, int batch)
    {
        int plane = (int)(residual.LongLength / ((long)batch * _outputs));
        for (int n = 0; n < batch; n++)
            for (int m = 0; m < _outputs; m++)
            {
                double s = 0;
                long at = ((long)n * _outputs + m) * plane;
                for (int i = 0; i < plane; i++) s += residual[at + i];
                _residualByOutput[m] += s;
            }
    }

    /// <summary>
    /// The reconstruction loss at weight <paramref name="w"/> (the layer's weight shape, flat) and the layer's own bias,
    /// averaged over the S rows as <see cref="AdaRoundKernels.ReconstructionLoss"/> averages; its gradient with respect to
    /// the weight goes to <paramref name="gradient"/> unless it is empty.
    /// </summary>
    public double Evaluate(ReadOnlySpan<float> w, Span<float> gradient) => Evaluate(w, [], gradient, [], withLoss: true);

    /// <summary>The weight gradient alone at the layer's own bias (an optimisation step needs no loss; this skips its pass over the weights).</summary>
    public void Gradient(ReadOnlySpan<float> w, Span<float> gradient) => Evaluate(w, [], gradient, [], withLoss: false);

    /// <summary>
    /// The loss at weight <paramref name="w"/> and bias <c>b + <paramref name="biasDelta"/></c> (empty: the layer's own
    /// bias), with the weight gradient into <paramref name="gradient"/> and the bias gradient into
    /// <paramref name="biasGradient"/> where they are not empty.
    /// </summary>
    public double Evaluate(ReadOnlySpan<float> w, ReadOnlySpan<float> biasDelta, Span<float> gradient, Span<float> biasGradient) =>
        Evaluate(w, biasDelta, gradient, biasGradient, withLoss: true);

    /// <summary>Both gradients without the loss.</summary>
    public void Gradient(ReadOnlySpan<float> w, ReadOnlySpan<float> biasDelta, Span<float> gradient, Span<float> biasGradient) =>
        Evaluate(w, biasDelta, gradient, biasGradient, withLoss: false);

    private double Evaluate(ReadOnlySpan<float> w, ReadOnlySpan<float> biasDelta, Span<float> gradient, Span<float> biasGradient, bool withLoss)
    {
        if (_rows == 0) throw new InvalidOperationException("LayerGramObjective: no data was added");
        Freeze();
        var delta = _delta.AsSpan();
        var weight = _weight.Data;
        for (int i = 0; i < delta.Length; i++) delta[i] = w[i] - weight[i];
        Span<float> product = gradient.IsEmpty ? _product : gradient; // Δ·G, then the gradient in place
        MultiplyByGram(delta, product);
        float[] residual = _residual!, patch = _patch!;
        bool biased = !biasDelta.IsEmpty;
        if ((biased || !biasGradient.IsEmpty) && !BiasTerms)
            throw new InvalidOperationException("LayerGramObjective: a bias change needs an objective built with biasTerms");
        double quadratic = 0;
        if (withLoss)
            for (int i = 0; i < delta.Length; i++) quadratic += (double)delta[i] * (product[i] + 2 * residual[i]);
        if (biased || !biasGradient.IsEmpty)
        {
            // ⟨Δ_m, μ_m⟩ per output channel, for the cross term and the bias gradient.
            var cross = new double[_outputs];
            for (int i = 0; i < delta.Length; i++) cross[OutputOf(i)] += (double)delta[i] * patch[i];
            for (int m = 0; m < _outputs; m++)
            {
                double d = biased ? biasDelta[m] : 0;
                if (withLoss) quadratic += 2 * d * _residualByOutput[m] + 2 * d * cross[m] + _rows * d * d;
                if (!biasGradient.IsEmpty) biasGradient[m] = (float)(2.0 / _rows * (_residualByOutput[m] + cross[m] + _rows * d));
            }
        }
        if (!gradient.IsEmpty)
        {
            float scale = (float)(2.0 / _rows);
            for (int i = 0; i < gradient.Length; i++)
            {
                float bias = biased ? biasDelta[OutputOf(i)] * patch[i] : 0f;
                gradient[i] = scale * (product[i] + residual[i] + bias);
            }
        }
        return Math.Max(0, _e0 + quadratic) / _rows;
    }

    /// <summary>
    /// Σ over rows of the squared output error per output channel at weight <paramref name="w"/> (the layer's own bias)
    /// into <paramref name="error"/>, and Σ y² per channel into <paramref name="signal"/> (sequential MSE's per-channel
    /// figures, without the rows averaged out). Returns the rows S.
    /// </summary>
    public long ChannelErrors(ReadOnlySpan<float> w, Span<double> error, Span<double> signal)
    {
        if (_rows == 0) throw new InvalidOperationException("LayerGramObjective: no data was added");
        Freeze();
        var delta = _delta.AsSpan();
        var weight = _weight.Data;
        for (int i = 0; i < delta.Length; i++) delta[i] = w[i] - weight[i];
        var product = _product.AsSpan();
        MultiplyByGram(delta, product);
        var residual = _residual!;
        for (int m = 0; m < _outputs; m++) { error[m] = _energyByOutput[m]; signal[m] = _signalByOutput[m]; }
        for (int i = 0; i < delta.Length; i++) error[OutputOf(i)] += (double)delta[i] * (product[i] + 2 * residual[i]);
        for (int m = 0; m < _outputs; m++) error[m] = Math.Max(0, error[m]);
        return _rows;
    }

    /// <summary>The output channel weight element <paramref name="i"/> feeds.</summary>
    private int OutputOf(int i) => _rowsAreOutputs ? i / _k : i % _outputs;

    /// <summary>The statistics in float for the per-iteration products (once, after the last <see cref="Add"/>).</summary>
    private void Freeze()
    {
        if (_gram is not null) return;
        _gram = Array.ConvertAll(_gramSum, v => (float)v);
        _residual = Array.ConvertAll(_residualSum, v => (float)v);
        _patch = Array.ConvertAll(_patchSum, v => (float)v);
    }

    /// <summary><paramref name="product"/> = Δ·G per group (rows are output channels) or G·Δ ([K, M] weights).</summary>
    private void MultiplyByGram(ReadOnlySpan<float> delta, Span<float> product)
    {
        var gram = _gram!;
        if (!_rowsAreOutputs)
        {
            Gemm.Sgemm(false, false, _k, _outputs, _k, 1f, gram, _k, delta, _outputs, 0f, product, _outputs);
            return;
        }
        int mg = _outputs / _groups;
        long kk = (long)_k * _k;
        if (_groups == 1)
        {
            Gemm.Sgemm(false, false, mg, _k, _k, 1f, delta, _k, gram, _k, 0f, product, _k);
            return;
        }
        for (int g = 0; g < _groups; g++)
        {
            var d = delta.Slice(g * mg * _k, mg * _k);
            var p = product.Slice(g * mg * _k, mg * _k);
            var gg = gram.AsSpan((int)(g * kk), (int)kk);
            if (mg * _k * _k <= 4096)
                for (int m = 0; m < mg; m++)
                    for (int j = 0; j < _k; j++)
                    {
                        float s = 0;
                        for (int i = 0; i < _k; i++) s += d[m * _k + i] * gg[i * _k + j];
                        p[m * _k + j] = s;
                    }
            else Gemm.Sgemm(false, false, mg, _k, _k, 1f, d, _k, gg, _k, 0f, p, _k);
        }
    }
}
