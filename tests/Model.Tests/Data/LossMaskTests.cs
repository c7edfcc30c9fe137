using MiniMind.Model.Data;
using Xunit;

namespace MiniMind.Model.Tests.Data;

/// <summary>Hand-sized cases of MiniMind's _generate_loss_mask (bos = [1, 7], eos = [2]).</summary>
public sealed class LossMaskTests
{
    static readonly int[] s_bos = [1, 7];
    static readonly int[] s_eos = [2];

    [Fact]
    public void Mask_should_cover_content_end_and_the_token_after_but_not_the_header_newline()
    {
        //            0  1  2  3  4  5  6  7  8
        int[] ids = [9, 1, 7, 5, 6, 6, 2, 5, 0];
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 0], LossMask.Generate(ids, s_bos, s_eos, ids.Length));
    }

    [Fact]
    public void Mask_without_an_end_should_run_to_the_last_position()
    {
        int[] ids = [1, 7, 5, 6, 6, 6];
        Assert.Equal([0, 0, 0, 1, 1, 1], LossMask.Generate(ids, s_bos, s_eos, ids.Length));
    }

    [Fact]
    public void Content_starting_with_the_end_token_masks_just_it_and_the_next()
    {
        // The end search starts at the header's end, so an end right after "\n" (position 3) is found at once.
        int[] ids = [1, 7, 5, 2, 5, 6, 2, 5];
        Assert.Equal([0, 0, 0, 1, 1, 0, 0, 0], LossMask.Generate(ids, s_bos, s_eos, ids.Length));
    }

    [Fact]
    public void Two_turns_should_both_be_masked()
    {
        int[] ids = [1, 7, 5, 6, 2, 5, 3, 1, 7, 5, 6, 2, 5];
        Assert.Equal([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1], LossMask.Generate(ids, s_bos, s_eos, ids.Length));
    }

    [Fact]
    public void Truncate_or_pad_should_cut_right_and_pad_right()
    {
        Assert.Equal([1, 2, 3], LossMask.TruncateOrPad([1, 2, 3, 4], 3, 0));
        Assert.Equal([1, 2, 0, 0], LossMask.TruncateOrPad([1, 2], 4, 0));
    }
}
