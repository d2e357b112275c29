namespace QuantSharp.Engine.Kernels;

/// <summary>
/// A recurrent op's inputs checked and brought to layout 0 (X [seq, batch, input], states [dirs, batch, hidden]), with the
/// step ↔ time mapping shared by the three cells.
/// </summary>
internal sealed class RecurrentProblem
{
    public readonly RecurrentAttributes A;
    public readonly int Seq, Batch, Input, Hidden, Dirs, G, GH;
    /// <summary>Steps to run: the longest sequence.</summary>
    public readonly int Steps;
    public readonly float[] X, W, R;
    public readonly float[]? B, H0, C0, P;
    public readonly int[] Lens;
    public readonly RecurrentInputs Original;

    private string Op => A.Cell switch { RecurrentCell.Lstm => "LSTM", RecurrentCell.Gru => "GRU", _ => "RNN" };

    public RecurrentProblem(RecurrentAttributes a, RecurrentInputs inputs)
    {
        A = a;
        Original = inputs;
        Dirs = a.Directions;
        G = a.Gates;
        Check.That(a.Layout is 0 or 1, Op, "layout", "0 or 1", $"{a.Layout}");
        Check.Rank(Op, "X", inputs.X.Dims, 3);
        Check.Rank(Op, "W", inputs.W.Dims, 3);
        Check.Rank(Op, "R", inputs.R.Dims, 3);
        var xd = inputs.X.Dims;
        Seq = a.Layout == 0 ? xd[0] : xd[1];
        Batch = a.Layout == 0 ? xd[1] : xd[0];
        Input = xd[2];
        Hidden = a.HiddenSize ?? inputs.R.Dims[2];
        GH = G * Hidden;
        Expect("W", inputs.W.Dims, [Dirs, GH, Input]);
        Expect("R", inputs.R.Dims, [Dirs, GH, Hidden]);
        if (inputs.B is { } b) Expect("B", b.Dims, [Dirs, 2 * GH]);
        int[] stateShape = a.Layout == 0 ? [Dirs, Batch, Hidden] : [Batch, Dirs, Hidden];
        if (inputs.InitialH is { } h) Expect("initial_h", h.Dims, stateShape);
        if (inputs.InitialC is { } c)
        {
            Check.That(a.Cell == RecurrentCell.Lstm, Op, "initial_c", "absent (LSTM only)", "given");
            Expect("initial_c", c.Dims, stateShape);
        }
        if (inputs.P is { } pp)
        {
            Check.That(a.Cell == RecurrentCell.Lstm, Op, "P", "absent (LSTM only)", "given");
            Expect("P", pp.Dims, [Dirs, 3 * Hidden]);
        }
        if (a.Activations is { } acts)
            Check.That(acts.Length == a.FunctionsPerDirection * Dirs || acts.Length == a.FunctionsPerDirection, Op, "activations",
                $"{a.FunctionsPerDirection * Dirs} functions", $"{acts.Length}");
        if (inputs.SequenceLens is { } lens)
        {
            Check.That(lens.Length == Batch, Op, "sequence_lens", $"{Batch} lengths", $"{lens.Length}");
            foreach (int len in lens) Check.That(len >= 0 && len <= Seq, Op, "sequence_lens", $"lengths in [0, {Seq}]", $"{len}");
            Lens = lens;
        }
        else Lens = Enumerable.Repeat(Seq, Batch).ToArray();
        Steps = Lens.Length == 0 ? 0 : Lens.Max();

        X = a.Layout == 0 ? inputs.X.Data : SwapLeading(inputs.X.Data, Batch, Seq, Input);
        W = inputs.W.Data;
        R = inputs.R.Data;
        B = inputs.B?.Data;
        P = inputs.P?.Data;
        H0 = inputs.InitialH is null ? null : a.Layout == 0 ? inputs.InitialH.Data : SwapLeading(inputs.InitialH.Data, Batch, Dirs, Hidden);
        C0 = inputs.InitialC is null ? null : a.Layout == 0 ? inputs.InitialC.Data : SwapLeading(inputs.InitialC.Data, Batch, Dirs, Hidden);
    }

    private void Expect(string what, ReadOnlySpan<int> got, int[] expected) =>
        Check.That(got.SequenceEqual(expected), Op, what, Shapes.Format(expected), Shapes.Format(got));

    /// <summary>True when direction <paramref name="d"/> runs backwards in time.</summary>
    public bool Reversed(int d) => A.Direction == RecurrentDirection.Reverse || (A.Direction == RecurrentDirection.Bidirectional && d == 1);

