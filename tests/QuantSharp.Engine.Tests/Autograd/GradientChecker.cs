using QuantSharp.Engine;
using QuantSharp.Engine.Autograd;

namespace QuantSharp.Engine.Tests.Autograd;

/// <summary>
/// Checks analytic gradients against central finite differences. The scalar probed is
/// L = Σ wᵢ·yᵢ with fixed random weights w (so every output element matters), accumulated in double.
/// </summary>
public static class GradientChecker
{
    /// <summary>
    /// Asserts that the gradient of <paramref name="f"/> with respect to every input matches finite
    /// differences: |analytic − numeric| ≤ atol + rtol·|numeric| element by element.
    /// Choose inputs away from kinks (relu at 0, max ties) so the numeric derivative is defined.
    /// </summary>
    public static void AssertGradients(Func<Variable[], Variable> f, Tensor<float>[] inputs,
        double eps = 1e-2, double rtol = 2e-2, double atol = 2e-3, int seed = 1234)
    {
        var vars = inputs.Select(t => new Variable(t.Clone(), requiresGrad: true)).ToArray();
        var y = f(vars);
        var rng = new Random(seed);
        var w = Tensor.RandomUniform(rng, -1f, 1f, y.Shape);
        y.Backward(w);

        for (int k = 0; k < inputs.Length; k++)
        {
            var x = vars[k].Data;
            var analytic = vars[k].Grad ?? new Tensor<float>(x.Dims);
            for (int i = 0; i < x.Length; i++)
            {
                float orig = x.Data[i];
                x.Data[i] = orig + (float)eps;
                double lp = Probe(f, vars, w);
                x.Data[i] = orig - (float)eps;
                double lm = Probe(f, vars, w);
                x.Data[i] = orig;
                double numeric = (lp - lm) / (2 * eps);
                double a = analytic.Data[i];
                Assert.True(Math.Abs(a - numeric) <= atol + rtol * Math.Abs(numeric),
                    $"input {k} element {i}: analytic {a:G6} vs numeric {numeric:G6}");
            }
        }
    }

    private static double Probe(Func<Variable[], Variable> f, Variable[] vars, Tensor<float> w)
    {
        using var _ = QuantSharp.Engine.Autograd.Autograd.NoGrad();
        var y = f(vars.Select(v => new Variable(v.Data)).ToArray()).Data;
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (double)w.Data[i] * y.Data[i];
        return s;
    }
}
