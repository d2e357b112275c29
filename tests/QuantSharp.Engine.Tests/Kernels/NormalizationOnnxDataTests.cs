using QuantSharp.Engine;
using QuantSharp.Engine.Kernels;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>BatchNorm, InstanceNorm and LayerNorm against ONNX's backend test data (libonnx-testdata 1.12).</summary>
public class NormalizationOnnxDataTests
{
    [OnnxDataTheory]
    [InlineData("test_batchnorm_example", 1e-5f)]
    [InlineData("test_batchnorm_epsilon", 1e-2f)]
    public void BatchNormInference_MatchesOnnxBackendTestData(string test, float eps)
    {
        var t = Enumerable.Range(0, 5).Select(i => OnnxTestData.Float(test, "input", i)).ToArray();
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 0), BatchNorm.Inference(t[0], t[1], t[2], t[3], t[4], eps), test);
    }

    [OnnxDataTheory]
    [InlineData("test_batchnorm_example_training_mode", 1e-5f)]
    [InlineData("test_batchnorm_epsilon_training_mode", 1e-2f)]
    public void BatchNormTraining_OnnxRunningVarIsBiased_MatchesOnnxBackendTestData(string test, float eps)
    {
        var t = Enumerable.Range(0, 5).Select(i => OnnxTestData.Float(test, "input", i)).ToArray();
        var (rm, rv) = (t[3].Clone(), t[4].Clone());
        var r = BatchNorm.Training(t[0], t[1], t[2], rm, rv, momentum: 0.9f, epsilon: eps, unbiasedRunningVariance: false);
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 0), r.Y, test + " Y");
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 1), rm, test + " running_mean");
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 2), rv, test + " running_var");
    }

    [OnnxDataTheory]
    [InlineData("test_instancenorm_example", 1e-5f)]
    [InlineData("test_instancenorm_epsilon", 1e-2f)]
    public void InstanceNorm_MatchesOnnxBackendTestData(string test, float eps)
    {
        var t = Enumerable.Range(0, 3).Select(i => OnnxTestData.Float(test, "input", i)).ToArray();
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 0), InstanceNorm.Forward(t[0], t[1], t[2], eps).Y, test);
    }

    public static IEnumerable<object[]> LayerNormCases()
    {
        foreach (var (name, axis) in new[] { ("2d_axis0", 0), ("2d_axis1", 1), ("2d_axis_negative_1", -1), ("2d_axis_negative_2", -2),
                     ("4d_axis0", 0), ("4d_axis1", 1), ("4d_axis2", 2), ("4d_axis3", 3), ("4d_axis_negative_1", -1),
                     ("4d_axis_negative_2", -2), ("4d_axis_negative_3", -3), ("4d_axis_negative_4", -4) })
            yield return ["test_layer_normalization_" + name, axis, 1e-5f];
        foreach (var (name, axis) in new[] { ("3d_axis0", 0), ("3d_axis1", 1), ("3d_axis2", 2), ("3d_axis_negative_1", -1),
                     ("3d_axis_negative_2", -2), ("3d_axis_negative_3", -3) })
            yield return ["test_layer_normalization_" + name + "_epsilon", axis, 0.1f];
    }

    [OnnxDataTheory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNorm_MatchesOnnxBackendTestData(string test, int axis, float eps)
    {
        var t = Enumerable.Range(0, 3).Select(i => OnnxTestData.Float(test, "input", i)).ToArray();
        var r = LayerNorm.Forward(t[0], t[1], t[2], axis, eps);
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 0), r.Y, test + " Y");
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 1), r.Mean, test + " Mean");
        OnnxTestData.AssertClose(OnnxTestData.Float(test, "output", 2), r.InvStdDev, test + " InvStdDev");
    }
}