    /// <summary>Batch entry b takes part in step s.</summary>
    public bool Active(int s, int b) => s < Lens[b];

    /// <summary>The time index batch entry b reads at step s of direction d.</summary>
    public int Time(int d, int s, int b) => Reversed(d) ? Lens[b] - 1 - s : s;

    /// <summary>Activation k (f, g, h) of direction d.</summary>
    public RecurrentActivation Act(int d, int k) => A.Activation(d, k);

    /// <summary>Clamps a pre-activation to [−clip, clip] (identity without clip).</summary>
    public float Clip(float x) => A.Clip is { } c ? Math.Clamp(x, -c, c) : x;

    /// <summary>d(clip(x))/dx: 0 where clipping cut x off.</summary>
    public bool Clipped(float x) => A.Clip is { } c && (x > c || x < -c);

    /// <summary>W of direction d as a span [GH, Input].</summary>
    public ReadOnlySpan<float> Wd(int d) => W.AsSpan(d * GH * Input, GH * Input);

    /// <summary>R of direction d as a span [GH, Hidden].</summary>
    public ReadOnlySpan<float> Rd(int d) => R.AsSpan(d * GH * Hidden, GH * Hidden);

    /// <summary>Wb (<paramref name="recurrent"/> false) or Rb of direction d, gate column j; 0 without B.</summary>
    public float Bias(int d, bool recurrent, int j) => B is null ? 0f : B[d * 2 * GH + (recurrent ? GH : 0) + j];

    /// <summary>
    /// dest[t·batch + b, :] = X[t, b, :]·W_dᵀ + bias for every time step at once (one GEMM), where bias[j] is Wb[j], plus Rb[j]
    /// where <paramref name="withRecurrentBias"/>(j) (the recurrent bias is additive for every gate except GRU's h with
    /// linear_before_reset).
    /// </summary>
    public void Project(int d, float[] dest, Func<int, bool> withRecurrentBias)
    {
        int rows = Seq * Batch;
        Gemm.Sgemm(false, true, rows, GH, Input, 1f, X, Input, Wd(d), Input, 0f, dest, GH);
        if (B is null) return;
        var bias = new float[GH];
        for (int j = 0; j < GH; j++) bias[j] = Bias(d, false, j) + (withRecurrentBias(j) ? Bias(d, true, j) : 0f);
        for (int r = 0; r < rows; r++)
        {
            var row = dest.AsSpan(r * GH, GH);
            for (int j = 0; j < GH; j++) row[j] += bias[j];
        }
    }

    /// <summary>dest[batch, n] = src[batch, k]·M[rows, k]ᵀ over rows [row0, row0 + n) of direction d's R.</summary>
    public void TimesRTransposed(int d, ReadOnlySpan<float> src, int row0, int n, Span<float> dest, int ldDest) =>
        Gemm.Sgemm(false, true, Batch, n, Hidden, 1f, src, Hidden, Rd(d)[(row0 * Hidden)..], Hidden, 0f, dest, ldDest);

    /// <summary>The outputs in the node's layout.</summary>
    public RecurrentOutputs Outputs(RecurrentTrace t)
    {
        int[] yShape = A.Layout == 0 ? [Seq, Dirs, Batch, Hidden] : [Batch, Seq, Dirs, Hidden];
        int[] sShape = A.Layout == 0 ? [Dirs, Batch, Hidden] : [Batch, Dirs, Hidden];
        var y = A.Layout == 0 ? t.Y : YToBatchFirst(t.Y);
        var yh = A.Layout == 0 ? t.YH : SwapLeading(t.YH, Dirs, Batch, Hidden);
        var yc = A.Cell != RecurrentCell.Lstm ? null : A.Layout == 0 ? t.YC : SwapLeading(t.YC, Dirs, Batch, Hidden);
        return new RecurrentOutputs(Tensor.FromArray(y, yShape), Tensor.FromArray(yh, sShape), yc is null ? null : Tensor.FromArray(yc, sShape));
    }

    /// <summary>[a, b, c] → [b, a, c].</summary>
    public static float[] SwapLeading(float[] src, int a, int b, int c)
    {
        var dst = new float[src.Length];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                Array.Copy(src, (i * b + j) * c, dst, (j * a + i) * c, c);
        return dst;
    }

