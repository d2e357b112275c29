namespace QuantSharp.Engine.Kernels;

/// <summary>
/// The ONNX GRU cell, gates in ONNX order z, r, h:
/// zₜ = f(Xₜ·Wzᵀ + Hₜ₋₁·Rzᵀ + Wbz + Rbz), rₜ = f(… r …),
/// ĥₜ = g(Xₜ·Whᵀ + (rₜ⊙Hₜ₋₁)·Rhᵀ + Rbh + Wbh), or with linear_before_reset ĥₜ = g(Xₜ·Whᵀ + rₜ⊙(Hₜ₋₁·Rhᵀ + Rbh) + Wbh),
/// Hₜ = (1 − zₜ)⊙ĥₜ + zₜ⊙Hₜ₋₁.
/// </summary>
internal static class Gru
{
    public static void Forward(RecurrentProblem p, int d, RecurrentTrace tr)
    {
        int hd = p.Hidden, gh = p.GH, bh = p.Batch * hd;
        bool linear = p.A.LinearBeforeReset;
        // Rbh stays out of the projection only when the reset gate multiplies it.
        p.Project(d, tr.Xw, j => !linear || j < 2 * hd);
        RecurrentTrace.LoadInitial(p, d, p.H0, tr.Hs);
        var f = p.Act(d, 0); var g = p.Act(d, 1);
        var q = tr.Scratch;
        for (int s = 0; s < p.Steps; s++)
        {
            var hPrevAll = tr.Hs.AsSpan(s * bh, bh);
            // z, r (and with linear_before_reset the h rows too) of Hₜ₋₁·Rᵀ.
            p.TimesRTransposed(d, hPrevAll, 0, linear ? gh : 2 * hd, tr.Rec, gh);
            int go = tr.GateOffset(s), uo = tr.UOffset(s);
            for (int b = 0; b < p.Batch; b++)
            {
                var qb = q.AsSpan(b * hd, hd);
                if (!p.Active(s, b)) { qb.Clear(); continue; }
                var xw = tr.Xw.AsSpan((p.Time(d, s, b) * p.Batch + b) * gh, gh);
                var rec = tr.Rec.AsSpan(b * gh, gh);
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var hPrev = hPrevAll.Slice(b * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    float pz = xw[j] + rec[j], pr = xw[hd + j] + rec[hd + j];
                    float r = f.Apply(p.Clip(pr));
                    pre[j] = pz; pre[hd + j] = pr;
                    act[j] = f.Apply(p.Clip(pz)); act[hd + j] = r;
                    if (linear)
                    {
                        float u = rec[2 * hd + j] + p.Bias(d, true, 2 * hd + j);
                        tr.U![uo + b * hd + j] = u;
                        pre[2 * hd + j] = xw[2 * hd + j] + r * u;
                    }
                    else qb[j] = r * hPrev[j];
                }
            }
            // Without linear_before_reset the h rows multiply rₜ⊙Hₜ₋₁, known only now.
            if (!linear) p.TimesRTransposed(d, q, 2 * hd, hd, tr.Rec.AsSpan(2 * hd), gh);
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) { tr.Freeze(p, s, b); continue; }
                var xw = tr.Xw.AsSpan((p.Time(d, s, b) * p.Batch + b) * gh, gh);
                var rec = tr.Rec.AsSpan(b * gh, gh);
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var hPrev = hPrevAll.Slice(b * hd, hd);
                var hNew = tr.Hs.AsSpan(((s + 1) * p.Batch + b) * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    if (!linear) pre[2 * hd + j] = xw[2 * hd + j] + rec[2 * hd + j];
                    float hh = g.Apply(p.Clip(pre[2 * hd + j]));
                    act[2 * hd + j] = hh;
                    float z = act[j];
                    hNew[j] = (1f - z) * hh + z * hPrev[j];
                }
                tr.StoreY(p, d, s, b);
            }
        }
        tr.StoreFinal(p, d);
    }

    public static void Backward(RecurrentProblem p, int d, RecurrentTrace tr, RecurrentGradientBuffers gb)
    {
        int hd = p.Hidden, gh = p.GH, bh = p.Batch * hd;
        bool linear = p.A.LinearBeforeReset;
        var f = p.Act(d, 0); var g = p.Act(d, 1);
        var rh = p.Rd(d)[(2 * hd * hd)..];
        var dRh = gb.DR.AsSpan(d * gh * hd + 2 * hd * hd, hd * hd);
        var dRbh = gb.DB.AsSpan(d * 2 * gh + gh + 2 * hd, hd);
        var q = tr.Scratch;          // rₜ⊙Hₜ₋₁, or d/du with linear_before_reset
        var dq = new float[bh];      // d/d(rₜ⊙Hₜ₋₁), or d/dHₜ₋₁ through u
        gb.BeginDirection(p, d);
        for (int s = p.Steps - 1; s >= 0; s--)
        {
            gb.BeginStep(p, d, s);
            var hPrevAll = tr.Hs.AsSpan(s * bh, bh);
            int go = tr.GateOffset(s), uo = tr.UOffset(s);
            Array.Clear(q);
            // Pass 1: through Hₜ = (1 − z)⊙ĥ + z⊙Hₜ₋₁ and g; dpre holds d/d(pre-activation of ĥ).
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) continue;
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var hPrev = hPrevAll.Slice(b * hd, hd);
                var dh = gb.Dh.AsSpan(b * hd, hd);
                var dpre = gb.DPre.AsSpan(b * gh, gh);
                var tmp = gb.Tmp.AsSpan(b * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    float z = act[j], r = act[hd + j], hh = act[2 * hd + j];
                    float dz = dh[j] * (hPrev[j] - hh);
                    dpre[j] = p.Clipped(pre[j]) ? 0f : dz * f.Derivative(p.Clip(pre[j]), z);
                    float dph = p.Clipped(pre[2 * hd + j]) ? 0f : dh[j] * (1f - z) * g.Derivative(p.Clip(pre[2 * hd + j]), hh);
                    dpre[2 * hd + j] = dph;
                    tmp[j] = dh[j] * z;
                    if (linear) q[b * hd + j] = dph * r;      // d/du
                    else q[b * hd + j] = r * hPrev[j];        // rₜ⊙Hₜ₋₁
                }
            }
            if (linear)
            {
                // u = Hₜ₋₁·Rhᵀ + Rbh: d/dRh += duᵀ·Hₜ₋₁, d/dRbh += Σ du, d/dHₜ₋₁ += du·Rh.
                Gemm.Sgemm(true, false, hd, hd, p.Batch, 1f, q, hd, hPrevAll, hd, 1f, dRh, hd);
                for (int b = 0; b < p.Batch; b++)
                    for (int j = 0; j < hd; j++) dRbh[j] += q[b * hd + j];
                Gemm.Sgemm(false, false, p.Batch, hd, hd, 1f, q, hd, rh, hd, 0f, dq, hd);
            }
            else
            {
                // (rₜ⊙Hₜ₋₁)·Rhᵀ: d/dRh += dphᵀ·q, d/dq = dph·Rh.
                Gemm.Sgemm(true, false, hd, hd, p.Batch, 1f, gb.DPre.AsSpan(2 * hd), gh, q, hd, 1f, dRh, hd);
                Gemm.Sgemm(false, false, p.Batch, hd, hd, 1f, gb.DPre.AsSpan(2 * hd), gh, rh, hd, 0f, dq, hd);
            }
            // Pass 2: the reset gate.
            for (int b = 0; b < p.Batch; b++)
            {
                if (!p.Active(s, b)) continue;
                var pre = tr.Pre.AsSpan(go + b * gh, gh);
                var act = tr.Act.AsSpan(go + b * gh, gh);
                var hPrev = hPrevAll.Slice(b * hd, hd);
                var dpre = gb.DPre.AsSpan(b * gh, gh);
                var tmp = gb.Tmp.AsSpan(b * hd, hd);
                for (int j = 0; j < hd; j++)
                {
                    float r = act[hd + j], dqj = dq[b * hd + j], dr;
                    if (linear)
                    {
                        dr = dpre[2 * hd + j] * tr.U![uo + b * hd + j];
                        tmp[j] += dqj;
                    }
                    else
                    {
                        dr = dqj * hPrev[j];
                        tmp[j] += dqj * r;
                    }
                    dpre[hd + j] = p.Clipped(pre[hd + j]) ? 0f : dr * f.Derivative(p.Clip(pre[hd + j]), r);
                }
            }
            gb.EndStep(p, d, s, tr.Hs, 2 * hd);
        }
    }
}
