namespace QuantSharp.Engine.Autograd;

/// <summary>Recording switch, op recording and the backward sweep of eager autograd.</summary>
public static class Autograd
{
    [ThreadStatic] private static int _noGradDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsEnabled => _noGradDepth == 0;

    /// <summary>Suspends recording on this thread until the returned scope is disposed (nestable).</summary>
    public static IDisposable NoGrad()
    {
        _noGradDepth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _noGradDepth--;
        }
    }

    /// <summary>
    /// Wraps an op's result: records a node when recording is enabled and any input requires a
    /// gradient, otherwise returns a plain leaf. <paramref name="backward"/> must return one entry per input.
    /// </summary>
    public static Variable Record(string op, Tensor<float> output, Variable[] inputs, BackwardFunction backward)
    {
        if (!IsEnabled) return new Variable(output);
        bool any = false;
        foreach (var v in inputs) any |= v.RequiresGrad;
        return any ? new Variable(output, new GradNode(op, inputs, backward)) : new Variable(output);
    }

    internal static void Backward(Variable root, Tensor<float>? seed)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward: the variable does not require a gradient (no input of its computation has RequiresGrad = true).");
        seed ??= Tensor.Ones(root.Data.Shape);
        Check.SameShape("Backward", "seed", root.Data.Dims, seed.Dims);

        // Reverse topological order by iterative DFS (deep networks must not overflow the stack).
        var order = new List<Variable>();
        var visited = new HashSet<Variable>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Variable v, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (v, next) = stack.Pop();
            var inputs = v.Node?.Inputs;
            if (inputs is not null && next < inputs.Count)
            {
                stack.Push((v, next + 1));
                var child = inputs[next];
                if (child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(v);
        }

        var grads = new Dictionary<Variable, Tensor<float>>(ReferenceEqualityComparer.Instance) { [root] = seed };
        using var _ = NoGrad();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var v = order[i];
            if (!grads.Remove(v, out var g)) continue;
            if (v.IsLeaf)
            {
                v.Grad = v.Grad is null ? g.Clone() : AddInto(v.Grad, g, v);
                continue;
            }
            var node = v.Node!;
            var inputGrads = node.BackwardFn(g);
            if (inputGrads.Length != node.Inputs.Count)
                throw new InvalidOperationException($"Backward of {node.Op}: expected {node.Inputs.Count} input gradients, got {inputGrads.Length}");
            for (int k = 0; k < inputGrads.Length; k++)
            {
                var input = node.Inputs[k];
                var gi = inputGrads[k];
                if (gi is null || !input.RequiresGrad) continue;
                Check.SameShape($"Backward of {node.Op}", $"gradient of input {k}", input.Data.Dims, gi.Dims);
                // Gradients reaching one variable along several paths add up; never mutate a tensor a rule returned
                // (it may alias an input), so the first arrival is kept and later ones go into a fresh sum.
                grads[input] = grads.TryGetValue(input, out var acc) ? Kernels.Elementwise.Add(acc, gi) : gi;
            }
        }
    }

    private static Tensor<float> AddInto(Tensor<float> grad, Tensor<float> g, Variable leaf)
    {
        Check.SameShape("Backward", $"accumulated gradient of {leaf.Name ?? "leaf"}", grad.Dims, g.Dims);
        return Kernels.Elementwise.Add(grad, g, grad);
    }
}
