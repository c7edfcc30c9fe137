using System.CommandLine;
using System.Globalization;
using System.Text;

namespace MiniMind.Cli;

/// <summary>
/// MiniMind's trainer flags (trainer/train_*.py, snake_case) accepted by every <c>train &lt;stage&gt;</c> verb, so a
/// MiniMind command line runs with <c>python trainer/train_x.py</c> replaced by <c>minimind train x</c>. The kebab-case
/// names stay the documented form: before parsing, <see cref="Rewrite"/> turns each alias into its kebab-case flag
/// (also <c>--flag=value</c>), maps MiniMind's <c>--dtype</c> names, and drops the flags that have no meaning here
/// with a one-line note each. The help lists the aliases once (<see cref="AddHelp"/>), not in every option line.
/// </summary>
public static class MiniMindFlags
{
    /// <summary>MiniMind's flag → ours. Flags spelled the same in both (--epochs, --device, --dtype) need no entry.</summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--batch_size"] = "--batch-size",
        ["--learning_rate"] = "--learning-rate",
        ["--accumulation_steps"] = "--accumulation-steps",
        ["--grad_clip"] = "--grad-clip",
        ["--max_seq_len"] = "--max-seq-len",
        ["--data_path"] = "--data",
        ["--save_interval"] = "--save-interval",
        ["--log_interval"] = "--log-interval",
        ["--out_dir"] = "--run-dir",
        ["--save_dir"] = "--run-dir",
        ["--save_weight"] = "--save-weight",
        ["--hidden_size"] = "--hidden-size",
        ["--num_hidden_layers"] = "--num-hidden-layers",
        ["--use_moe"] = "--use-moe",
        ["--from_weight"] = "--from-weight",
        ["--from_resume"] = "--from-resume",
        ["--lora_name"] = "--lora-name",
        ["--num_generations"] = "--num-generations",
        ["--loss_type"] = "--loss-type",
        ["--epsilon_high"] = "--epsilon-high",
        ["--max_gen_len"] = "--max-gen-len",
        ["--thinking_ratio"] = "--thinking-ratio",
        ["--eval_data"] = "--eval-data",
        ["--eval_interval"] = "--eval-interval",
        ["--eval_batches"] = "--eval-batches",
    };

    /// <summary>MiniMind flags accepted and ignored: whether they take a value, and the note printed once.</summary>
    static readonly IReadOnlyDictionary<string, (bool TakesValue, string Note)> Ignored = new Dictionary<string, (bool, string)>(StringComparer.Ordinal)
    {
        ["--use_wandb"] = (false, WandbNote("--use_wandb")),
        ["--use-wandb"] = (false, WandbNote("--use-wandb")),
        ["--wandb_project"] = (true, "note: --wandb_project: ignored (no wandb here; see the dashboard at the control URL)"),
        ["--num_workers"] = (true, "note: --num_workers: ignored; one data-loader actor reads memory-mapped token shards ahead of the steps"),
        ["--use_compile"] = (true, "note: --use_compile: ignored (no torch.compile in TorchSharp)"),
        ["--reward_model_path"] = (true, "note: --reward_model_path: ignored (no local reward model here); serve one over HTTP and pass --reward-url (README: reward protocol)"),
        ["--rollout_engine"] = (true, "note: --rollout_engine: ignored; rollouts run on the workers' rollout path (KV cache), data-parallel over the cluster"),
        ["--sglang_base_url"] = (true, "note: --sglang_base_url: ignored (no SGLang here)"),
        ["--sglang_model_path"] = (true, "note: --sglang_model_path: ignored (no SGLang here)"),
        ["--sglang_shared_path"] = (true, "note: --sglang_shared_path: ignored (no SGLang here)"),
        ["--debug_mode"] = (false, "note: --debug_mode: ignored (MINIMIND_DEBUG=1 for stack traces)"),
        ["--debug_interval"] = (true, "note: --debug_interval: ignored"),
    };

    /// <summary>What --use_wandb does here: every step goes to TensorBoard and the dashboard (issue 14).</summary>
    public static string WandbNote(string flag) =>
        $"note: {flag}: no wandb/swanlab service is reachable here; every step's loss, lr, grad norm and tok/s are logged to TensorBoard " +
        "(tensorboard --logdir <run dir>/tensorboard) and the dashboard at the control URL in the header; export: minimind run metrics --run-dir <run dir>";

    /// <summary>MiniMind's --dtype names → ours. MiniMind autocasts to its --dtype on CUDA only (on CPU it trains in
    /// float32 whatever the flag says), so its names mean auto: bf16 where the device computes it natively and the model
    /// is big enough to gain, else fp32. float16 (with a GradScaler) does not exist here; it means auto too.</summary>
    static readonly IReadOnlyDictionary<string, string> Dtypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["bfloat16"] = "auto",
        ["float16"] = "auto",
        ["float32"] = "fp32",
    };

    /// <summary>True when <paramref name="args"/> is a <c>train &lt;stage&gt;</c> command line (the only verbs that take the aliases).</summary>
    public static bool IsTrainStage(IReadOnlyList<string> args) =>
        args.Count >= 2 && args[0] == "train" && (MiniMind.Actors.Stages.TrainingStage.All.Any(s => s.Name == args[1]) || ScriptNames.ContainsKey(args[1]));

    /// <summary>MiniMind's trainer script names (train_&lt;name&gt;.py) that differ from our stage verbs, as verb aliases.</summary>
    public static readonly IReadOnlyDictionary<string, string> ScriptNames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["full_sft"] = "sft",
        ["distillation"] = "distill",
        ["distill_reason"] = "reason",
    };

    /// <summary>The command line with MiniMind's flags in our spelling; the notes for the ignored ones go to <paramref name="notes"/>.</summary>
    public static string[] Rewrite(IReadOnlyList<string> args, TextWriter? notes)
    {
        var result = new List<string>(args.Count);
        var said = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--") { result.AddRange(args.Skip(i)); break; }
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = arg.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
            if (Ignored.TryGetValue(name, out var ignored))
            {
                if (ignored.TakesValue && value is null && i + 1 < args.Count) i++;
                if (said.Add(name)) notes?.WriteLine(ignored.Note);
                continue;
            }
            if (Aliases.TryGetValue(name, out var ours)) name = ours;
            if (name == "--dtype")
            {
                if (value is not null) value = Dtypes.GetValueOrDefault(value, value);
                else if (i + 1 < args.Count)
                {
                    result.Add(name);
                    result.Add(Dtypes.GetValueOrDefault(args[++i], args[i]));
                    continue;
                }
            }
            result.Add(value is null ? name : $"{name}={value}");
        }
        return [.. result];
    }

    /// <summary>The help section every stage verb ends with: MiniMind's flag names and what they stand for here.</summary>
    public static string HelpSection()
    {
        var sb = new StringBuilder("MiniMind flags (accepted as aliases, so MiniMind's command lines run unchanged):\n");
        foreach (var group in Aliases.GroupBy(a => a.Value))
            sb.Append(CultureInfo.InvariantCulture, $"  {string.Join(", ", group.Select(a => a.Key)),-28} = {group.Key}\n");
        sb.Append("  --epochs, --device           as here; --dtype also takes MiniMind's bfloat16/float16 (= auto) and float32 (= fp32)\n");
        sb.Append("  train full_sft, train distillation, train distill_reason = train sft, distill, reason (MiniMind's script names)\n");
        sb.Append("  --use_wandb (TensorBoard + dashboard), --wandb_project, --num_workers, --use_compile   accepted and ignored (a note says so)");
        return sb.ToString();
    }

    /// <summary>Appends <see cref="HelpSection"/> to the description of every stage verb under <c>train</c>.</summary>
    public static void AddHelp(Command root)
    {
        var train = root.Subcommands.FirstOrDefault(c => c.Name == "train");
        if (train is null) return;
        foreach (var stage in train.Subcommands.Where(c => MiniMind.Actors.Stages.TrainingStage.All.Any(s => s.Name == c.Name)))
        {
            foreach (var (script, verb) in ScriptNames)
                if (verb == stage.Name) stage.Aliases.Add(script);
            stage.Description = $"{stage.Description}\n\n{HelpSection()}";
        }
    }
}
