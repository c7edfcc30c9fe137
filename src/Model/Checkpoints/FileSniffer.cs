namespace MiniMind.Model.Checkpoints;

internal enum FileKind { Zip, Safetensors }

/// <summary>Tells checkpoint formats apart by their first bytes, not by the file name.</summary>
internal static class FileSniffer
{
    public static FileKind Sniff(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint file not found", path);
        Span<byte> head = stackalloc byte[9];
        int n;
        using (var f = File.OpenRead(path)) n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n == 0) throw new CheckpointFormatException(path, "the file is empty");
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2], head[3]) is (3, 4) or (5, 6)) return FileKind.Zip;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new CheckpointFormatException(path,
                "this is a legacy (non-zip) torch.save file, written by torch < 1.6 or with _use_new_zipfile_serialization=False; " +
                "only the zip format is supported.\nHINT: re-save it with torch >= 1.6: " +
                "python -c \"import torch; torch.save(torch.load('in.pth', map_location='cpu'), 'out.pth')\"");
        if (n == 9 && head[8] == '{') return FileKind.Safetensors;
        throw new CheckpointFormatException(path,
            $"not a checkpoint this reader knows: expected a torch .pth (zip, starting 'PK') or a safetensors file " +
            $"(8-byte header length, then '{{'); the file starts with {Convert.ToHexString(head)}");
    }
}