    /// <summary>Y [seq, dirs, batch, H] → [batch, seq, dirs, H].</summary>
    public float[] YToBatchFirst(float[] y)
    {
        var dst = new float[y.Length];
        for (int t = 0; t < Seq; t++)
            for (int d = 0; d < Dirs; d++)
                for (int b = 0; b < Batch; b++)
                    Array.Copy(y, ((t * Dirs + d) * Batch + b) * Hidden, dst, ((b * Seq + t) * Dirs + d) * Hidden, Hidden);
        return dst;
    }

    /// <summary>Y-shaped [batch, seq, dirs, H] → [seq, dirs, batch, H].</summary>
    public float[] YFromBatchFirst(float[] y)
    {
        var dst = new float[y.Length];
        for (int t = 0; t < Seq; t++)
            for (int d = 0; d < Dirs; d++)
                for (int b = 0; b < Batch; b++)
                    Array.Copy(y, ((b * Seq + t) * Dirs + d) * Hidden, dst, ((t * Dirs + d) * Batch + b) * Hidden, Hidden);
        return dst;
    }
}

/// <summary>
/// Working memory of one direction: the input projection, the states of every step (index 0 = initial), and the gate
/// pre-activations (before clipping) and activations — of every step when kept for backward, else of the current one.
/// Also holds the layout-0 outputs of all directions.
/// </summary>
internal sealed class RecurrentTrace
{
    public readonly bool KeepSteps;
    public readonly float[] Xw, Hs, Pre, Act, Rec, Scratch;
    public readonly float[]? Cs, U;
    public readonly float[] Y, YH, YC;
    private readonly int _gateStride, _stateStride;

    public RecurrentTrace(RecurrentProblem p, bool keepSteps)
    {
        KeepSteps = keepSteps;
        int bh = p.Batch * p.Hidden;
        Xw = new float[p.Seq * p.Batch * p.GH];
        Hs = new float[(p.Steps + 1) * bh];
        if (p.A.Cell == RecurrentCell.Lstm) Cs = new float[(p.Steps + 1) * bh];
        int steps = keepSteps ? Math.Max(p.Steps, 1) : 1;
        _gateStride = p.Batch * p.GH;
        _stateStride = bh;
        Pre = new float[steps * _gateStride];
        Act = new float[steps * _gateStride];
        if (p.A.Cell == RecurrentCell.Gru && p.A.LinearBeforeReset) U = new float[steps * bh];
        Rec = new float[p.Batch * p.GH];
        Scratch = new float[bh];
        Y = new float[p.Seq * p.Dirs * bh];
        YH = new float[p.Dirs * bh];
        YC = new float[p.A.Cell == RecurrentCell.Lstm ? p.Dirs * bh : 0];
    }

    /// <summary>Offset of step s in <see cref="Pre"/> / <see cref="Act"/>.</summary>
    public int GateOffset(int s) => KeepSteps ? s * _gateStride : 0;

    /// <summary>Offset of step s in <see cref="U"/>.</summary>
    public int UOffset(int s) => KeepSteps ? s * _stateStride : 0;

    /// <summary>Loads the initial state of direction d into step 0 of <paramref name="states"/> (zeros when not given).</summary>
    public static void LoadInitial(RecurrentProblem p, int d, float[]? initial, float[] states)
    {
        int bh = p.Batch * p.Hidden;
        if (initial is null) Array.Clear(states, 0, bh);
        else Array.Copy(initial, d * bh, states, 0, bh);
    }

    /// <summary>Copies the final states (step <see cref="RecurrentProblem.Steps"/>) of direction d into Y_h / Y_c.</summary>
    public void StoreFinal(RecurrentProblem p, int d)
    {
        int bh = p.Batch * p.Hidden;
        Array.Copy(Hs, p.Steps * bh, YH, d * bh, bh);
        if (Cs is not null) Array.Copy(Cs, p.Steps * bh, YC, d * bh, bh);
    }

    /// <summary>Y[time, d, b, :] = H of batch entry b after step s.</summary>
    public void StoreY(RecurrentProblem p, int d, int s, int b)
    {
        int t = p.Time(d, s, b);
        Array.Copy(Hs, ((s + 1) * p.Batch + b) * p.Hidden, Y, ((t * p.Dirs + d) * p.Batch + b) * p.Hidden, p.Hidden);
    }

    /// <summary>Carries batch entry b's state unchanged through step s (it is past its sequence's end).</summary>
    public void Freeze(RecurrentProblem p, int s, int b)
    {
        int h = p.Hidden, from = (s * p.Batch + b) * h, to = ((s + 1) * p.Batch + b) * h;
        Array.Copy(Hs, from, Hs, to, h);
        if (Cs is not null) Array.Copy(Cs, from, Cs, to, h);
    }
}
