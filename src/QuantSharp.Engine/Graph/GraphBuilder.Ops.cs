namespace QuantSharp.Engine;

// One method per ONNX op; attribute names and defaults are ONNX's. Optional attributes left null are omitted.
public sealed partial class GraphBuilder
{
    private static (string, AttributeValue)[] Attrs(params (string, AttributeValue)?[] items) =>
        items.Where(a => a.HasValue).Select(a => a!.Value).ToArray();

    /// <summary>ONNX Conv (NCHW). <paramref name="pads"/> in ONNX order: all begins, then all ends.</summary>
    public Value Conv(Value x, Value w, Value? b, int[]? strides = null, int[]? pads = null, int[]? dilations = null, int group = 1, string? name = null) =>
        Op1("Conv", [x, w, b], name, Attrs(strides is null ? null : Ints("strides", strides), pads is null ? null : Ints("pads", pads),
            dilations is null ? null : Ints("dilations", dilations), group == 1 ? null : Int("group", group)));

    /// <summary>ONNX ConvTranspose.</summary>
    public Value ConvTranspose(Value x, Value w, Value? b, int[]? strides = null, int[]? pads = null, int[]? outputPadding = null, int group = 1, string? name = null) =>
        Op1("ConvTranspose", [x, w, b], name, Attrs(strides is null ? null : Ints("strides", strides), pads is null ? null : Ints("pads", pads),
            outputPadding is null ? null : Ints("output_padding", outputPadding), group == 1 ? null : Int("group", group)));

    /// <summary>ONNX Gemm: alpha·op(A)·op(B) + beta·C.</summary>
    public Value Gemm(Value a, Value b, Value? c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f, string? name = null) =>
        Op1("Gemm", [a, b, c], name, Attrs(transA ? Int("transA", 1) : null, transB ? Int("transB", 1) : null,
            alpha != 1f ? Float("alpha", alpha) : null, beta != 1f ? Float("beta", beta) : null));

    /// <summary>ONNX MatMul (numpy semantics).</summary>
    public Value MatMul(Value a, Value b, string? name = null) => Op1("MatMul", [a, b], name);

    /// <summary>ONNX BatchNormalization (inference form; one output).</summary>
    public Value BatchNormalization(Value x, Value scale, Value bias, Value mean, Value variance, float epsilon = 1e-5f, float momentum = 0.9f, string? name = null) =>
        Op1("BatchNormalization", [x, scale, bias, mean, variance], name, Float("epsilon", epsilon), Float("momentum", momentum));

    /// <summary>ONNX Relu.</summary>
    public Value Relu(Value x, string? name = null) => Op1("Relu", [x], name);

    /// <summary>ONNX LeakyRelu.</summary>
    public Value LeakyRelu(Value x, float alpha = 0.01f, string? name = null) => Op1("LeakyRelu", [x], name, Float("alpha", alpha));

    /// <summary>ONNX Clip with constant bounds (stored as initializers, opset 11+ form).</summary>
    public Value Clip(Value x, float min, float max, string? name = null)
    {
        var lo = Initializer(_graph.UniqueName((name ?? "clip") + "_min"), Tensor.Scalar(min));
        var hi = Initializer(_graph.UniqueName((name ?? "clip") + "_max"), Tensor.Scalar(max));
        return Op1("Clip", [x, lo, hi], name);
    }

    /// <summary>ONNX Sigmoid.</summary>
    public Value Sigmoid(Value x, string? name = null) => Op1("Sigmoid", [x], name);

    /// <summary>ONNX Tanh.</summary>
    public Value Tanh(Value x, string? name = null) => Op1("Tanh", [x], name);

    /// <summary>ONNX HardSwish.</summary>
    public Value HardSwish(Value x, string? name = null) => Op1("HardSwish", [x], name);

    /// <summary>ONNX Softmax along <paramref name="axis"/>.</summary>
    public Value Softmax(Value x, int axis = -1, string? name = null) => Op1("Softmax", [x], name, Int("axis", axis));

