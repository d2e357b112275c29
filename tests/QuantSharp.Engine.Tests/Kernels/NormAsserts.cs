using QuantSharp.Engine;

namespace QuantSharp.Engine.Tests.Kernels;

/// <summary>Float comparison with a named tolerance: |a − b| ≤ atol + rtol·|b|.</summary>
internal static class NormAsserts
{
    public static void Close(Tensor<float> expected, Tensor<float> actual, float rtol = 1e-5f, float atol = 1e-5f, string what = "")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected.Data[i], a = actual.Data[i];
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e), $"{what} element {i}: expected {e:G9}, got {a:G9}");
        }
    }
}
