namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The ONNX LSTM cell, gates in ONNX order i, o, f, c:
/// iₜ = f(Xₜ·Wiᵀ + Hₜ₋₁·Riᵀ + Pi⊙Cₜ₋₁ + Wbi + Rbi), fₜ = f(… + Pf⊙Cₜ₋₁ …) (or 1 − iₜ with input_forget),
/// cₜ = g(Xₜ·Wcᵀ + Hₜ₋₁·Rcᵀ + Wbc + Rbc), Cₜ = fₜ⊙Cₜ₋₁ + iₜ⊙cₜ, oₜ = f(… + Po⊙Cₜ …), Hₜ = oₜ⊙h(Cₜ).
/// Clip applies to the pre-activations of f and g, not to Cₜ before h (as ONNX Runtime does).
/// </summary>
internal static class Lstm
{
    public static void Forward(RecurrentProblem p, int d, RecurrentTrace tr)
    {
        int hd = p.Hidden, gh = p.GH, bh = p.Batch * hd;
        p.Project(d, tr.Xw, _ => true);
        RecurrentTrace.LoadInitial(p, d, p.H0, tr.Hs);
        RecurrentTrace.LoadInitial(p, d, p.C0, tr.Cs!);
        var f = p.Act(d, 0); var g = p.Act(d, 1); var h = p.Act(d, 2);
        var peep = p.P is null ? ReadOnlySpan<float>.Empty : p.P.AsSpan(d * 3 * hd, 3 * hd);
        for (int s = 0; s < p.Steps; s++)
        {
            p.TimesRTransposed(d, tr.Hs.AsSpan(s * bh, bh), 0, gh, tr.Rec, gh);
            int go = tr.GateOffset(s);
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) { tr.Freeze(p, s, b); continue; }
                var xw = tr.Xw.AsSpan((p.Time(d, s, b) * p.Batch + b) * gh, gh);
                var rec = tr.Rec.AsSpan(b * gh, gh);
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var cPrev = tr.Cs.AsSpan((s * p.Batch + b) * hd, hd);
                var hNew = tr.Hs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                var cNew = tr.Cs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    float pi = xw[j] + rec[j], pf = xw[2 * hd + j] + rec[2 * hd + j], pc = xw[3 * hd + j] + rec[3 * hd + j];
                    if (!peep.IsEmpty) { pi += peep[j] * cPrev[j]; pf += peep[2 * hd + j] * cPrev[j]; }
                    float i = f.Apply(p.Clip(pi));
                    float fg = p.A.InputForget ? 1f - i : f.Apply(p.Clip(pf));
                    float c = g.Apply(p.Clip(pc));
                    float cell = fg * cPrev[j] + i * c;
                    float po = xw[hd + j] + rec[hd + j] + (peep.IsEmpty ? 0f : peep[hd + j] * cell);
                    float o = f.Apply(p.Clip(po));
                    hNew[j] = o * h.Apply(cell);
                    cNew[j] = cell;
                    pre[j] = pi; pre[hd + j] = po; pre[2 * hd + j] = pf; pre[3 * hd + j] = pc;
                    act[j] = i; act[hd + j] = o; act[2 * hd + j] = fg; act[3 * hd + j] = c;
                }
                tr.StoreY(p, d, s, b);
            }
        }
        tr.StoreFinal(p, d);
    }

    public static void Backward(RecurrentProblem p, int d, RecurrentTrace tr, RecurrentGradientBuffers gb)
    {
        int hd = p.Hidden, gh = p.GH;
        var f = p.Act(d, 0); var g = p.Act(d, 1); var h = p.Act(d, 2);
        var peep = p.P is null ? ReadOnlySpan<float>.Empty : p.P.AsSpan(d * 3 * hd, 3 * hd);
        var dPeep = gb.DP.AsSpan(d * 3 * hd, 3 * hd);
        gb.BeginDirection(p, d);
        for (int s = p.Steps - 1; s >= 0; s--)
        {
            gb.BeginStep(p, d, s);
            int go = tr.GateOffset(s);
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) continue;
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var cPrev = tr.Cs.AsSpan((s * p.Batch + b) * hd, hd);
                var cNew = tr.Cs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                var dh = gb.Dh.AsSpan(b * hd, hd);
                var dc = gb.Dc.AsSpan(b * hd, hd);
                var dpre = gb.DPre.AsSpan(b * gh, gh);
                for (int j = 0; j < hd; j++)
                {
                    float i = act[j], o = act[hd + j], fg = act[2 * hd + j], c = act[3 * hd + j], cell = cNew[j];
                    float hc = h.Apply(cell);
                    float dpo = p.Clipped(pre[hd + j]) ? 0f : dh[j] * hc * f.Derivative(p.Clip(pre[hd + j]), o);
                    float dCell = dc[j] + dh[j] * o * h.Derivative(cell, hc) + (peep.IsEmpty ? 0f : dpo * peep[hd + j]);
                    float dpc = p.Clipped(pre[3 * hd + j]) ? 0f : dCell * i * g.Derivative(p.Clip(pre[3 * hd + j]), c);
                    float di = dCell * c, dpf = 0f;
                    if (p.A.InputForget) di -= dCell * cPrev[j];
                    else dpf = p.Clipped(pre[2 * hd + j]) ? 0f : dCell * cPrev[j] * f.Derivative(p.Clip(pre[2 * hd + j]), fg);
                    float dpi = p.Clipped(pre[j]) ? 0f : di * f.Derivative(p.Clip(pre[j]), i);
                    float dcPrev = dCell * fg;
                    if (!peep.IsEmpty)
                    {
                        dcPrev += dpi * peep[j] + dpf * peep[2 * hd + j];
                        dPeep[j] += dpi * cPrev[j];
                        dPeep[hd + j] += dpo * cell;
                        dPeep[2 * hd + j] += dpf * cPrev[j];
                    }
                    dc[j] = dcPrev;
                    dpre[j] = dpi; dpre[hd + j] = dpo; dpre[2 * hd + j] = dpf; dpre[3 * hd + j] = dpc;
                }
            }
            gb.EndStep(p, d, s, tr.Hs, gh);
        }
    }
}
