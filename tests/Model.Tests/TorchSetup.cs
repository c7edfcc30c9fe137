[assembly: Xunit.AssemblyFixture(typeof(MiniMind.Tests.Common.TorchSetup))]
