namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Gradient accumulators of back-propagation through time, in layout 0. A cell's backward walks the steps of one direction
/// backwards, writing each step's gate pre-activation gradients into <see cref="DPre"/> and the gradient reaching Hₜ₋₁
/// (and Cₜ₋₁) into <see cref="Dh"/> (<see cref="Dc"/>); the input projection's gradients (W, X, Wb) are then one GEMM
/// each over all steps (<see cref="FinishDirection"/>).
/// </summary>
internal sealed class RecurrentGradientBuffers
{
    public readonly float[]? DY, DYH, DYC;
    public readonly float[] DX, DW, DR, DB, DH0, DC0, DP;
    /// <summary>Gradient of the input projection [seq·batch, GH] of the current direction.</summary>
    public readonly float[] DXw;
    /// <summary>Running d/dHₜ, d/dCₜ [batch, H]; <see cref="Tmp"/> receives d/dHₜ₋₁ of the active entries.</summary>
    public readonly float[] Dh, Dc, Tmp;
    /// <summary>Gate pre-activation gradients of the current step [batch, GH] (0 for inactive entries).</summary>
    public readonly float[] DPre;

    public RecurrentGradientBuffers(RecurrentProblem p, Tensor<float>? gradY, Tensor<float>? gradYH, Tensor<float>? gradYC)
    {
        string op = p.A.Cell.ToString().ToUpperInvariant();
        int bh = p.Batch * p.Hidden;
        int[] yShape = p.A.Layout == 0 ? [p.Seq, p.Dirs, p.Batch, p.Hidden] : [p.Batch, p.Seq, p.Dirs, p.Hidden];
        int[] sShape = p.A.Layout == 0 ? [p.Dirs, p.Batch, p.Hidden] : [p.Batch, p.Dirs, p.Hidden];
        if (gradY is not null) Check.SameShape(op, "gradient of Y", yShape, gradY.Dims);
        if (gradYH is not null) Check.SameShape(op, "gradient of Y_h", sShape, gradYH.Dims);
        if (gradYC is not null) Check.SameShape(op, "gradient of Y_c", sShape, gradYC.Dims);
        DY = gradY is null ? null : p.A.Layout == 0 ? gradY.Data : p.YFromBatchFirst(gradY.Data);
        DYH = gradYH is null ? null : p.A.Layout == 0 ? gradYH.Data : RecurrentProblem.SwapLeading(gradYH.Data, p.Batch, p.Dirs, p.Hidden);
        DYC = gradYC is null ? null : p.A.Layout == 0 ? gradYC.Data : RecurrentProblem.SwapLeading(gradYC.Data, p.Batch, p.Dirs, p.Hidden);
        DX = new float[p.X.Length];
        DW = new float[p.W.Length];
        DR = new float[p.R.Length];
        DB = new float[p.Dirs * 2 * p.GH];
        DH0 = new float[p.Dirs * bh];
        DC0 = new float[p.Dirs * bh];
        DP = new float[p.Dirs * 3 * p.Hidden];
        DXw = new float[p.Seq * p.Batch * p.GH];
        Dh = new float[bh];
        Dc = new float[bh];
        Tmp = new float[bh];
        DPre = new float[p.Batch * p.GH];
    }

    /// <summary>Starts direction d: d/dH and d/dC of the final states are those of Y_h and Y_c.</summary>
    public void BeginDirection(RecurrentProblem p, int d)
    {
        int bh = p.Batch * p.Hidden;
        Array.Clear(DXw);
        if (DYH is null) Array.Clear(Dh); else Array.Copy(DYH, d * bh, Dh, 0, bh);
        if (DYC is null) Array.Clear(Dc); else Array.Copy(DYC, d * bh, Dc, 0, bh);
    }

    /// <summary>Adds d/dY of the outputs step s wrote to <see cref="Dh"/>, and clears <see cref="DPre"/> and <see cref="Tmp"/>.</summary>
    public void BeginStep(RecurrentProblem p, int d, int s)
    {
        Array.Clear(DPre);
        Array.Clear(Tmp);
        if (DY is null) return;
        int h = p.Hidden;
        for (int b = 0; b < p.Batch; b++)
        {
            if (!p.Active(s, b)) continue;
            int t = p.Time(d, s, b);
            var src = DY.AsSpan(((t * p.Dirs + d) * p.Batch + b) * h, h);
            var dst = Dh.AsSpan(b * h, h);
            for (int j = 0; j < h; j++) dst[j] += src[j];
        }
    }

