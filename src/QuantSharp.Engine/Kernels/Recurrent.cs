namespace QuantSharp.Engine.Kernels;

/// <summary>The recurrent cell of an ONNX recurrent op.</summary>
public enum RecurrentCell
{
    /// <summary>ONNX RNN: Hₜ = f(Xₜ·Wᵀ + Hₜ₋₁·Rᵀ + Wb + Rb).</summary>
    Rnn,
    /// <summary>ONNX GRU, gates z, r, h.</summary>
    Gru,
    /// <summary>ONNX LSTM, gates i, o, f, c.</summary>
    Lstm,
}

/// <summary>The ONNX <c>direction</c> attribute of a recurrent op.</summary>
public enum RecurrentDirection
{
    /// <summary>Time steps 0 … len−1.</summary>
    Forward,
    /// <summary>Time steps len−1 … 0 (each batch entry from the end of its own sequence).</summary>
    Reverse,
    /// <summary>Both; direction 0 is forward, direction 1 reverse.</summary>
    Bidirectional,
}

/// <summary>The activation functions an ONNX recurrent op may name in its <c>activations</c> attribute.</summary>
public enum RecurrentActivationKind
{
    /// <summary>max(0, x).</summary>
    Relu,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>1 / (1 + e⁻ˣ).</summary>
    Sigmoid,
    /// <summary>α·x + β.</summary>
    Affine,
    /// <summary>x ≥ 0 ? x : α·x.</summary>
    LeakyRelu,
    /// <summary>x &gt; α ? x : 0.</summary>
    ThresholdedRelu,
    /// <summary>α·tanh(β·x).</summary>
    ScaledTanh,
    /// <summary>max(0, min(1, α·x + β)).</summary>
    HardSigmoid,
    /// <summary>x ≥ 0 ? x : α·(eˣ − 1).</summary>
    Elu,
    /// <summary>x / (1 + |x|).</summary>
    Softsign,
    /// <summary>log(1 + eˣ).</summary>
    Softplus,
}

/// <summary>One activation function of a recurrent op with its α and β (unused ones are ignored).</summary>
/// <param name="Kind">The function.</param>
/// <param name="Alpha">α (see <see cref="RecurrentActivationKind"/>).</param>
/// <param name="Beta">β (see <see cref="RecurrentActivationKind"/>).</param>
public readonly record struct RecurrentActivation(RecurrentActivationKind Kind, float Alpha = 0f, float Beta = 0f)
{
    /// <summary>f(x).</summary>
    public float Apply(float x) => Kind switch
    {
        RecurrentActivationKind.Relu => x > 0f ? x : 0f,
        RecurrentActivationKind.Tanh => MathF.Tanh(x),
        RecurrentActivationKind.Sigmoid => 1f / (1f + MathF.Exp(-x)),
        RecurrentActivationKind.Affine => Alpha * x + Beta,
        RecurrentActivationKind.LeakyRelu => x >= 0f ? x : Alpha * x,
        RecurrentActivationKind.ThresholdedRelu => x > Alpha ? x : 0f,
        RecurrentActivationKind.ScaledTanh => Alpha * MathF.Tanh(Beta * x),
        RecurrentActivationKind.HardSigmoid => MathF.Max(0f, MathF.Min(1f, Alpha * x + Beta)),
        RecurrentActivationKind.Elu => x >= 0f ? x : Alpha * (MathF.Exp(x) - 1f),
        RecurrentActivationKind.Softsign => x / (1f + MathF.Abs(x)),
        // log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|) never overflows.
        RecurrentActivationKind.Softplus => MathF.Max(x, 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(x))),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, null),
    };

    /// <summary>f′(x), given x and y = f(x) (cheaper for tanh and sigmoid).</summary>
    public float Derivative(float x, float y) => Kind switch
    {
        RecurrentActivationKind.Relu => x > 0f ? 1f : 0f,
        RecurrentActivationKind.Tanh => 1f - y * y,
        RecurrentActivationKind.Sigmoid => y * (1f - y),
        RecurrentActivationKind.Affine => Alpha,
        RecurrentActivationKind.LeakyRelu => x >= 0f ? 1f : Alpha,
        RecurrentActivationKind.ThresholdedRelu => x > Alpha ? 1f : 0f,
        RecurrentActivationKind.ScaledTanh => ScaledTanhDerivative(x),
        RecurrentActivationKind.HardSigmoid => Alpha * x + Beta is > 0f and < 1f ? Alpha : 0f,
        RecurrentActivationKind.Elu => x >= 0f ? 1f : y + Alpha,
        RecurrentActivationKind.Softsign => 1f / ((1f + MathF.Abs(x)) * (1f + MathF.Abs(x))),
        RecurrentActivationKind.Softplus => 1f / (1f + MathF.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, null),
    };

    private float ScaledTanhDerivative(float x)
    {
        float t = MathF.Tanh(Beta * x);
        return Alpha * Beta * (1f - t * t);
    }

    /// <summary>
    /// Parses the ONNX <c>activations</c> name (case-insensitive, as ONNX Runtime accepts it). ONNX gives α and β as one list
    /// each, consumed in order by the functions that take them; <paramref name="alpha"/>/<paramref name="beta"/> are the next
    /// unconsumed values or null when the list ran out, in which case the default of the ONNX operator of that name applies
    /// (LeakyRelu α = 0.01, ThresholdedRelu α = 1, ScaledTanh α = β = 1, HardSigmoid α = 0.2, β = 0.5, Elu α = 1, Affine α = 1, β = 0).
    /// Returns the activation and how many α and β values it consumed.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static (RecurrentActivation Activation, int AlphasUsed, int BetasUsed) Parse(string name, float? alpha, float? beta)
    {
        var kind = Enum.TryParse<RecurrentActivationKind>(name, ignoreCase: true, out var k) && !int.TryParse(name, out _)
            ? k : throw new ArgumentException($"unknown recurrent activation '{name}'; expected one of {string.Join(", ", Enum.GetNames<RecurrentActivationKind>())}");
        (float a, float b, int na, int nb) = kind switch
        {
            RecurrentActivationKind.Affine => (1f, 0f, 1, 1),
            RecurrentActivationKind.LeakyRelu => (0.01f, 0f, 1, 0),
            RecurrentActivationKind.ThresholdedRelu => (1f, 0f, 1, 0),
            RecurrentActivationKind.ScaledTanh => (1f, 1f, 1, 1),
            RecurrentActivationKind.HardSigmoid => (0.2f, 0.5f, 1, 1),
            RecurrentActivationKind.Elu => (1f, 0f, 1, 0),
            _ => (0f, 0f, 0, 0),
        };
        if (na == 1 && alpha is { } av) a = av;
        if (nb == 1 && beta is { } bv) b = bv;
        return (new RecurrentActivation(kind, a, b), na, nb);
    }
}

