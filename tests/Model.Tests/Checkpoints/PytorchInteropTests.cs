using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>Files made by real PyTorch (Debian's 1.13, <c>/usr/bin/python3</c>) read right, and files we write
/// load in real PyTorch. Each test is one child process; a missing python3-torch fails the test.</summary>
public class PytorchInteropTests
{
    static readonly FixtureSet Dense = new("dense_tiny");
    static readonly FixtureSet Moe = new("moe_tiny");

    // Builds a module tree whose state-dict keys are exactly those of sd, tied the MiniMind way.
    const string BuildModule = """
        import torch.nn as nn
        def build(sd):
            root = nn.Module()
            for k, v in sd.items():
                *path, leaf = k.split('.')
                m = root
                for p in path:
                    if not hasattr(m, p):
                        m.add_module(p, nn.Module())
                    m = getattr(m, p)
                m.register_parameter(leaf, nn.Parameter(torch.zeros_like(v, dtype=torch.float32)))
            root.model.embed_tokens.weight = root.lm_head.weight
            return root

        """;

    [Fact]
    public void Files_made_by_pytorch_read_correctly()
    {
        using var dir = new TempDir();
        PythonTorch.Run(BuildModule + """
            import sys
            fx, d = sys.argv[1], sys.argv[2]
            sd = torch.load(fx)
            # MiniMind's trainers: fp16, two separate copies of the tied weight
            torch.save({k: v.half() for k, v in sd.items()}, d + '/minimind_half.pth')
            # MiniMind's resume dict, with a real AdamW state after one step
            m = build(sd)
            m.load_state_dict(sd)
            opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
            sum((p * p).sum() for p in m.parameters()).backward()
            opt.step()
            torch.save({'model': {k: v.half() for k, v in m.state_dict().items()}, 'optimizer': opt.state_dict(),
                        'epoch': 0, 'step': 3, 'world_size': 1, 'wandb_id': None}, d + '/resume.pth')
            torch.save({k: v.half() for k, v in m.state_dict().items()}, d + '/after_step_half.pth')
            torch.save(sd, d + '/legacy.pth', _use_new_zipfile_serialization=False)
            torch.save(sd, d + '/proto4.pth', pickle_protocol=4)
            torch.save(sd, d + '/proto5.pth', pickle_protocol=5)
            torch.save(dict(m.named_parameters()), d + '/parameters.pth')
            x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
            torch.save({'x': x, 't': x.t(), 'cols': x[:, 1:4], 'row': x[2],
                        'bf16': x.bfloat16(), 'f16': x.half(), 'f64': x.double(), 'i64': x.long(), 'i32': x.int(),
                        'u8': x.to(torch.uint8), 'i8': x.to(torch.int8), 'bool': x > 10, 'scalar': torch.tensor(2.5)},
                       d + '/kinds.pth')
            """, Dense.WeightsPath("pth"), dir.Path);

        var raw = Dense.RawWeights();

        // fp16 MiniMind layout: float16, two storages; re-ties on load into a float32 module
        var half = StateDictFile.Read(dir.File("minimind_half.pth"));
        AssertStateDictsBitEqual(raw.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float16))), half);
        Assert.False(TiedWeights.SameTensor(half[TiedWeights.Embedding], half[TiedWeights.LmHead]));
        var info = ModelInfo.Read(dir.File("minimind_half.pth"));
        Assert.Equal(LmHeadLayout.EqualCopy, info.LmHead);
        Assert.Equal(508224, info.ParameterCount);
        using (var module = new TinyMiniMind(TinyConfig.DenseTiny))
        {
            var before = module.parameters().Select(p => p.Handle).ToList();
            StateDictLoader.LoadFile(module, dir.File("minimind_half.pth"));
            Assert.Equal(before, module.parameters().Select(p => p.Handle).ToList());
            foreach (var (k, v) in module.state_dict()) AssertBitEqual(half[k].to(ScalarType.Float32), v, k);
            Assert.True(TiedWeights.SameTensor(module.state_dict()[TiedWeights.Embedding], module.state_dict()[TiedWeights.LmHead]));
        }

        // resume dict: its 'model' entry, the optimizer state parsed but not loaded
        AssertStateDictsBitEqual(StateDictFile.Read(dir.File("after_step_half.pth")), StateDictFile.Read(dir.File("resume.pth")));
        AssertStateDictsBitEqual(StateDictFile.Read(dir.File("after_step_half.pth")), StateDictFile.Read(dir.File("resume.pth"), "model"));
        var resumeInfo = ModelInfo.Read(dir.File("resume.pth"));
        Assert.Equal("model", resumeInfo.Entry);
        Assert.Equal(508224, resumeInfo.ParameterCount);
        Assert.Equal("", info.Entry);
        var noSuch = Assert.Throws<CheckpointFormatException>(() => StateDictFile.Read(dir.File("resume.pth"), "ema"));
        Assert.Contains("optimizer: dict", noSuch.Message, StringComparison.Ordinal);

        // pickle protocols 4 and 5 (FRAME, MEMOIZE, SHORT_BINUNICODE ...), and Parameters (_rebuild_parameter)
        AssertStateDictsBitEqual(raw, StateDictFile.Read(dir.File("proto4.pth")));
        AssertStateDictsBitEqual(raw, StateDictFile.Read(dir.File("proto5.pth")));
        var parameters = StateDictFile.Read(dir.File("parameters.pth"));
        Assert.Equal(raw.Count - 1, parameters.Count); // named_parameters() lists the tied weight once

        // legacy format
        var legacy = Assert.Throws<CheckpointFormatException>(() => StateDictFile.Read(dir.File("legacy.pth")));
        Assert.Contains("legacy", legacy.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File("legacy.pth"), legacy.Message, StringComparison.Ordinal);

        // views, offsets, strides and dtypes as torch wrote them
        var kinds = StateDictFile.Read(dir.File("kinds.pth"));
        var x = torch.arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        AssertBitEqual(x, kinds["x"], "x");
        AssertBitEqual(x.t(), kinds["t"], "t");
        Assert.Equal([1L, 6L], kinds["t"].stride());
        AssertBitEqual(x[.., 1..4], kinds["cols"], "cols");
        Assert.Equal(1, kinds["cols"].storage_offset());
        AssertBitEqual(x[2], kinds["row"], "row");
        Assert.True(TiedWeights.SameTensor(kinds["x"].t(), kinds["t"]));
        AssertBitEqual(x.to(ScalarType.BFloat16), kinds["bf16"], "bf16");
        AssertBitEqual(x.to(ScalarType.Float16), kinds["f16"], "f16");
        AssertBitEqual(x.to(ScalarType.Float64), kinds["f64"], "f64");
        AssertBitEqual(x.to(ScalarType.Int64), kinds["i64"], "i64");
        AssertBitEqual(x.to(ScalarType.Int32), kinds["i32"], "i32");
        AssertBitEqual(x.to(ScalarType.Byte), kinds["u8"], "u8");
        AssertBitEqual(x.to(ScalarType.Int8), kinds["i8"], "i8");
        AssertBitEqual(x > 10, kinds["bool"], "bool");
        AssertBitEqual(torch.tensor(2.5f), kinds["scalar"], "scalar");
    }

    [Fact]
    public void Files_we_write_load_in_pytorch_with_strict_load_state_dict()
    {
        using var dir = new TempDir();
        var dense = StateDictFile.Read(Dense.WeightsPath("pth"));
        StateDictFile.Write(dir.File("dense.pth"), dense);
        StateDictFile.Write(dir.File("half.pth"), dense, StateDictWriteOptions.MiniMindHalf);
        StateDictFile.Write(dir.File("dense.safetensors"), dense);
        StateDictFile.Write(dir.File("moe.pth"), WithTiedHead([.. StateDictFile.Read(Moe.WeightsPath("safetensors"))]));
        var basis = torch.arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        StateDictFile.Write(dir.File("views.pth"), new OrderedDictionary<string, Tensor>
        {
            ["x"] = basis, ["t"] = basis.t(), ["cols"] = basis[.., 1..4], ["bf16"] = basis.to(ScalarType.BFloat16), ["flags"] = basis > 10,
        });

        var output = PythonTorch.Run(BuildModule + """
            import sys, json, struct
            dense_fx, moe_fx, d = sys.argv[1:4]

            def check(ref, ours, name, tied=True):
                assert list(ref.keys()) == list(ours.keys()), (name, list(ours.keys()))
                for k in ref:
                    assert ref[k].dtype == ours[k].dtype and ref[k].shape == ours[k].shape, (name, k, ours[k].dtype, ours[k].shape)
                    assert torch.equal(ref[k], ours[k]), (name, k)
                same = ours['lm_head.weight'].data_ptr() == ours['model.embed_tokens.weight'].data_ptr()
                assert same == tied, (name, 'tied storage' if tied else 'two copies expected')
                m = build(ref)
                assert set(m.state_dict().keys()) == set(ours.keys()), (name, set(m.state_dict().keys()) ^ set(ours.keys()))
                result = m.load_state_dict(ours, strict=True)
                assert not result.missing_keys and not result.unexpected_keys, result
                for k, v in m.state_dict().items():
                    assert torch.equal(v, ref[k].float()), (name, 'after load_state_dict', k)
                print(name, 'OK', len(ours))

            dense = torch.load(dense_fx)
            check(dense, torch.load(d + '/dense.pth'), 'dense.pth')
            check({k: v.half() for k, v in dense.items()}, torch.load(d + '/half.pth'), 'half.pth', tied=False)
            check(torch.load(moe_fx), torch.load(d + '/moe.pth'), 'moe.pth')

            v = torch.load(d + '/views.pth')
            x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
            assert torch.equal(v['x'], x) and torch.equal(v['t'], x.t()) and v['t'].stride() == (1, 6)
            assert torch.equal(v['cols'], x[:, 1:4]) and v['cols'].storage_offset() == 1
            assert v['t'].data_ptr() == v['x'].data_ptr() and v['cols'].data_ptr() == v['x'].data_ptr() + 4
            assert torch.equal(v['bf16'], x.bfloat16()) and torch.equal(v['flags'], x > 10)
            print('views.pth OK')

            # our safetensors, read by a hand-written parser of the published format
            raw = open(d + '/dense.safetensors', 'rb').read()
            n = struct.unpack('<Q', raw[:8])[0]
            assert n % 8 == 0
            header = json.loads(raw[8:8 + n])
            data = raw[8 + n:]
            assert header.pop('__metadata__')['format'] == 'pt'
            dtypes = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64}
            expected = [k for k in dense if k != 'lm_head.weight']
            assert list(header) == expected, list(header)
            end = 0
            for k, e in header.items():
                b, f = e['data_offsets']
                assert b == end; end = f
                t = torch.frombuffer(bytearray(data[b:f]), dtype=dtypes[e['dtype']]).reshape(e['shape'])
                assert torch.equal(t, dense[k]), k
            assert end == len(data)
            print('dense.safetensors OK')
            """, Dense.WeightsPath("pth"), Moe.WeightsPath("pth"), dir.Path);

        foreach (var line in new[] { "dense.pth OK 21", "half.pth OK 21", "moe.pth OK", "views.pth OK", "dense.safetensors OK" })
            Assert.Contains(line, output, StringComparison.Ordinal);
    }

    /// <summary>A safetensors state dict with lm_head.weight put back as the embedding, at the end, where
    /// MiniMind's state_dict has it.</summary>
    static List<KeyValuePair<string, Tensor>> WithTiedHead(List<KeyValuePair<string, Tensor>> sd) =>
        [.. sd, KeyValuePair.Create(TiedWeights.LmHead, sd.Single(kv => kv.Key == TiedWeights.Embedding).Value)];
}
