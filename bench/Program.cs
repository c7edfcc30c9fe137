// Benchmarks: not run by CI. Each verb prints figures and ends with one JSON line.
using MiniMind.Bench;

MiniMind.Model.Native.NativeStartup.Initialize();   // as minimind does: MKL vendor fix, malloc reuse (see their switches)
var verbs = new (string Name, string Usage, Func<string[], int> Run)[]
{
    ("tokenizer", "tokenizer --tokenizer <tokenizer.json> [--corpus corpus.jsonl] [--mb 50] [--threads <all cores>] [--runs 3]",
        TokenizerBench.Run),
    ("train", "train [--preset minimind2-small] [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2] [--precision fp32|bf16] [--threads 2] [--compare] [--no-pytorch] [--mmap-threshold BYTES] [--ab mkl|malloc|adamw [--rounds 2]]\n  train --pipeline [--preset minimind2-small] [--batch 4] [--seq-len 256] [--steps 6] [--precision fp32|bf16] [--threads 2] [--rounds 1] [--no-pytorch] [--cli src/Cli/bin/Release/net10.0/minimind.dll]   (the production `minimind train` vs PyTorch)",
        TrainBench.Run),
    ("report", "report [--rounds 1] [--steps 6] [--main-job-steps N] [--threads 2] [--cli src/Cli/bin/Release/net10.0/minimind.dll] [--readme README.md] [--no-write]   (measures the README's figures table and rewrites it)",
        ReportBench.Run),
    ("curve", "curve [--preset minimind2-small] [--batch 8] [--seq-len 64] [--steps 200] [--log-interval 10] [--after 20] [--tolerance 0.01] [--threads 2] [--cli …]   (bf16 vs fp32 loss curve through `minimind train`)",
        CurveBench.Run),
    ("fuse", "fuse --what adamw|sdpa|threads|optimizer [--preset minimind2-small] [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2] [--threads 2]   (in-process interleaved A/B)",
        FuseBench.Run),
    ("generate", "generate [--preset minimind2-small] [--prompt-len 16] [--new-tokens 64] [--reps 5] [--threads 2] [--dtype fp32,bf16,int8] [--no-pytorch]",
        GenerateBench.Run),
    ("data-prepare", "data-prepare [--gib 1] [--stage pretrain|sft|dpo|reason[,…]] [--dataset dataset] [--tokenizer <dataset>/tokenizer/tokenizer.json] [--max-length 512] [--threads 1,<all cores>] [--profile]",
        DataPrepareBench.Run),
    ("actors", "actors [--preset tiny] [--batch 16] [--seq-len 128] [--accumulation 1] [--reps 3] [--steps 10] [--warmup 2] [--jit-steps 80] [--save-interval 5] [--threads 1]",
        ActorsBench.Run),
    ("cluster", "cluster [--workers 1,2] [--preset tiny] [--batch 16] [--seq-len 128] [--accumulation 4] [--steps 20] [--warmup 3] [--threads 1] [--port 47480] [--cli src/Cli/bin/Release/net10.0/minimind.dll]",
        ClusterBench.Run),
    ("metrics", "metrics [--preset tiny] [--batch 16] [--seq-len 128] [--steps 40] [--rows 3000] [--threads 1]",
        MetricsBench.Run),
    ("grpo", "grpo [--preset tiny] [--workers 1,2] [--prompts 2] [--generations 4] [--max-gen-len 24] [--accumulation 4] [--steps 4] [--threads 1]",
        GrpoBench.Run),
    ("gc-stress", "gc-stress [--steps 1000] [--variant dense|moe|both] [--threads 1] [--no-reference]   (set DOTNET_GCgen0size=0x10000 DOTNET_TieredCompilation=0 for the harshest run)",
        GcStressBench.Run),
    ("chaos", "chaos [--ci] [--kills 10] [--samples 160] [--save-interval 4] [--worker-kills 5] [--seed-kills 2] [--seed N] [--port 47560] [--no-cluster] [--no-single] [--cli src/Cli/bin/Release/net10.0/minimind.dll]",
        ChaosBench.Run),
    ("soak", "soak [--minutes 10] [--kill-every 30] [--sample-every 5] [--port 47590] [--cli src/Cli/bin/Release/net10.0/minimind.dll]",
        SoakBench.Run),
    ("exchange", "exchange [--params 25829888] [--reps 9] [--frame-kb 1024] [--chunk-mb 4] [--socket-buffer-kb 4096 (0: kernel default)] [--tls]",
        ExchangeBench.Run),
    ("exchange-peer", "exchange-peer [--frame-kb 1024] [--chunk-mb 4] [--send-to host:port --send-bytes N [--stall-after-bytes M]]   (child of exchange; tests)",
        ExchangeBench.RunPeer),
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    return Usage(args.Length == 0 ? 2 : 0);
foreach (var verb in verbs)
{
    if (verb.Name != args[0]) continue;
    try
    {
        return verb.Run(args[1..]);
    }
    catch (BenchArgumentException e)
    {
        Console.Error.WriteLine($"minimind-bench {verb.Name}: {e.Message}");
        Console.Error.WriteLine($"usage: minimind-bench {verb.Usage}");
        return 2;
    }
}
Console.Error.WriteLine($"minimind-bench: unknown verb '{args[0]}'");
return Usage(2);

int Usage(int code)
{
    var w = code == 0 ? Console.Out : Console.Error;
    w.WriteLine("usage: minimind-bench <verb> [options]");
    w.WriteLine("verbs:");
    foreach (var verb in verbs) w.WriteLine($"  {verb.Usage}");
    return code;
}
