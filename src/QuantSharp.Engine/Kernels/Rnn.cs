namespace QuantSharp.Engine.Kernels;

/// <summary>The ONNX RNN cell: Hₜ = f(Xₜ·Wᵀ + Hₜ₋₁·Rᵀ + Wb + Rb).</summary>
internal static class Rnn
{
    public static void Forward(RecurrentProblem p, int d, RecurrentTrace tr)
    {
        int hd = p.Hidden, bh = p.Batch * hd;
        p.Project(d, tr.Xw, _ => true);
        RecurrentTrace.LoadInitial(p, d, p.H0, tr.Hs);
        var f = p.Act(d, 0);
        for (int s = 0; s < p.Steps; s++)
        {
            p.TimesRTransposed(d, tr.Hs.AsSpan(s * bh, bh), 0, hd, tr.Rec, hd);
            int go = tr.GateOffset(s);
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) { tr.Freeze(p, s, b); continue; }
                var xw = tr.Xw.AsSpan((p.Time(d, s, b) * p.Batch + b) * hd, hd);
                var rec = tr.Rec.AsSpan(b * hd, hd);
                var pre = tr.Pre.AsSpan(go + b * hd, hd);
                var hNew = tr.Hs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    pre[j] = xw[j] + rec[j];
                    hNew[j] = f.Apply(p.Clip(pre[j]));
                }
                tr.StoreY(p, d, s, b);
            }
        }
        tr.StoreFinal(p, d);
    }

    public static void Backward(RecurrentProblem p, int d, RecurrentTrace tr, RecurrentGradientBuffers gb)
    {
        int hd = p.Hidden;
        var f = p.Act(d, 0);
        gb.BeginDirection(p, d);
        for (int s = p.Steps - 1; s >= 0; s--)
        {
            gb.BeginStep(p, d, s);
            int go = tr.GateOffset(s);
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) continue;
                var pre = tr.Pre.AsSpan(go + b * hd, hd);
                var hNew = tr.Hs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                var dh = gb.Dh.AsSpan(b * hd, hd);
                var dpre = gb.DPre.AsSpan(b * hd, hd);
                for (int j = 0; j < hd; j++)
                    dpre[j] = p.Clipped(pre[j]) ? 0f : dh[j] * f.Derivative(p.Clip(pre[j]), hNew[j]);
            }
            gb.EndStep(p, d, s, tr.Hs, hd);
        }
    }
}
