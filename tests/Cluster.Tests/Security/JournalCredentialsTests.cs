using Xunit;

namespace MiniMind.Cluster.Tests.Security;

/// <summary>Issue 18: a PostgreSQL journal's connection string can come from an environment variable or a file, and is
/// never printed (not by Display, ToString, or a parse error).</summary>
public sealed class JournalCredentialsTests
{
    const string Secret = "s3cr3t-PW-9f2";
    const string Spec = "postgres:Host=db.example;Port=5433;Database=mm;Username=mm;Password=" + Secret;

    [Fact]
    public void A_postgres_journal_spec_should_come_from_an_environment_variable_or_a_file_and_never_show_its_password()
    {
        var variable = "MINIMIND_TEST_JOURNAL_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, Spec);
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "\n" + Spec + "\n");
            var direct = JournalSpec.Parse(Spec, "unused");
            var fromEnv = JournalSpec.Parse("env:" + variable, "unused");
            var fromFile = JournalSpec.Parse("file:" + file, "unused");

            Assert.Equal(direct.ConnectionString, fromEnv.ConnectionString);
            Assert.Equal(direct.ConnectionString, fromFile.ConnectionString);
            Assert.Contains(Secret, direct.ConnectionString, StringComparison.Ordinal);
            foreach (var j in new[] { direct, fromEnv, fromFile })
            {
                Assert.Equal("postgres db.example:5433/mm", j.Display);
                Assert.DoesNotContain(Secret, j.ToString(), StringComparison.Ordinal);
                Assert.DoesNotContain(Secret, $"{new { Journal = j }}", StringComparison.Ordinal);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            File.Delete(file);
        }
    }

    [Fact]
    public void Journal_spec_errors_should_name_the_source_and_never_echo_the_password()
    {
        var unset = Assert.Throws<ArgumentException>(() => JournalSpec.Parse("env:MINIMIND_TEST_NOT_SET_7f3a", "unused"));
        Assert.Contains("MINIMIND_TEST_NOT_SET_7f3a", unset.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<FileNotFoundException>(() => JournalSpec.Parse("file:/nonexistent/journal-spec", "unused"));
        Assert.Contains("/nonexistent/journal-spec", missing.Message, StringComparison.Ordinal);

        var typo = Assert.Throws<ArgumentException>(() => JournalSpec.Parse("postgress:Password=" + Secret, "unused"));
        Assert.DoesNotContain(Secret, typo.Message, StringComparison.Ordinal);
        Assert.Contains("postgress:…", typo.Message, StringComparison.Ordinal);
        var bad = Assert.Throws<ArgumentException>(() => JournalSpec.Parse("postgres:Passwort=" + Secret, "unused"));
        Assert.DoesNotContain(Secret, bad.Message, StringComparison.Ordinal);
    }
}
