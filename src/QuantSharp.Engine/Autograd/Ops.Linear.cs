using MM = QuantSharp.Engine.Kernels.MatMul;

namespace QuantSharp.Engine.Autograd;

/// <summary>Differentiable operations on <see cref="Variable"/>s; each family lives in its own file.</summary>
public static partial class Ops
{
    /// <summary>
    /// numpy/ONNX MatMul: Y[..., i, j] = Σₚ A[..., i, p]·B[..., p, j], with 1-D promotion and batch broadcasting
    /// (see <see cref="MM.Forward"/>). Gradients: dA = dY·Bᵀ, dB = Aᵀ·dY, summed over broadcast batch dimensions.
    /// </summary>
    public static Variable MatMul(Variable a, Variable b)
    {
        var y = MM.Forward(a.Data, b.Data);
        var ad = a.Data;
        var bd = b.Data;
        bool na = a.RequiresGrad, nb = b.RequiresGrad;
        return Autograd.Record("MatMul", y, [a, b], g =>
        {
            var (ga, gb) = MM.Backward(ad, bd, g, na, nb);
            return [ga, gb];
        });
    }

    /// <summary>
    /// ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C (C optional, broadcast to [M, N]); see <see cref="MM.Gemm"/>.
    /// Gradients: dA = alpha·dY·op(B)ᵀ, dB = alpha·op(A)ᵀ·dY (transposed back as needed), dC = beta·dY reduced to C's shape.
    /// </summary>
    public static Variable Gemm(Variable a, Variable b, Variable? c = null, bool transA = false, bool transB = false,
        float alpha = 1f, float beta = 1f)
    {
        var y = MM.Gemm(a.Data, b.Data, c?.Data, transA, transB, alpha, beta);
        var ad = a.Data;
        var bd = b.Data;
        var cd = c?.Data;
        Variable[] inputs = c is null ? [a, b] : [a, b, c];
        return Autograd.Record("Gemm", y, inputs, g =>
        {
            var (ga, gb, gc) = MM.GemmBackward(ad, bd, cd, transA, transB, alpha, beta, g);
            return cd is null ? [ga, gb] : [ga, gb, gc];
        });
    }

    /// <summary>
    /// Fully connected layer Y = X·Wᵀ + b over the last axis of X, weight [out, in], bias [out] (optional);
    /// see <see cref="MM.Linear"/>. Gradients: dX = dY·W, dW = dYᵀ·X, db = Σ_rows dY.
    /// </summary>
    public static Variable Linear(Variable x, Variable weight, Variable? bias = null)
    {
        var y = MM.Linear(x.Data, weight.Data, bias?.Data);
        var xd = x.Data;
        var wd = weight.Data;
        bool nx = x.RequiresGrad, nw = weight.RequiresGrad;
        Variable[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        return Autograd.Record(x.Data.Rank == 2 ? "Gemm" : "MatMul", y, inputs, g =>
        {
            var (gx, gw, gb) = MM.LinearBackward(xd, wd, bias is not null, g, nx, nw);
            return bias is null ? [gx, gw] : [gx, gw, gb];
        });
    }
}
