using System.Security.Cryptography;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>A completed run's output checked against the journal's sha256.</summary>
public class RunOutputTests
{
    [Fact]
    public void An_output_is_fine_only_when_it_exists_and_its_sha256_is_the_journals()
    {
        var dir = Directory.CreateTempSubdirectory("runoutput-");
        try
        {
            var path = Path.Combine(dir.FullName, "out.pth");
            Assert.Equal("is missing", RunOutput.Problem(path, "abc"));
            File.WriteAllBytes(path, [1, 2, 3]);
            var sha = Convert.ToHexStringLower(SHA256.HashData(new byte[] { 1, 2, 3 }));
            Assert.Null(RunOutput.Problem(path, sha));
            File.WriteAllBytes(path, [1, 2]);
            var problem = RunOutput.Problem(path, sha);
            Assert.StartsWith("is damaged (sha256 ", problem);
            Assert.Contains($"the journal has {sha[..12]}", problem);
        }
        finally { dir.Delete(recursive: true); }
    }
}
