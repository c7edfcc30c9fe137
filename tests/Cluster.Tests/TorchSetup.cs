using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Tests.Common.TorchSetup))]
// Test classes run one after another: several of them train in this process (GradientAggregation, FaultTolerance, the
// cluster tests' single-process reference, the ops routes), and torch's default generator is process-wide, so an
// overlapping run changed the RNG state another run saved in its checkpoint (bitwise comparisons then failed).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
