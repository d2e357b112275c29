using QuantSharp.Engine.Threading;
using Blas = QuantSharp.Engine.Kernels.Gemm;

namespace QuantSharp.Engine.Kernels;

/// <summary>
/// Tensor-level matrix products with their backward kernels: ONNX/numpy <c>MatMul</c> (batched, broadcast,
/// 1-D promotion), ONNX <c>Gemm</c> (transposes, alpha, beta, broadcast C) and <c>Linear</c>
/// (y = x·Wᵀ + b). Autograd (<c>Ops.MatMul</c>, <c>Ops.Gemm</c>, <c>Ops.Linear</c>) and graph backward
/// both call the backward kernels here.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>
    /// numpy/ONNX MatMul: Y[..., i, j] = Σₚ A[..., i, p]·B[..., p, j].
    /// </summary>
    /// <remarks>
    /// A 1-D <paramref name="a"/> [K] is read as [1, K] and a 1-D <paramref name="b"/> [K] as [K, 1]; the
    /// promoted dimension is removed from the result. Leading (batch) dimensions broadcast as in numpy:
    /// [2,1,M,K]·[3,K,N] → [2,3,M,N].
    /// </remarks>
    /// <exception cref="ShapeException">Rank 0 operands, inner dimensions that differ, or batch dimensions that do not broadcast.</exception>
    /// <param name="destination">Optional output of the product's shape (every element overwritten; must not alias an argument).</param>
    public static Tensor<float> Forward(Tensor<float> a, Tensor<float> b, Tensor<float>? destination = null)
    {
        var p = MatMulPlan.Create(a.Dims, b.Dims);
        if (destination is not null) Check.SameShape("MatMul", "destination", p.OutShape, destination.Dims);
        var y = destination ?? new Tensor<float>(p.OutShape);
        fixed (float* pa = a.Data) fixed (float* pb = b.Data) fixed (float* py = y.Data)
        {
            if (p.BBatchSize == 1 && p.ABatchSize == p.BatchCount)
                // B shared by every batch: one tall product [batch·M, K]·[K, N].
                Blas.Sgemm(false, false, p.BatchCount * p.M, p.N, p.K, 1f, pa, p.K, pb, p.N, 0f, py, p.N);
            else
                Batched(false, false, p.M, p.N, p.K, pa, p.AOffsets, p.K, pb, p.BOffsets, p.N, py, p.OutOffsets, p.N, zBroadcast: false);
        }
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Forward"/>: dA = dY·Bᵀ and dB = Aᵀ·dY per batch, summed over the batch
    /// dimensions each operand was broadcast along, in the operand's own shape (1-D stays 1-D).
    /// </summary>
    /// <param name="gradOutput">dL/dY, of the shape <see cref="Forward"/> returns.</param>
    /// <param name="needA">Compute dA (else null).</param>
    /// <param name="needB">Compute dB (else null).</param>
    public static (Tensor<float>? GradA, Tensor<float>? GradB) Backward(Tensor<float> a, Tensor<float> b, Tensor<float> gradOutput,
        bool needA = true, bool needB = true)
    {
        var p = MatMulPlan.Create(a.Dims, b.Dims);
        Check.SameShape("MatMul backward", "gradOutput", p.OutShape, gradOutput.Dims);
        Tensor<float>? ga = needA ? new Tensor<float>(a.Dims) : null;
        Tensor<float>? gb = needB ? new Tensor<float>(b.Dims) : null;
        bool foldB = p.BBatchSize == 1 && p.ABatchSize == p.BatchCount;
        fixed (float* pa = a.Data) fixed (float* pb = b.Data) fixed (float* pg = gradOutput.Data)
        {
            if (ga is not null)
                fixed (float* pga = ga.Data)
                {
                    if (foldB) Blas.Sgemm(false, true, p.BatchCount * p.M, p.K, p.N, 1f, pg, p.N, pb, p.N, 0f, pga, p.K);
                    else Batched(false, true, p.M, p.K, p.N, pg, p.OutOffsets, p.N, pb, p.BOffsets, p.N, pga, p.AOffsets, p.K,
                        zBroadcast: p.ABatchSize != p.BatchCount);
                }
            if (gb is not null)
                fixed (float* pgb = gb.Data)
                {
                    if (foldB) Blas.Sgemm(true, false, p.K, p.N, p.BatchCount * p.M, 1f, pa, p.K, pg, p.N, 0f, pgb, p.N);
                    else Batched(true, false, p.K, p.N, p.M, pa, p.AOffsets, p.K, pg, p.OutOffsets, p.N, pgb, p.BOffsets, p.N,
                        zBroadcast: p.BBatchSize != p.BatchCount);
                }
        }
        return (ga, gb);
    }

    /// <summary>
    /// Z_i = op(X_i)·op(Y_i) over batches i (offsets per batch). When <paramref name="zBroadcast"/>, several
    /// batches share one Z block and their products are summed into it (Z is zero on entry).
    /// </summary>
    private static void Batched(bool tx, bool ty, int m, int n, int k, float* x, int[] xOff, int ldx,
        float* y, int[] yOff, int ldy, float* z, int[] zOff, int ldz, bool zBroadcast)
    {
        int count = zOff.Length;
        bool small = (long)m * n * k < Blas.ParallelThreshold;
        if (!zBroadcast && small && count > 1)
        {
            nint px = (nint)x, py = (nint)y, pz = (nint)z;
            Work.For(count, Math.Max(1, (int)(Blas.ParallelThreshold / Math.Max(1L, (long)m * n * k))), (s, e) =>
            {
                for (int i = s; i < e; i++)
                    Blas.Sgemm(tx, ty, m, n, k, 1f, (float*)px + xOff[i], ldx, (float*)py + yOff[i], ldy, 0f, (float*)pz + zOff[i], ldz, parallel: false);
            });
            return;
        }
        for (int i = 0; i < count; i++)
            Blas.Sgemm(tx, ty, m, n, k, 1f, x + xOff[i], ldx, y + yOff[i], ldy, zBroadcast ? 1f : 0f, z + zOff[i], ldz);
    }

    /// <summary>
    /// ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C with op(A) = Aᵀ when <paramref name="transA"/> (A is [K, M]),
    /// op(B) = Bᵀ when <paramref name="transB"/> (B is [N, K]); Y is [M, N].
    /// </summary>
    /// <remarks>C is optional and broadcasts unidirectionally to [M, N] (shapes [], [N], [1, N], [M, 1], [M, N], …).
    /// When C is absent or beta = 0 the C term is dropped.</remarks>
    /// <exception cref="ShapeException">A or B not rank 2, inner dimensions differ, or C not broadcastable to [M, N].</exception>
    /// <param name="destination">Optional [M, N] output (every element overwritten; must not alias an argument).</param>
    public static Tensor<float> Gemm(Tensor<float> a, Tensor<float> b, Tensor<float>? c = null,
        bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f, Tensor<float>? destination = null)
    {
        var (m, n, k) = GemmShape(a, b, c, transA, transB);
        if (destination is not null) Check.SameShape("Gemm", "destination", [m, n], destination.Dims);
        var y = destination ?? Tensor<float>.Uninitialized([m, n]);
        bool useC = c is not null && beta != 0f;
        if (useC)
        {
            var (cm, cn) = CDims(c!);
            var cy = c!.Data;
            var yd = y.Data;
            for (int i = 0; i < m; i++)
            {
                var row = yd.AsSpan(i * n, n);
                if (cn == 1) row.Fill(beta * cy[cm == 1 ? 0 : i]);
                else if (beta == 1f) cy.AsSpan((cm == 1 ? 0 : i) * cn, n).CopyTo(row); // 1·c is c, bit for bit
                else
                    for (int j = 0; j < n; j++) row[j] = beta * cy[(cm == 1 ? 0 : i) * cn + j];
            }
        }
        fixed (float* pa = a.Data) fixed (float* pb = b.Data) fixed (float* py = y.Data)
            Blas.Sgemm(transA, transB, m, n, k, alpha, pa, a.Dim(1), pb, b.Dim(1), useC ? 1f : 0f, py, n);
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Gemm"/>: with G = dL/dY, dA = alpha·G·op(B)ᵀ (transposed back when
    /// <paramref name="transA"/>), dB = alpha·op(A)ᵀ·G (likewise), dC = beta·G summed over the dimensions C was broadcast along.
    /// </summary>
    /// <returns>Gradients in the shapes of a, b and c (GradC null when c is null); a gradient not asked for is null.</returns>
    /// <param name="needA">Compute dA (else null).</param>
    /// <param name="needB">Compute dB (else null).</param>
    /// <param name="needC">Compute dC (else null).</param>
    /// <param name="destinationA">Optional dA of a's shape (every element overwritten; must not alias an argument).</param>
    public static (Tensor<float>? GradA, Tensor<float>? GradB, Tensor<float>? GradC) GemmBackward(Tensor<float> a, Tensor<float> b,
        Tensor<float>? c, bool transA, bool transB, float alpha, float beta, Tensor<float> gradOutput,
        bool needA = true, bool needB = true, bool needC = true, Tensor<float>? destinationA = null)
    {
        var (m, n, k) = GemmShape(a, b, c, transA, transB);
        Check.SameShape("Gemm backward", "gradOutput", [m, n], gradOutput.Dims);
        // beta = 0 GEMMs overwrite every element: no zeroing needed.
        if (needA && destinationA is not null) Check.SameShape("Gemm backward", "destinationA", a.Dims, destinationA.Dims);
        var ga = needA ? destinationA ?? Tensor<float>.Uninitialized(a.Dims) : null;
        var gb = needB ? Tensor<float>.Uninitialized(b.Dims) : null;
        int lda = a.Dim(1), ldb = b.Dim(1);
        fixed (float* pa = a.Data) fixed (float* pb = b.Data) fixed (float* pg = gradOutput.Data)
        fixed (float* pga = ga?.Data) fixed (float* pgb = gb?.Data)
        {
            // op(A) = G·op(B)ᵀ·alpha ; A = op(A) or op(A)ᵀ.
            if (ga is null) { }
            else if (!transA) Blas.Sgemm(false, !transB, m, k, n, alpha, pg, n, pb, ldb, 0f, pga, k);
            else Blas.Sgemm(transB, true, k, m, n, alpha, pb, ldb, pg, n, 0f, pga, m);
            // op(B) = alpha·op(A)ᵀ·G ; B = op(B) or op(B)ᵀ.
            if (gb is null) { }
            else if (!transB) Blas.Sgemm(!transA, false, k, n, m, alpha, pa, lda, pg, n, 0f, pgb, n);
            else Blas.Sgemm(true, transA, n, k, m, alpha, pg, n, pa, lda, 0f, pgb, k);
        }
        Tensor<float>? gc = null;
        if (c is not null && needC)
        {
            gc = new Tensor<float>(c.Dims);
            var (cm, cn) = CDims(c);
            var g = gradOutput.Data;
            var d = gc.Data;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    d[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)] += g[i * n + j];
            if (beta != 1f) for (int i = 0; i < d.Length; i++) d[i] *= beta;
        }
        return (ga, gb, gc);
    }

    private static (int M, int N, int K) GemmShape(Tensor<float> a, Tensor<float> b, Tensor<float>? c, bool transA, bool transB)
    {
        Check.Rank("Gemm", "a", a.Dims, 2);
        Check.Rank("Gemm", "b", b.Dims, 2);
        int m = transA ? a.Dim(1) : a.Dim(0), k = transA ? a.Dim(0) : a.Dim(1);
        int kb = transB ? b.Dim(1) : b.Dim(0), n = transB ? b.Dim(0) : b.Dim(1);
        if (k != kb)
            throw new ShapeException($"Gemm: argument 'b' expected inner dimension {k} (a {Shapes.Format(a.Dims)} transA={transA}), " +
                $"got {kb} (b {Shapes.Format(b.Dims)} transB={transB})");
        if (c is not null)
        {
            bool ok = c.Rank <= 2;
            for (int i = 0; ok && i < c.Rank; i++)
            {
                int target = i == c.Rank - 1 ? n : m;
                ok = c.Dims[i] == 1 || c.Dims[i] == target;
            }
            Check.That(ok, "Gemm", "c", $"a shape unidirectionally broadcastable to [{m},{n}]", Shapes.Format(c.Dims));
        }
        return (m, n, k);
    }

    // C viewed as [cm, cn] with cm, cn ∈ {1, M} × {1, N}.
    private static (int, int) CDims(Tensor<float> c) => c.Rank switch
    {
        0 => (1, 1),
        1 => (1, c.Dim(0)),
        _ => (c.Dim(0), c.Dim(1)),
    };

    /// <summary>
    /// Fully connected layer: Y[..., o] = Σᵢ X[..., i]·W[o, i] + bias[o], i.e. Y = X·Wᵀ + b over the last axis of X.
    /// </summary>
    /// <param name="x">[..., in] (rank ≥ 1).</param>
    /// <param name="weight">[out, in] (PyTorch layout).</param>
    /// <param name="bias">[out] or null.</param>
    public static Tensor<float> Linear(Tensor<float> x, Tensor<float> weight, Tensor<float>? bias = null)
    {
        var (rows, inF, outF) = LinearShape(x, weight, bias);
        var outShape = x.Shape;
        outShape[^1] = outF;
        var y = new Tensor<float>(outShape);
        if (bias is not null)
            for (int r = 0; r < rows; r++) Array.Copy(bias.Data, 0, y.Data, r * outF, outF);
        fixed (float* px = x.Data) fixed (float* pw = weight.Data) fixed (float* py = y.Data)
            Blas.Sgemm(false, true, rows, outF, inF, 1f, px, inF, pw, inF, bias is null ? 0f : 1f, py, outF);
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Linear"/>: dX = G·W, dW = Gᵀ·X (rows of all leading dimensions summed),
    /// dbias = Σ_rows G, with G = dL/dY viewed as [rows, out].
    /// </summary>
    /// <returns>Gradients shaped like x, weight and bias (GradBias null when <paramref name="hasBias"/> is false).</returns>
    public static (Tensor<float>? GradX, Tensor<float>? GradWeight, Tensor<float>? GradBias) LinearBackward(Tensor<float> x,
        Tensor<float> weight, bool hasBias, Tensor<float> gradOutput, bool needX = true, bool needWeight = true)
    {
        var (rows, inF, outF) = LinearShape(x, weight, null);
        var outShape = x.Shape;
        outShape[^1] = outF;
        Check.SameShape("Linear backward", "gradOutput", outShape, gradOutput.Dims);
        Tensor<float>? gx = needX ? new Tensor<float>(x.Dims) : null;
        Tensor<float>? gw = needWeight ? new Tensor<float>(weight.Dims) : null;
        fixed (float* px = x.Data) fixed (float* pw = weight.Data) fixed (float* pg = gradOutput.Data)
        {
            if (gx is not null)
                fixed (float* pgx = gx.Data) Blas.Sgemm(false, false, rows, inF, outF, 1f, pg, outF, pw, inF, 0f, pgx, inF);
            if (gw is not null)
                fixed (float* pgw = gw.Data) Blas.Sgemm(true, false, outF, inF, rows, 1f, pg, outF, px, inF, 0f, pgw, inF);
        }
        Tensor<float>? gbias = null;
        if (hasBias)
        {
            gbias = new Tensor<float>(outF);
            fixed (float* pacc = gbias.Data) fixed (float* pg = gradOutput.Data)
                for (int r = 0; r < rows; r++) AddTo(pacc, pg + (long)r * outF, outF);
        }
        return (gx, gw, gbias);
    }

    private static (int Rows, int In, int Out) LinearShape(Tensor<float> x, Tensor<float> weight, Tensor<float>? bias)
    {
        Check.AtLeast("Linear", "x rank", x.Rank, 1);
        Check.Rank("Linear", "weight", weight.Dims, 2);
        int inF = weight.Dim(1), outF = weight.Dim(0);
        if (x.Dims[^1] != inF)
            throw new ShapeException($"Linear: argument 'x' expected last dimension {inF} (weight {Shapes.Format(weight.Dims)}), got {Shapes.Format(x.Dims)}");
        if (bias is not null) Check.SameShape("Linear", "bias", [outF], bias.Dims);
        return (inF == 0 ? Shapes.Size(x.Dims[..^1]) : x.Length / inF, inF, outF);
    }

    private static void AddTo(float* acc, float* x, int n)
    {
        int j = 0;
        for (; j + System.Numerics.Vector<float>.Count <= n; j += System.Numerics.Vector<float>.Count)
        {
            var v = System.Runtime.CompilerServices.Unsafe.Read<System.Numerics.Vector<float>>(acc + j)
                + System.Runtime.CompilerServices.Unsafe.Read<System.Numerics.Vector<float>>(x + j);
            System.Runtime.CompilerServices.Unsafe.Write(acc + j, v);
        }
        for (; j < n; j++) acc[j] += x[j];
    }
}

/// <summary>
/// Shapes and per-batch element offsets of a numpy MatMul: operands promoted to rank ≥ 2, batch
/// dimensions broadcast, and the output shape with promoted dimensions removed.
/// </summary>
internal sealed class MatMulPlan
{
    public int M, N, K, BatchCount, ABatchSize, BBatchSize;
    public int[] OutShape = [];
    public int[] AOffsets = [], BOffsets = [], OutOffsets = [];

    public static MatMulPlan Create(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        Check.AtLeast("MatMul", "a rank", a.Length, 1);
        Check.AtLeast("MatMul", "b rank", b.Length, 1);
        bool aVec = a.Length == 1, bVec = b.Length == 1;
        int[] aS = aVec ? [1, a[0]] : a.ToArray();
        int[] bS = bVec ? [b[0], 1] : b.ToArray();
        int m = aS[^2], k = aS[^1], kb = bS[^2], n = bS[^1];
        if (k != kb)
            throw new ShapeException($"MatMul: argument 'b' expected {k} rows to match the last dimension of a {Shapes.Format(a)}, " +
                $"got {kb} (b {Shapes.Format(b)})");
        var aBatch = aS[..^2];
        var bBatch = bS[..^2];
        var batch = Shapes.Broadcast(aBatch, bBatch, "MatMul");
        var outShape = new List<int>(batch);
        if (!aVec) outShape.Add(m);
        if (!bVec) outShape.Add(n);
        var p = new MatMulPlan
        {
            M = m, N = n, K = k,
            BatchCount = Shapes.Size(batch),
            ABatchSize = Shapes.Size(aBatch),
            BBatchSize = Shapes.Size(bBatch),
            OutShape = outShape.ToArray(),
        };
        var sa = Shapes.BroadcastStrides(aBatch, batch);
        var sb = Shapes.BroadcastStrides(bBatch, batch);
        p.AOffsets = new int[p.BatchCount];
        p.BOffsets = new int[p.BatchCount];
        p.OutOffsets = new int[p.BatchCount];
        var idx = new int[batch.Length];
        for (int i = 0; i < p.BatchCount; i++)
        {
            long oa = 0, ob = 0;
            for (int d = 0; d < batch.Length; d++) { oa += (long)idx[d] * sa[d]; ob += (long)idx[d] * sb[d]; }
            p.AOffsets[i] = checked((int)(oa * m * k));
            p.BOffsets[i] = checked((int)(ob * k * n));
            p.OutOffsets[i] = checked(i * m * n);
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        return p;
    }
}
