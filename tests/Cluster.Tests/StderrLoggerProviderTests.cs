using Xunit;

namespace MiniMind.Cluster.Tests;

public sealed class StderrLoggerProviderTests
{
    /// <summary>Akka.Remote puts the exception of a failed association, stack trace included, into the message text: a
    /// SIGKILLed node made every peer print 5–8 frames. The line keeps what happened and why, not the frames.</summary>
    [Fact]
    public void A_message_that_carries_an_exception_in_its_text_loses_its_stack_frames_but_not_its_words()
    {
        Exception cause;
        try { Throw(); throw new InvalidOperationException("unreachable"); }
        catch (Exception e) { cause = e; }
        var text = $"Association with remote system akka.tcp://minimind@127.0.0.1:47562 has failed; address is now gated for 5000 ms. Reason is: [{cause}]";
        Assert.Contains("   at ", text, StringComparison.Ordinal);   // the input really has frames

        var line = StderrLoggerProvider.WithoutStackFrames(text);

        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("--- End of", line, StringComparison.Ordinal);
        Assert.StartsWith("Association with remote system akka.tcp://minimind@127.0.0.1:47562 has failed; address is now gated for 5000 ms. Reason is: [System.IO.IOException: Disassociated", line, StringComparison.Ordinal);
        Assert.Single(line.Split('\n'));
    }

    [Fact]
    public void Text_without_frames_is_unchanged()
    {
        const string text = "worker-0 failed (InjectedFaultException: injected fault at step 3); restarting it\nsecond line at the end";
        Assert.Equal(text, StderrLoggerProvider.WithoutStackFrames(text));
    }

    static void Throw() => throw new IOException("Disassociated");
}
