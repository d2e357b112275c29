namespace QuantSharp.Engine.Runtime.Ops;

/// <summary>Fills a registry with every op QuantSharp implements, family by family.</summary>
public static class BuiltinOps
{
    /// <summary>A new registry holding all built-in ops.</summary>
    public static OpRegistry Create()
    {
        var r = new OpRegistry();
        ElementwiseOps.Register(r);
        MathOps.Register(r);
        IndexOps.Register(r);
        LossOps.Register(r);
        RearrangeOps.Register(r);
        SelectionOps.Register(r);
        NeuralNetOps.Register(r);
        ReduceOps.Register(r);
        LayoutOps.Register(r);
        QuantizeOps.Register(r);
        ResizeOps.Register(r);
        MishOp.Register(r);
        ControlFlowOps.Register(r);
        SequenceOps.Register(r);
        RecurrentOps.Register(r);
        LegacyOps.Register(r);
        ConversionOps.Register(r);
        SparseIndexOps.Register(r);
        LinearAlgebraOps.Register(r);
        LocalNormalizationOps.Register(r);
        DetectionOps.Register(r);
        SignalOps.Register(r);
        TextOps.Register(r);
        TrainingOps.Register(r);
        RandomOps.Register(r);
        QLinearContribOps.Register(r);
        return r;
    }
}
