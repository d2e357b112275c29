namespace QuantSharp.Engine.Training;

/// <summary>Classification metrics.</summary>
public static class Metrics
{
    /// <summary>Number of rows of <paramref name="scores"/> [N, C] whose arg-max (first on ties) equals the label; a row with a NaN or infinite score never counts.</summary>
    public static int CountCorrect(Tensor<float> scores, ReadOnlySpan<int> labels)
    {
        Check.Rank("CountCorrect", "scores", scores.Dims, 2);
        int n = scores.Dims[0], c = scores.Dims[1];
        Check.That(labels.Length == n, "CountCorrect", "labels", $"{n} labels", $"{labels.Length}");
        int correct = 0;
        var s = scores.Data;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            bool finite = c == 0 || float.IsFinite(s[i * c]);
            for (int j = 1; j < c; j++)
            {
                finite &= float.IsFinite(s[i * c + j]);
                if (s[i * c + j] > s[i * c + best]) best = j;
            }
            // NaN compares false with everything, so an all-NaN row would otherwise "predict" class 0.
            if (finite && best == labels[i]) correct++;
        }
        return correct;
    }
}
