using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// Copies a state dict into a module's existing parameters and buffers, like PyTorch's
/// <c>load_state_dict(strict=True)</c>, with MiniMind's tied weight handled for every file layout:
/// <list type="bullet">
/// <item>a torch.save .pth of a tied model: both keys, one storage;</item>
/// <item>MiniMind's fp16 trainer checkpoints: both keys, two separate (equal) copies;</item>
/// <item>safetensors: <c>lm_head.weight</c> omitted.</item>
/// </list>
/// Keys the module holds as one tensor (a tie) are loaded once, from whichever of them the checkpoint has.
/// Everything is checked before anything is copied, so a failed load leaves the module unchanged; the error
/// (<see cref="StateDictMismatchException"/>) lists every problem. Values are copied under no_grad into the
/// module's own tensors (converted to their dtype and device), so the tie and any optimizer that already holds
/// the parameters stay valid.
/// </summary>
public static class StateDictLoader
{
    /// <summary>Loads <paramref name="source"/> into <paramref name="module"/>. <paramref name="sourceName"/>
    /// (usually the file path) is named in every error.</summary>
    public static StateDictLoadResult LoadInto(nn.Module module, IDictionary<string, Tensor> source, string sourceName, StateDictLoadOptions? options = null)
    {
        options ??= StateDictLoadOptions.Default;
        var target = module.state_dict();
        var groups = TieGroups(target);

        var missing = new List<string>();
        var shapes = new List<ShapeMismatch>();
        var differing = new List<string>();
        var notes = new List<string>();
        var plan = new List<(Tensor From, Tensor Into, IReadOnlyList<string> Keys)>();

        // A module that does not tie lm_head to the embedding still gets the tied value from a file that
        // omits lm_head.weight (safetensors), as the file's writer intended.
        var fillHeadFromEmbedding = !source.ContainsKey(TiedWeights.LmHead) && source.ContainsKey(TiedWeights.Embedding)
            && target.ContainsKey(TiedWeights.LmHead) && target.ContainsKey(TiedWeights.Embedding)
            && !groups.Any(g => g.Contains(TiedWeights.LmHead) && g.Contains(TiedWeights.Embedding));

        foreach (var keys in groups)
        {
            var present = keys.Where(source.ContainsKey).ToList();
            if (present.Count == 0 && fillHeadFromEmbedding && keys is [TiedWeights.LmHead])
            {
                present = [TiedWeights.Embedding];
                notes.Add($"{TiedWeights.LmHead} set from {TiedWeights.Embedding} (the checkpoint omits the tied head; this module does not tie them)");
            }
            if (present.Count == 0)
            {
                missing.AddRange(keys);
                continue;
            }

            var into = target[keys[0]];
            var shapeOk = true;
            foreach (var key in present)
            {
                if (!source[key].shape.SequenceEqual(into.shape))
                {
                    shapes.Add(new ShapeMismatch(keys.Contains(key) ? key : keys[0], source[key].shape, into.shape));
                    shapeOk = false;
                }
            }
            if (!shapeOk) continue;

            var from = source[present[^1]]; // the later key, as PyTorch's load_state_dict would leave it
            if (present.Count > 1)
            {
                var first = source[present[0]];
                var same = TiedWeights.SameTensor(first, from) || TiedWeights.SameValues(first, from);
                if (!same)
                {
                    var detail = $"{present[0]} vs {present[^1]}: {MaxAbsDiff(first, from)}";
                    if (options.AllowDifferingTiedCopies) notes.Add($"tied copies differ ({detail}); loaded {present[^1]}");
                    else
                    {
                        differing.Add(detail);
                        continue;
                    }
                }
            }
            if (keys.Count > 1 && present.Count < keys.Count)
                notes.Add($"{string.Join(", ", keys.Except(present))} re-tied to {present[0]} (the module shares one tensor for {string.Join(" and ", keys)})");
            plan.Add((from, into, keys));
        }

        var targetKeys = target.Keys.ToHashSet();
        var unexpected = source.Keys.Where(k => !targetKeys.Contains(k)).ToList();

        if (shapes.Count > 0 || differing.Count > 0 || (options.Strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new StateDictMismatchException(sourceName, missing, unexpected, shapes, differing);

        using (torch.no_grad())
        {
            foreach (var (from, into, _) in plan) into.copy_(from);
        }
        return new StateDictLoadResult(plan.SelectMany(p => p.Keys).ToList(), missing, unexpected, notes);
    }

    /// <summary>Reads <paramref name="path"/> (.pth or .safetensors) and loads it into <paramref name="module"/>.</summary>
    public static StateDictLoadResult LoadFile(nn.Module module, string path, StateDictLoadOptions? options = null)
    {
        var stateDict = StateDictFile.Read(path);
        try
        {
            return LoadInto(module, stateDict, path, options);
        }
        finally
        {
            foreach (var t in stateDict.Values) t.Dispose();
        }
    }

    /// <summary>The module's state-dict keys grouped by the tensor they name, in module order: a tied weight
    /// is one group with two keys.</summary>
    static List<List<string>> TieGroups(Dictionary<string, Tensor> target)
    {
        var groups = new List<List<string>>();
        var index = new Dictionary<string, int>();
        foreach (var (key, tensor) in target)
        {
            var handle = $"h{tensor.Handle}";
            var view = tensor.device_type == DeviceType.CPU && tensor.numel() > 0
                ? $"v{TiedWeights.StorageAddress(tensor)}:{tensor.storage_offset()}:{tensor.dtype}:{string.Join(",", tensor.shape)}:{string.Join(",", tensor.stride())}"
                : handle;
            if (index.TryGetValue(handle, out var i) || index.TryGetValue(view, out i)) groups[i].Add(key);
            else
            {
                i = groups.Count;
                groups.Add([key]);
            }
            index[handle] = i;
            index[view] = i;
        }
        return groups;
    }

    static string MaxAbsDiff(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return "different shapes";
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
        return $"max |diff| {d.ToString("g", System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