    /// <summary>ONNX LogSoftmax along <paramref name="axis"/>.</summary>
    public Value LogSoftmax(Value x, int axis = -1, string? name = null) => Op1("LogSoftmax", [x], name, Int("axis", axis));

    /// <summary>ONNX Add (broadcasting).</summary>
    public Value Add(Value a, Value b, string? name = null) => Op1("Add", [a, b], name);

    /// <summary>ONNX Sub (broadcasting).</summary>
    public Value Sub(Value a, Value b, string? name = null) => Op1("Sub", [a, b], name);

    /// <summary>ONNX Mul (broadcasting).</summary>
    public Value Mul(Value a, Value b, string? name = null) => Op1("Mul", [a, b], name);

    /// <summary>ONNX Div (broadcasting).</summary>
    public Value Div(Value a, Value b, string? name = null) => Op1("Div", [a, b], name);

    /// <summary>ONNX MaxPool.</summary>
    public Value MaxPool(Value x, int[] kernelShape, int[]? strides = null, int[]? pads = null, bool ceilMode = false, string? name = null) =>
        Op1("MaxPool", [x], name, Attrs(Ints("kernel_shape", kernelShape), strides is null ? null : Ints("strides", strides),
            pads is null ? null : Ints("pads", pads), ceilMode ? Int("ceil_mode", 1) : null));

    /// <summary>ONNX AveragePool.</summary>
    public Value AveragePool(Value x, int[] kernelShape, int[]? strides = null, int[]? pads = null, bool countIncludePad = false, bool ceilMode = false, string? name = null) =>
        Op1("AveragePool", [x], name, Attrs(Ints("kernel_shape", kernelShape), strides is null ? null : Ints("strides", strides),
            pads is null ? null : Ints("pads", pads), countIncludePad ? Int("count_include_pad", 1) : null, ceilMode ? Int("ceil_mode", 1) : null));

    /// <summary>ONNX GlobalAveragePool.</summary>
    public Value GlobalAveragePool(Value x, string? name = null) => Op1("GlobalAveragePool", [x], name);

    /// <summary>ONNX Flatten at <paramref name="axis"/>.</summary>
    public Value Flatten(Value x, int axis = 1, string? name = null) => Op1("Flatten", [x], name, Int("axis", axis));

    /// <summary>ONNX Reshape to a constant shape (stored as an int64 initializer).</summary>
    public Value Reshape(Value x, long[] shape, string? name = null)
    {
        var s = Initializer(_graph.UniqueName((name ?? "reshape") + "_shape"), Tensor.FromArray(shape, shape.Length));
        return Op1("Reshape", [x, s], name);
    }

    /// <summary>ONNX Transpose.</summary>
    public Value Transpose(Value x, int[]? perm = null, string? name = null) =>
        Op1("Transpose", [x], name, Attrs(perm is null ? null : Ints("perm", perm)));

    /// <summary>ONNX Concat along <paramref name="axis"/>.</summary>
    public Value Concat(Value[] inputs, int axis, string? name = null) =>
        Op1("Concat", inputs.Select(v => (Value?)v).ToArray(), name, Int("axis", axis));

    /// <summary>ONNX Identity.</summary>
    public Value Identity(Value x, string? name = null) => Op1("Identity", [x], name);

    /// <summary>ONNX Dropout (inference: identity).</summary>
    public Value Dropout(Value x, string? name = null) => Op1("Dropout", [x], name);

    /// <summary>ONNX QuantizeLinear (per-tensor or per-axis).</summary>
    public Value QuantizeLinear(Value x, Value scale, Value? zeroPoint, int axis = 1, string? name = null) =>
        Op1("QuantizeLinear", [x, scale, zeroPoint], name, Int("axis", axis));

    /// <summary>ONNX DequantizeLinear (per-tensor or per-axis).</summary>
    public Value DequantizeLinear(Value x, Value scale, Value? zeroPoint, int axis = 1, string? name = null) =>
        Op1("DequantizeLinear", [x, scale, zeroPoint], name, Int("axis", axis));
}
