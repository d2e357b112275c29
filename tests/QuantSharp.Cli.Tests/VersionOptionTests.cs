using System.Text.RegularExpressions;
using System.Xml.Linq;
using QuantSharp.Cli;

namespace QuantSharp.Cli.Tests;

/// <summary><c>quantsharp --version</c>: the package version from <c>src/Directory.Build.props</c>, nothing appended.</summary>
public sealed class VersionOptionTests
{
    [Fact]
    public void Version_PrintsThePackageVersionFromSrcDirectoryBuildProps_WithoutACommitSuffix()
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLineApp.Run(["--version"], o, e);

        Assert.True(code == CommandLineApp.ExitOk, e.ToString());
        string printed = o.ToString().Trim();
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"), printed);
        Assert.Equal(VersionPrefixOfTheRepository(), printed.Split('-')[0]);
    }

    private static string VersionPrefixOfTheRepository()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string props = Path.Combine(d.FullName, "src", "Directory.Build.props");
            if (!File.Exists(props)) continue;
            var prefix = XDocument.Load(props).Descendants("VersionPrefix").Select(x => x.Value.Trim()).FirstOrDefault();
            if (prefix is null) Assert.Fail($"{props} has no <VersionPrefix>");
            return prefix;
        }
        Assert.Fail($"no src/Directory.Build.props above {AppContext.BaseDirectory}");
        return "";
    }
}
