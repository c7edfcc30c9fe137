using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// One <c>PretrainDataset</c> item: <c>tokenizer(text, max_length, padding='max_length', truncation=True)</c>,
/// mask = ids != pad, then <c>X = ids[:-1]</c>, <c>Y = ids[1:]</c>, <c>loss_mask = mask[1:]</c>.
/// </summary>
public sealed record PretrainSample(int[] TextIds, int[] InputIds, int[] LossMask, int[] X, int[] Y, int[] LossMaskShifted)
{
    /// <summary>From the text's untruncated ids.</summary>
    public static PretrainSample FromIds(int[] textIds, int maxLength, int padId)
    {
        ArgumentNullException.ThrowIfNull(textIds);
        var inputIds = Data.LossMask.TruncateOrPad(textIds, maxLength, padId);
        var mask = Data.LossMask.NonPadding(inputIds, padId);
        return new PretrainSample(textIds, inputIds, mask,
            Data.LossMask.Inputs(inputIds), Data.LossMask.Targets(inputIds), Data.LossMask.Shifted(mask));
    }

    /// <summary>Tokenizes <paramref name="text"/> (special-token strings become their ids, as MiniMind trains).</summary>
    public static PretrainSample Build(BpeTokenizer tokenizer, string text, int maxLength, int padId)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return FromIds(tokenizer.Encode(text), maxLength, padId);
    }
}
