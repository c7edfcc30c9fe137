using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Parity;

/// <summary>Checks shared by dense_tiny and moe_tiny against the PyTorch MiniMind reference (llm.c's test_gpt2 idea):
/// every test prints its measured max difference.</summary>
public abstract class CausalLMParityTests(string setName, ITestOutputHelper output)
{
    protected readonly FixtureSet set = new(setName);
    protected readonly ITestOutputHelper output = output;

    protected abstract double GradTolerance { get; }

    protected void Report(string what, double value, double limit)
    {
        output.WriteLine($"{set.Name}: {what} = {value:E2} (limit {limit:E0})");
        Assert.True(value <= limit, $"{set.Name}: {what} = {value:E3} > {limit:E0}");
    }

    [Fact]
    public void State_dict_keys_equal_MiniMind_keys_in_order()
    {
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(set.ConfigPath));
        var expected = set.Manifest.GetProperty("weights").GetProperty("state_dict_keys_in_order").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(expected, model.state_dict().Keys.ToArray());
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("freqs", StringComparison.Ordinal));
    }

    [Fact]
    public void Optimizer_parameters_hold_the_tied_weight_once()
    {
        using var model = Fixture.Model(set);
        var unique = set.Manifest.GetProperty("weights").GetProperty("tensors").EnumerateArray()
            .Where(t => !t.TryGetProperty("tied_to", out _))
            .Sum(t => t.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64()));
        Assert.Equal(unique, model.UniqueParameterCount());
        Assert.Equal(model.state_dict().Count - 1, model.OptimizerParameters().Count);
        Assert.Equal(model.OptimizerParameters().Count, model.parameters().Count());
        Assert.Equal(unique, model.parameters().Sum(p => p.numel()));
        output.WriteLine($"{set.Name}: unique parameters = {unique:N0}");
    }

    [Fact]
    public void Eval_logits_hidden_states_and_loss_match()
    {
        using var model = Fixture.Model(set);
        model.eval();
        using var _ = no_grad();
        var captured = new Dictionary<string, Tensor>();
        Tensor Keep(string name, Tensor t) { captured[name] = t.detach().clone().DetachFromDisposeScope(); return t; }
        model.Model.EmbedTokens.register_forward_hook((_, _, y) => Keep("hidden_eval/embed", y));
        var i = 0;
        foreach (var layer in model.Model.Layers)
        {
            var name = $"hidden_eval/layer{i++}";
            layer.register_forward_hook((_, _, _, _, y) => { Keep(name, y.hidden); return y; });
        }
        model.Model.Norm.register_forward_hook((_, _, y) => Keep("hidden_eval/final_norm", y));

        var out_ = model.call(set.Tensor("input_ids"));
        Report("max|Δlogits_eval|", Fixture.MaxAbs(out_.logits, set.Tensor("logits_eval")), 1e-4);
        foreach (var name in set.TensorNames.Where(n => n.StartsWith("hidden_eval/", StringComparison.Ordinal)))
            Report($"max|Δ{name}|", Fixture.MaxAbs(captured[name], set.Tensor(name)), 1e-4);
        Assert.Equal(0.0, out_.aux_loss.item<float>());                      // eval returns no aux loss (MiniMind returns the int 0)
        var ce = Losses.MaskedCrossEntropy(out_.logits, set.Tensor("labels"), set.Tensor("loss_mask")).item<float>();
        Report("|Δce_loss_eval|", Math.Abs(ce - set.Scalar("ce_loss_eval")), 1e-5);
    }

    [Fact]
    public void One_training_step_matches_loss_grads_norm_and_updated_parameters()
    {
        using var model = Fixture.Model(set);
        using var step = GradientStep.For(model);                               // the production step: lr 5e-4, wd 0.01, clip 1.0
        var (ids, labels, mask) = (set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));

        // Gradients before clipping, as the flat gradient a worker hands to the aggregator.
        var (loss, aux, gradient) = Fixture.Backward(step, model, ids, labels, mask);
        Report("|Δtrain_loss|", Math.Abs(loss - set.Scalar("train_loss")), 1e-5);
        Report("|Δtrain_aux_loss|", Math.Abs(aux - set.Scalar("train_aux_loss")), 1e-5);
        var grads = set.TensorNames.Where(n => n.StartsWith("grad/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(grads);
        foreach (var name in grads)
        {
            Report($"max|Δ{name}|", Fixture.MaxAbs(Slice(model, name["grad/".Length..], grad: true), set.Tensor(name)), GradTolerance);
            Report($"max|Δ{name}| (flat)", Fixture.MaxAbs(FlatSlice(model, step, gradient, name["grad/".Length..]), set.Tensor(name)), GradTolerance);
        }

        // The update: the flat gradient set as grads, clip_grad_norm_(1.0), AdamW.
        var gradNorm = step.Apply(gradient, 5e-4);
        var refNorm = set.Scalar("grad_norm");
        output.WriteLine($"{set.Name}: grad_norm = {gradNorm:R}, reference {refNorm:R}, f64 {set.Scalar("grad_norm_f64"):R}; rel vs f64 = {Math.Abs(gradNorm - set.Scalar("grad_norm_f64")) / refNorm:E2}");
        Report("rel|Δgrad_norm|", Math.Abs(gradNorm - refNorm) / refNorm, 1e-4);
        CheckParamsAfterStep(model);
        CheckStateChecksums(model);

        model.train();
        using (no_grad())
        {
            var after = Losses.PretrainLoss(model.call(ids), labels, mask).item<float>();
            Report("|Δloss_after_step|", Math.Abs(after - set.Scalar("loss_after_step")), LossAfterStepTolerance);
        }
    }

    protected virtual double LossAfterStepTolerance => 1e-5;

    /// <summary>The production loss (lm_head and cross-entropy in chunks of positions, each chunk's backward run at once)
    /// against the same reference: one chunk per position, uneven chunks, and the default (one chunk here).</summary>
    [Theory]
    [InlineData(1L)]
    [InlineData(5L)]
    [InlineData(0L)]
    public void The_chunked_loss_matches_loss_and_grads(long chunkRows)
    {
        using var model = Fixture.Model(set);
        using var step = GradientStep.For(model);
        var (ids, labels, mask) = (set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
        var (loss, aux, gradient) = Fixture.Backward(step, model, ids, labels, mask, chunkRows);
        Report($"|Δtrain_loss| (chunks of {chunkRows})", Math.Abs(loss - set.Scalar("train_loss")), 1e-5);
        Report($"|Δtrain_aux_loss| (chunks of {chunkRows})", Math.Abs(aux - set.Scalar("train_aux_loss")), 1e-5);
        var grads = set.TensorNames.Where(n => n.StartsWith("grad/", StringComparison.Ordinal)).ToList();
        Assert.Contains("grad/model.embed_tokens.weight[0:32]", grads);                 // the tied lm_head weight gets its part
        foreach (var name in grads)
            Report($"max|Δ{name}| (flat, chunks of {chunkRows})", Fixture.MaxAbs(FlatSlice(model, step, gradient, name["grad/".Length..]), set.Tensor(name)), GradTolerance);
        var gradNorm = step.Apply(gradient, 5e-4);
        Report($"rel|Δgrad_norm| (chunks of {chunkRows})", Math.Abs(gradNorm - set.Scalar("grad_norm")) / set.Scalar("grad_norm"), 1e-4);
        CheckParamsAfterStep(model);
    }

    protected abstract double ChecksumSumTolerance { get; }

    /// <summary>README tolerance table: per state_dict key, |Δsum| ≤ 1e-4 dense / 2e-3 MoE and rel|Δsum_sq| ≤ 1e-5.</summary>
    void CheckStateChecksums(MiniMindForCausalLM model)
    {
        var state = model.state_dict();
        double worstSum = 0, worstSq = 0;
        foreach (var entry in set.ScalarElement("state_after_step_checksum").GetProperty("value").EnumerateObject())
        {
            using var t = state[entry.Name].detach().to_type(ScalarType.Float64);
            var sum = t.sum().item<double>();
            var sq = t.pow(2).sum().item<double>();
            var refSq = entry.Value.GetProperty("sum_sq").GetDouble();
            worstSum = Math.Max(worstSum, Math.Abs(sum - entry.Value.GetProperty("sum").GetDouble()));
            worstSq = Math.Max(worstSq, Math.Abs(sq - refSq) / Math.Max(refSq, 1e-30));
        }
        Report("max|Δstate_after_step sum|", worstSum, ChecksumSumTolerance);
        Report("max rel|Δstate_after_step sum_sq|", worstSq, 1e-5);
    }

    protected abstract void CheckParamsAfterStep(MiniMindForCausalLM model);

    /// <summary>A parameter's part of a flat gradient (optimizer order), by fixture name with an optional row slice.</summary>
    static Tensor FlatSlice(MiniMindForCausalLM model, GradientStep step, float[] gradient, string name)
    {
        var bracket = name.IndexOf('[', StringComparison.Ordinal);
        var paramName = bracket < 0 ? name : name[..bracket];
        var handle = model.named_parameters().First(n => n.name == paramName).parameter.Handle;
        var index = step.Parameters.Select((p, i) => (p, i)).First(x => x.p.Handle == handle).i;
        var offset = step.Parameters.Take(index).Sum(p => p.numel());
        var target = step.Parameters[index];
        var t = torch.tensor(gradient.AsSpan((int)offset, (int)target.numel()).ToArray()).view(target.shape);
        if (bracket < 0) return t;
        var range = name[(bracket + 1)..^1].Split(':').Select(long.Parse).ToArray();
        return t[TensorIndex.Slice(range[0], range[1])];
    }

    /// <summary>A parameter (or its grad) by fixture name, with an optional "[a:b]" row slice.</summary>
    protected static Tensor Slice(MiniMindForCausalLM model, string name, bool grad = false)
    {
        var bracket = name.IndexOf('[', StringComparison.Ordinal);
        var paramName = bracket < 0 ? name : name[..bracket];
        var p = model.named_parameters().First(n => n.name == paramName).parameter;
        var t = grad ? p.grad ?? throw new InvalidOperationException($"{paramName} has no grad") : p.detach();
        if (bracket < 0) return t;
        var range = name[(bracket + 1)..^1].Split(':').Select(long.Parse).ToArray();
        return t[TensorIndex.Slice(range[0], range[1])];
    }

    [Fact]
    public void Greedy_generation_matches_with_and_without_cache()
    {
        using var model = Fixture.Model(set);
        var prompt = set.Tensor("gen_prompt").data<long>().ToArray();
        var nocache = Generator.Generate(model, prompt, 8, eosTokenId: null, useCache: false);
        var cached = Generator.Generate(model, prompt, 8, eosTokenId: null, useCache: true);
        Assert.Equal(set.Tensor("gen_tokens_nocache").data<long>().ToArray(), nocache);
        Assert.Equal(set.Tensor("gen_tokens_cache").data<long>().ToArray(), cached);
        output.WriteLine($"{set.Name}: generated {string.Join(" ", cached)} (cache and no cache identical)");

        using var decoder = new IncrementalDecoder(model, useCache: true);
        var rows = new List<float[]> { decoder.Feed(prompt) };
        var k0 = decoder.Cache!;
        for (var l = 0; l < k0.Layers.Count; l++)
        {
            Report($"max|Δkv_after_prompt/layer{l}_k|", Fixture.MaxAbs(k0[l].k, set.Tensor($"kv_after_prompt/layer{l}_k")), 1e-5);
            Report($"max|Δkv_after_prompt/layer{l}_v|", Fixture.MaxAbs(k0[l].v, set.Tensor($"kv_after_prompt/layer{l}_v")), 1e-5);
        }
        foreach (var token in cached.Take(cached.Length - 1))
            rows.Add(decoder.Feed([token]));
        var stepLogits = torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Count, rows[0].Length]);
        Report("max|Δgen_step_logits_cache|", Fixture.MaxAbs(stepLogits, set.Tensor("gen_step_logits_cache")), 1e-4);
    }
}
