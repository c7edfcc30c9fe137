// dotnet run train_ours.cs -- TEXTS.txt OUT.merges.txt
// The same training with our BpeTrainer (no special tokens, vocab large enough to run out of pairs); writes one merge per
// line as "left right" (tokens never contain a raw space or newline in the byte-level alphabet).
#:project ../../src/Model/MiniMind.Model.csproj
using MiniMind.Model.Tokenizer;

var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 30000, SpecialTokens = [] });
var all = File.ReadAllText(args[0]);
for (var start = 0; start < all.Length;)
{
    var nl = all.IndexOf('\n', start);
    var end = nl < 0 ? all.Length : nl + 1; // keep the "\n", as HF's file reader does
    trainer.Feed(all[start..end]);
    start = end;
}
var result = trainer.Train();
File.WriteAllLines(args[1], result.Merges.Select(m => $"{m.Left} {m.Right}"));
Console.WriteLine($"{result.Merges.Count} merges");
