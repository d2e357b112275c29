namespace QuantSharp.Engine;

/// <summary>How a layer's weight tensor is laid out: which axis is the output channel and which the input channel.</summary>
public enum WeightLayout
{
    /// <summary>ONNX Conv weight <c>[M, C/group, k…]</c>: output channel on axis 0, input channel (within its group) on axis 1.</summary>
    Conv,
    /// <summary>ONNX ConvTranspose weight <c>[C, M/group, k…]</c>: input channel on axis 0, output channel (within its group) on axis 1.</summary>
    ConvTranspose,
    /// <summary>ONNX Gemm weight B with <c>transB = 0</c>: <c>[K, N]</c>, input feature on axis 0, output feature on axis 1.</summary>
    Gemm,
    /// <summary>ONNX Gemm weight B with <c>transB = 1</c> (PyTorch Linear): <c>[N, K]</c>, output feature on axis 0, input feature on axis 1.</summary>
    GemmTransposed,
}

/// <summary>
/// A view of a linear-layer node (ONNX <c>Conv</c>, <c>ConvTranspose</c>, <c>Gemm</c>) as graph passes need it: the layout
/// of its weight (input 1), its group count and where its output channels lie. The one place that derives a weight layout
/// from a node's op type and attributes (BN folding, CLE, bias correction, AdaRound, the imbalance recipe ask it).
/// </summary>
/// <param name="Node">The layer node.</param>
/// <param name="Layout">Its weight layout.</param>
/// <param name="Groups">Its group count (1 for Gemm).</param>
public sealed record LinearLayer(Node Node, WeightLayout Layout, int Groups)
{
    /// <summary>
    /// The view of <paramref name="node"/>, or null when it is not a Conv, ConvTranspose or Gemm of the default domain
    /// (a Gemm with <c>transA = 1</c> is still a layer; <see cref="TransA"/> tells).
    /// </summary>
    public static LinearLayer? Of(Node node) => node.Domain.Length != 0 ? null : node.OpType switch
    {
        "Conv" => new LinearLayer(node, WeightLayout.Conv, (int)node.GetInt("group", 1)),
        "ConvTranspose" => new LinearLayer(node, WeightLayout.ConvTranspose, (int)node.GetInt("group", 1)),
        "Gemm" => new LinearLayer(node, node.GetInt("transB", 0) != 0 ? WeightLayout.GemmTransposed : WeightLayout.Gemm, 1),
        _ => null,
    };

    /// <summary>True for a Gemm (a fully connected layer; its weight has no spatial axes).</summary>
    public bool IsGemm => Layout is WeightLayout.Gemm or WeightLayout.GemmTransposed;

    /// <summary>True for a Gemm with <c>transA = 1</c> (its output channels are not on axis 1 of the output).</summary>
    public bool TransA => IsGemm && Node.GetInt("transA", 0) != 0;

    /// <summary>Gemm's alpha (1 for convolutions).</summary>
    public float Alpha => IsGemm ? Node.GetFloat("alpha", 1f) : 1f;

    /// <summary>Gemm's beta, the factor on the bias (1 for convolutions).</summary>
    public float Beta => IsGemm ? Node.GetFloat("beta", 1f) : 1f;

    /// <summary>The weight axis holding the output channels: 0 for Conv and Gemm with transB = 1, 1 for ConvTranspose and Gemm.</summary>
    public int OutputChannelAxis => Layout is WeightLayout.Conv or WeightLayout.GemmTransposed ? 0 : 1;

    /// <summary>The number of output channels for a weight of shape <paramref name="weightShape"/>.</summary>
    public int OutputChannels(ReadOnlySpan<int> weightShape) => Layout switch
    {
        WeightLayout.ConvTranspose => weightShape[1] * Groups,
        WeightLayout.Gemm => weightShape[1],
        _ => weightShape[0],
    };
}
