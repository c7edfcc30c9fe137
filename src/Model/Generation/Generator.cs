namespace MiniMind.Model;

/// <summary>How to pick and when to stop.</summary>
public sealed record GenerationOptions
{
    /// <summary>512: most tokens to generate.</summary>
    public int MaxNewTokens { get; init; } = 512;
    /// <summary>true: argmax. false: sample from softmax(logits / Temperature) restricted to the top-p nucleus.</summary>
    public bool Greedy { get; init; } = true;
    /// <summary>0.85 (MiniMind's eval default): sampling temperature.</summary>
    public double Temperature { get; init; } = 0.85;
    /// <summary>0.85 (MiniMind's eval default): nucleus mass; 1 keeps every token.</summary>
    public double TopP { get; init; } = 0.85;
    /// <summary>null: seed of the sampling RNG (null = nondeterministic).</summary>
    public int? Seed { get; init; }
    /// <summary>2: stop after emitting this token (it is emitted); null = never stop early.</summary>
    public long? EosTokenId { get; init; } = 2;
    /// <summary>true: KV-cache decoding; false: re-run the whole sequence each step (same tokens).</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>true: with the cache, decode through <see cref="SingleTokenDecoder"/> when the model allows it
    /// (float32, no LoRA); false: the general forward every step (same tokens; for comparisons).</summary>
    public bool FastDecode { get; init; } = true;
}

/// <summary>Autoregressive generation on top of <see cref="IncrementalDecoder"/>.</summary>
public static class Generator
{
    /// <summary>The new tokens (prompt excluded), EOS included when it is produced.</summary>
    public static long[] Generate(MiniMindForCausalLM model, IReadOnlyList<long> promptIds, GenerationOptions? options = null) =>
        Stream(model, promptIds, options).ToArray();

    public static long[] Generate(MiniMindForCausalLM model, IReadOnlyList<long> promptIds, int maxNewTokens,
                                  bool greedy = true, double temperature = 0.85, double topP = 0.85, int? seed = null,
                                  long? eosTokenId = 2, bool useCache = true) =>
        Generate(model, promptIds, new GenerationOptions
        {
            MaxNewTokens = maxNewTokens, Greedy = greedy, Temperature = temperature, TopP = topP, Seed = seed,
            EosTokenId = eosTokenId, UseCache = useCache,
        });

    /// <summary>Yields each new token as soon as it is chosen (for chat streaming). Torch state (no_grad, dispose
    /// scopes) is never held across a yield, so the consumer may run its own tensor code between tokens.</summary>
    public static IEnumerable<long> Stream(MiniMindForCausalLM model, IReadOnlyList<long> promptIds, GenerationOptions? options = null)
    {
        options ??= new GenerationOptions();
        if (promptIds.Count == 0) throw new ArgumentException("the prompt is empty", nameof(promptIds));
        var random = options.Seed is { } s ? new Random(s) : new Random();
        var room = model.Config.MaxPositionEmbeddings - promptIds.Count;
        var limit = Math.Min(options.MaxNewTokens, room);
        if (limit <= 0) yield break;

        using var decoder = new IncrementalDecoder(model, options.UseCache, promptIds.Count + limit, options.FastDecode);
        var logits = decoder.Feed(promptIds);
        for (var i = 0; i < limit; i++)
        {
            var next = options.Greedy ? Sampling.Argmax(logits) : Sampling.TopP(logits, options.Temperature, options.TopP, random);
            yield return next;
            if (next == options.EosTokenId || i + 1 == limit) yield break;
            logits = decoder.Feed([next]);
        }
    }
}