/// <summary>The attributes of an ONNX LSTM, GRU or RNN node.</summary>
public sealed record RecurrentAttributes
{
    /// <summary>Which op.</summary>
    public required RecurrentCell Cell { get; init; }

    /// <summary>The <c>direction</c> attribute.</summary>
    public RecurrentDirection Direction { get; init; } = RecurrentDirection.Forward;

    /// <summary>The <c>hidden_size</c> attribute, or null to take it from R's last dimension.</summary>
    public int? HiddenSize { get; init; }

    /// <summary>
    /// Activations per direction, direction after direction: RNN f; GRU f, g; LSTM f, g, h. Null for the ONNX defaults
    /// (RNN Tanh; GRU Sigmoid, Tanh; LSTM Sigmoid, Tanh, Tanh).
    /// </summary>
    public RecurrentActivation[]? Activations { get; init; }

    /// <summary>The <c>clip</c> attribute: gate pre-activations (the inputs of f, g) are clamped to [−clip, clip]; null for none.</summary>
    public float? Clip { get; init; }

    /// <summary>The <c>layout</c> attribute: 0 = X [seq, batch, input], 1 = batch first ([batch, seq, input]; states [batch, dirs, hidden]).</summary>
    public int Layout { get; init; }

    /// <summary>LSTM <c>input_forget</c>: the forget gate is 1 − input gate.</summary>
    public bool InputForget { get; init; }

    /// <summary>GRU <c>linear_before_reset</c>: the reset gate multiplies (Hₜ₋₁·Rhᵀ + Rbh) instead of Hₜ₋₁.</summary>
    public bool LinearBeforeReset { get; init; }

    /// <summary>Gates per direction: RNN 1, GRU 3, LSTM 4.</summary>
    public int Gates => Cell switch { RecurrentCell.Rnn => 1, RecurrentCell.Gru => 3, _ => 4 };

    /// <summary>Activation functions per direction: RNN 1, GRU 2, LSTM 3.</summary>
    public int FunctionsPerDirection => Cell switch { RecurrentCell.Rnn => 1, RecurrentCell.Gru => 2, _ => 3 };

    /// <summary>1, or 2 when bidirectional.</summary>
    public int Directions => Direction == RecurrentDirection.Bidirectional ? 2 : 1;

    /// <summary>Activation <paramref name="k"/> (f, g, h) of direction <paramref name="direction"/>.</summary>
    public RecurrentActivation Activation(int direction, int k)
    {
        int per = FunctionsPerDirection;
        if (Activations is { } a) return a.Length == per * Directions ? a[direction * per + k] : a[k];
        return k == 0 && Cell != RecurrentCell.Rnn ? new(RecurrentActivationKind.Sigmoid) : new(RecurrentActivationKind.Tanh);
    }
}

