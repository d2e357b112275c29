namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Scalar specification of ONNX LSTM, GRU and RNN forward, written straight from the ONNX equations: one batch entry at a
/// time, one time step at a time, dot products in plain loops, indexing the tensors in the node's layout. It shares nothing
/// with <see cref="Recurrent"/> but the activation functions, and is the oracle the fast path is tested against.
/// </summary>
public static class RecurrentReference
{
    /// <summary>The op's outputs, computed the slow and obvious way.</summary>
    public static RecurrentOutputs Forward(RecurrentAttributes a, RecurrentInputs x)
    {
        bool bf = a.Layout == 1;
        int seq = x.X.Dims[bf ? 1 : 0], batch = x.X.Dims[bf ? 0 : 1], input = x.X.Dims[2];
        int hidden = a.HiddenSize ?? x.R.Dims[2], dirs = a.Directions, gates = a.Gates;
        var y = bf ? new Tensor<float>(batch, seq, dirs, hidden) : new Tensor<float>(seq, dirs, batch, hidden);
        var yh = bf ? new Tensor<float>(batch, dirs, hidden) : new Tensor<float>(dirs, batch, hidden);
        var yc = bf ? new Tensor<float>(batch, dirs, hidden) : new Tensor<float>(dirs, batch, hidden);
        int XAt(int t, int b, int i) => bf ? (b * seq + t) * input + i : (t * batch + b) * input + i;
        int YAt(int t, int d, int b, int j) => bf ? ((b * seq + t) * dirs + d) * hidden + j : ((t * dirs + d) * batch + b) * hidden + j;
        int SAt(int d, int b, int j) => bf ? (b * dirs + d) * hidden + j : (d * batch + b) * hidden + j;
        float Clip(float v) => a.Clip is { } c ? Math.Clamp(v, -c, c) : v;

        for (int d = 0; d < dirs; d++)
        {
            bool reverse = a.Direction == RecurrentDirection.Reverse || d == 1;
            var f = a.Activation(d, 0);
            var g = a.FunctionsPerDirection > 1 ? a.Activation(d, 1) : default;
            var hAct = a.FunctionsPerDirection > 2 ? a.Activation(d, 2) : default;
            float Wb(int row) => x.B is null ? 0f : x.B.Data[d * 2 * gates * hidden + row];
            float Rb(int row) => x.B is null ? 0f : x.B.Data[d * 2 * gates * hidden + gates * hidden + row];
            float P(int k, int j) => x.P is null ? 0f : x.P.Data[d * 3 * hidden + k * hidden + j];
            // Xₜ·W[row]ᵀ and h·R[row]ᵀ for gate row `row` of this direction.
            float XW(int t, int b, int row)
            {
                float sum = 0f;
                for (int i = 0; i < input; i++) sum += x.X.Data[XAt(t, b, i)] * x.W.Data[(d * gates * hidden + row) * input + i];
                return sum;
            }
            float HR(float[] h, int row)
            {
                float sum = 0f;
                for (int i = 0; i < hidden; i++) sum += h[i] * x.R.Data[(d * gates * hidden + row) * hidden + i];
                return sum;
            }

            for (int b = 0; b < batch; b++)
            {
                int len = x.SequenceLens?[b] ?? seq;
                var h = new float[hidden];
                var c = new float[hidden];
                for (int j = 0; j < hidden; j++)
                {
                    h[j] = x.InitialH is null ? 0f : x.InitialH.Data[SAt(d, b, j)];
                    c[j] = x.InitialC is null ? 0f : x.InitialC.Data[SAt(d, b, j)];
                }
                for (int step = 0; step < len; step++)
                {
                    int t = reverse ? len - 1 - step : step;
                    var hn = new float[hidden];
                    var cn = new float[hidden];
                    for (int j = 0; j < hidden; j++)
                    {
                        switch (a.Cell)
                        {
                            case RecurrentCell.Rnn:
                                hn[j] = f.Apply(Clip(XW(t, b, j) + HR(h, j) + Wb(j) + Rb(j)));
                                break;
                            case RecurrentCell.Lstm:
                            {
                                int I = j, O = hidden + j, F = 2 * hidden + j, C = 3 * hidden + j;
                                float i = f.Apply(Clip(XW(t, b, I) + HR(h, I) + P(0, j) * c[j] + Wb(I) + Rb(I)));
                                float fg = a.InputForget ? 1f - i : f.Apply(Clip(XW(t, b, F) + HR(h, F) + P(2, j) * c[j] + Wb(F) + Rb(F)));
                                float ct = g.Apply(Clip(XW(t, b, C) + HR(h, C) + Wb(C) + Rb(C)));
                                cn[j] = fg * c[j] + i * ct;
                                float o = f.Apply(Clip(XW(t, b, O) + HR(h, O) + P(1, j) * cn[j] + Wb(O) + Rb(O)));
                                hn[j] = o * hAct.Apply(cn[j]);
                                break;
                            }
                            default:
                            {
                                int Z = j, R = hidden + j, Hh = 2 * hidden + j;
                                float z = f.Apply(Clip(XW(t, b, Z) + HR(h, Z) + Wb(Z) + Rb(Z)));
                                float hh;
                                if (a.LinearBeforeReset)
                                {
                                    float r = f.Apply(Clip(XW(t, b, R) + HR(h, R) + Wb(R) + Rb(R)));
                                    hh = g.Apply(Clip(XW(t, b, Hh) + r * (HR(h, Hh) + Rb(Hh)) + Wb(Hh)));
                                }
                                else
                                {
                                    // (r ⊙ h)·Rhᵀ needs r of every unit.
                                    var rh = new float[hidden];
                                    for (int k = 0; k < hidden; k++)
                                        rh[k] = f.Apply(Clip(XW(t, b, hidden + k) + HR(h, hidden + k) + Wb(hidden + k) + Rb(hidden + k))) * h[k];
                                    hh = g.Apply(Clip(XW(t, b, Hh) + HR(rh, Hh) + Rb(Hh) + Wb(Hh)));
                                }
                                hn[j] = (1f - z) * hh + z * h[j];
                                break;
                            }
                        }
                    }
                    h = hn;
                    if (a.Cell == RecurrentCell.Lstm) c = cn;
                    for (int j = 0; j < hidden; j++) y.Data[YAt(t, d, b, j)] = h[j];
                }
                for (int j = 0; j < hidden; j++)
                {
                    yh.Data[SAt(d, b, j)] = h[j];
                    yc.Data[SAt(d, b, j)] = c[j];
                }
            }
        }
        return new RecurrentOutputs(y, yh, a.Cell == RecurrentCell.Lstm ? yc : null);
    }
}