    /// <summary>
    /// Ends step s: d/dR += DPreᵀ·Hₜ₋₁ over the gate rows [0, <paramref name="rows"/>), Tmp += DPre·R over the same rows,
    /// d/dHₜ₋₁ = Tmp for active entries (inactive ones carry d/dH through), and the step's gate gradients go to the input projection.
    /// </summary>
    public void EndStep(RecurrentProblem p, int d, int s, float[] hs, int rows)
    {
        int h = p.Hidden, gh = p.GH, bh = p.Batch * h;
        var hPrev = hs.AsSpan(s * bh, bh);
        Gemm.Sgemm(true, false, rows, h, p.Batch, 1f, DPre, gh, hPrev, h, 1f, DR.AsSpan(d * gh * h), h);
        Gemm.Sgemm(false, false, p.Batch, h, rows, 1f, DPre, gh, p.Rd(d), h, 1f, Tmp, h);
        for (int b = 0; b < p.Batch; b++)
        {
            if (!p.Active(s, b)) continue;
            Array.Copy(Tmp, b * h, Dh, b * h, h);
            int t = p.Time(d, s, b);
            Array.Copy(DPre, b * gh, DXw, (t * p.Batch + b) * gh, gh);
        }
    }

    /// <summary>
    /// Ends direction d: d/dW_d = DXwᵀ·X, d/dX += DXw·W_d, d/dWb = Σ DXw, d/dRb += Σ DXw where the recurrent bias was part
    /// of the projection, and the initial-state gradients.
    /// </summary>
    public void FinishDirection(RecurrentProblem p, int d, RecurrentTrace trace)
    {
        int rows = p.Seq * p.Batch, gh = p.GH, bh = p.Batch * p.Hidden;
        Gemm.Sgemm(true, false, gh, p.Input, rows, 1f, DXw, gh, p.X, p.Input, 0f, DW.AsSpan(d * gh * p.Input), p.Input);
        Gemm.Sgemm(false, false, rows, p.Input, gh, 1f, DXw, gh, p.Wd(d), p.Input, 1f, DX, p.Input);
        var wb = DB.AsSpan(d * 2 * gh, gh);
        var rb = DB.AsSpan(d * 2 * gh + gh, gh);
        for (int r = 0; r < rows; r++)
        {
            var row = DXw.AsSpan(r * gh, gh);
            for (int j = 0; j < gh; j++) wb[j] += row[j];
        }
        bool gruLinear = p.A.Cell == RecurrentCell.Gru && p.A.LinearBeforeReset;
        for (int j = 0; j < gh; j++)
            if (!(gruLinear && j >= 2 * p.Hidden)) rb[j] += wb[j];
        Array.Copy(Dh, 0, DH0, d * bh, bh);
        Array.Copy(Dc, 0, DC0, d * bh, bh);
    }

    /// <summary>The gradients in the node's layout, one per given input.</summary>
    public RecurrentGradients Result(RecurrentProblem p)
    {
        var o = p.Original;
        bool batchFirst = p.A.Layout == 1;
        var dx = batchFirst ? RecurrentProblem.SwapLeading(DX, p.Seq, p.Batch, p.Input) : DX;
        float[] State(float[] s) => batchFirst ? RecurrentProblem.SwapLeading(s, p.Dirs, p.Batch, p.Hidden) : s;
        return new RecurrentGradients(
            Tensor.FromArray(dx, o.X.Dims.ToArray()),
            Tensor.FromArray(DW, o.W.Dims.ToArray()),
            Tensor.FromArray(DR, o.R.Dims.ToArray()),
            o.B is null ? null : Tensor.FromArray(DB, o.B.Dims.ToArray()),
            o.InitialH is null ? null : Tensor.FromArray(State(DH0), o.InitialH.Dims.ToArray()),
            o.InitialC is null ? null : Tensor.FromArray(State(DC0), o.InitialC.Dims.ToArray()),
            o.P is null ? null : Tensor.FromArray(DP, o.P.Dims.ToArray()));
    }
}