/// <summary>The inputs of a recurrent op in the node's layout (see <see cref="RecurrentAttributes.Layout"/>).</summary>
/// <param name="X">Input sequence.</param>
/// <param name="W">Input weights [dirs, gates·hidden, input].</param>
/// <param name="R">Recurrent weights [dirs, gates·hidden, hidden].</param>
/// <param name="B">Biases [dirs, 2·gates·hidden] (Wb then Rb), or null for zeros.</param>
/// <param name="SequenceLens">Valid length per batch entry, or null for the full sequence.</param>
/// <param name="InitialH">Initial hidden state, or null for zeros.</param>
/// <param name="InitialC">LSTM initial cell state, or null for zeros.</param>
/// <param name="P">LSTM peepholes [dirs, 3·hidden] (Pi, Po, Pf), or null for zeros.</param>
public sealed record RecurrentInputs(Tensor<float> X, Tensor<float> W, Tensor<float> R, Tensor<float>? B = null, int[]? SequenceLens = null,
    Tensor<float>? InitialH = null, Tensor<float>? InitialC = null, Tensor<float>? P = null);

/// <summary>The outputs of a recurrent op in the node's layout.</summary>
/// <param name="Y">All hidden states [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); 0 past a sequence's length.</param>
/// <param name="YH">Last hidden state [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]).</param>
/// <param name="YC">LSTM last cell state, shaped like <paramref name="YH"/>; null for RNN and GRU.</param>
public sealed record RecurrentOutputs(Tensor<float> Y, Tensor<float> YH, Tensor<float>? YC);

/// <summary>Gradients with respect to the inputs of a recurrent op (null for inputs that were not given).</summary>
/// <param name="X">d/dX.</param>
/// <param name="W">d/dW.</param>
/// <param name="R">d/dR.</param>
/// <param name="B">d/dB, when B was given.</param>
/// <param name="InitialH">d/d initial_h, when given.</param>
/// <param name="InitialC">d/d initial_c, when given.</param>
/// <param name="P">d/dP, when given.</param>
public sealed record RecurrentGradients(Tensor<float> X, Tensor<float> W, Tensor<float> R, Tensor<float>? B, Tensor<float>? InitialH,
    Tensor<float>? InitialC, Tensor<float>? P);

/// <summary>
/// ONNX LSTM, GRU and RNN, forward and backward (back-propagation through time).
/// </summary>
/// <remarks>
/// <para>The input projection of every time step, Xₜ·Wᵀ + biases, is one GEMM over [seq·batch, gates·hidden]; each step
/// then adds Hₜ₋₁·Rᵀ (one GEMM over the batch) and runs the fused gate math. With <c>sequence_lens</c>, batch entry b
/// runs steps 0 … len_b − 1 only (the reverse direction reads its time steps len_b − 1 … 0); its state then stays frozen,
/// so Y_h / Y_c hold the state of its last valid step, and Y is 0 past len_b.</para>
/// <para>Backward recomputes the forward pass from the inputs, keeping the gate pre-activations and activations of every
/// step, then walks the steps backwards. Clipped pre-activations (|x| &gt; clip) pass no gradient.</para>
/// <para><see cref="RecurrentReference"/> is the scalar specification the fast path is tested against.</para>
/// </remarks>
public static class Recurrent
{
    /// <summary>Runs the op forward.</summary>
    /// <exception cref="ShapeException">An input's shape does not match the op's contract (message names it).</exception>
    public static RecurrentOutputs Forward(RecurrentAttributes attributes, RecurrentInputs inputs)
    {
        var p = new RecurrentProblem(attributes, inputs);
        var trace = new RecurrentTrace(p, keepSteps: false);
        for (int d = 0; d < p.Dirs; d++) RunDirection(p, d, trace);
        return p.Outputs(trace);
    }

    /// <summary>
    /// Gradients of the inputs given the gradients of the outputs Y, Y_h, Y_c in the node's layout (null where none flows).
    /// </summary>
    public static RecurrentGradients Backward(RecurrentAttributes attributes, RecurrentInputs inputs, Tensor<float>? gradY,
        Tensor<float>? gradYH, Tensor<float>? gradYC)
    {
        var p = new RecurrentProblem(attributes, inputs);
        var trace = new RecurrentTrace(p, keepSteps: true);
        var g = new RecurrentGradientBuffers(p, gradY, gradYH, gradYC);
        for (int d = 0; d < p.Dirs; d++)
        {
            RunDirection(p, d, trace);
            switch (p.A.Cell)
            {
                case RecurrentCell.Lstm: Lstm.Backward(p, d, trace, g); break;
                case RecurrentCell.Gru: Gru.Backward(p, d, trace, g); break;
                default: Rnn.Backward(p, d, trace, g); break;
            }
            g.FinishDirection(p, d, trace);
        }
        return g.Result(p);
    }

    private static void RunDirection(RecurrentProblem p, int d, RecurrentTrace trace)
    {
        switch (p.A.Cell)
        {
            case RecurrentCell.Lstm: Lstm.Forward(p, d, trace); break;
            case RecurrentCell.Gru: Gru.Forward(p, d, trace); break;
            default: Rnn.Forward(p, d, trace); break;
        }
    }
}
