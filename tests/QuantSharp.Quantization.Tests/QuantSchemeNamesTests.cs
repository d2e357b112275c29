namespace QuantSharp.Quantization.Tests;

/// <summary>QuantScheme carries AIMET's numbers and names (aimet_common.defs.QuantScheme).</summary>
public sealed class QuantSchemeNamesTests
{
    [Theory]
    [InlineData(QuantScheme.PostTrainingTf, 1, "post_training_tf")]
    [InlineData(QuantScheme.PostTrainingTfEnhanced, 2, "post_training_tf_enhanced")]
    [InlineData(QuantScheme.TrainingRangeLearningWithTfInit, 3, "training_range_learning_with_tf_init")]
    [InlineData(QuantScheme.TrainingRangeLearningWithTfEnhancedInit, 4, "training_range_learning_with_tf_enhanced_init")]
    [InlineData(QuantScheme.PostTrainingPercentile, 6, "post_training_percentile")]
    public void AimetSchemes_HaveAimetsNumberAndName_AndParseFromEither(QuantScheme scheme, int number, string name)
    {
        Assert.Equal(number, (int)scheme);
        Assert.Equal(name, QuantSchemeNames.Name(scheme));
        Assert.Equal(scheme, QuantSchemeNames.TryParse(name));
        Assert.Equal(scheme, QuantSchemeNames.TryParse(name.ToUpperInvariant().Replace('_', '-')));
        Assert.Equal(scheme, QuantSchemeNames.TryParse(number.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(scheme, QuantSchemeNames.TryParse(scheme.ToString()));
    }

    [Fact]
    public void OwnSchemes_AreNumberedOutsideAimetsRange_AndEveryValueHasOneName()
    {
        var values = Enum.GetValues<QuantScheme>();
        Assert.Equal(values.Length, values.Select(v => (int)v).Distinct().Count());
        Assert.All(new[] { QuantScheme.PostTrainingMse, QuantScheme.PostTrainingEntropy }, s => Assert.True((int)s > 100, $"{s} = {(int)s}"));
        Assert.Equal(values.Length, values.Select(QuantSchemeNames.Name).Distinct().Count());
        Assert.Equal(values.Length, QuantSchemeNames.All.Count);
        Assert.Equal("post_training_mse", QuantSchemeNames.Name(QuantScheme.PostTrainingMse));
        Assert.Equal(QuantScheme.PostTrainingEntropy, QuantSchemeNames.TryParse("post_training_entropy"));
    }

    [Theory]
    [InlineData("5")]                      // AIMET's training_range_learning: no counterpart here
    [InlineData("0")]
    [InlineData("tf_enhancedd")]
    [InlineData("")]
    public void UnknownNamesAndNumbers_ParseToNull(string text) => Assert.Null(QuantSchemeNames.TryParse(text));
}
