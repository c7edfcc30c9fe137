// Benchmarks: not run by CI. Each verb prints figures and ends with one JSON line.
Console.Error.WriteLine("usage: minimind-bench <train|generate> [options]");
return 2;
