using Akka.Actor;
using Akka.Event;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>A supervised failure is logged in one line with its cause; the exception (with libtorch's backtrace in its
/// message, ~100 lines for a native fault) is attached only with MINIMIND_DEBUG=1.</summary>
public sealed class SupervisionLogTests(ITestOutputHelper output) : Akka.TestKit.Xunit.TestKit("akka.loglevel = WARNING", output: output)
{
    /// <summary>Like a TorchSharp fault: the first line, then the C++ backtrace.</summary>
    static readonly string NativeMessage = "Expected false to be true, but got false.\nException raised from toFloat at /pytorch/c10/core/Scalar.h:140\n"
        + string.Join("\n", Enumerable.Range(0, 60).Select(i => $"frame #{i}: 0x7f00000{i:x4} in libtorch_cpu.so"));

    sealed class Faulty : ReceiveActor
    {
        public Faulty() => Receive<string>(_ => throw new System.Runtime.InteropServices.ExternalException(NativeMessage));
    }

    sealed class Parent : ReceiveActor
    {
        readonly bool? debug;

        public Parent(IActorRef probe, bool? debug, bool counting)
        {
            this.debug = debug;
            Counting = counting;
            var child = Context.ActorOf(Props.Create(() => new Faulty()), "worker-0");
            Receive<string>(m => m.StartsWith("restarted", StringComparison.Ordinal), m => probe.Tell(m));
            Receive<string>(m => child.Tell(m));
        }

        bool Counting { get; }

        protected override SupervisorStrategy SupervisorStrategy() => Counting
            ? new RestartCountingStrategy<string>(c => $"restarted {c}", 3, TimeSpan.FromMinutes(1), _ => Directive.Restart, debug)
            : new OneLineFailureStrategy(debug ?? false);
    }

    Error FailOnce(bool? debug, bool counting)
    {
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var probe = CreateTestProbe();
        var parent = Sys.ActorOf(Props.Create(() => new Parent(probe.Ref, debug, counting)));
        parent.Tell("step");
        if (counting) probe.ExpectMsg("restarted worker-0", TimeSpan.FromSeconds(10));
        var error = errors.ExpectMsg<Error>(TimeSpan.FromSeconds(10));
        errors.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        return error;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_worker_fault_is_one_line_with_its_cause_and_no_stack_trace(bool counting)
    {
        var error = FailOnce(debug: false, counting);
        var text = error.Message.ToString()!;
        Assert.Equal("worker-0 failed (ExternalException: Expected false to be true, but got false.); restarting it", text);
        Assert.Null(error.Cause);
        Assert.DoesNotContain('\n', error.ToString());
    }

    [Fact]
    public void With_MINIMIND_DEBUG_the_exception_and_its_stack_trace_are_attached()
    {
        var error = FailOnce(debug: true, counting: true);
        var cause = Assert.IsType<System.Runtime.InteropServices.ExternalException>(error.Cause);
        Assert.Contains("frame #59", cause.Message, StringComparison.Ordinal);
        Assert.Contains("   at ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_cause_is_the_type_and_the_first_line_of_the_message()
    {
        Assert.Equal("ExternalException: Expected false to be true, but got false.",
            SupervisionLog.Cause(new System.Runtime.InteropServices.ExternalException(NativeMessage)));
        Assert.Equal("InvalidDataException: bad", SupervisionLog.Cause(new ActorInitializationException(null, "ctor", new InvalidDataException("bad\r\nmore"))));
    }
}
