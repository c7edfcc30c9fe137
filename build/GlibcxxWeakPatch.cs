// Makes TorchSharp's native libLibTorchSharp.so load on systems whose libstdc++ predates GLIBCXX_3.4.32
// (GCC 12: Debian 12, Ubuntu 22.04).
//
// TorchSharp 0.107's libLibTorchSharp.so lists GLIBCXX_3.4.32 in its .gnu.version_r section for a single
// symbol (_ZSt21ios_base_library_initv) that it never relocates. glibc refuses to load a library whose
// required version is missing unless that requirement is marked weak (VER_FLG_WEAK). We set that flag in
// the copy that the application loads (the build/publish output), never in the NuGet cache, and only when
// the machine's libstdc++ lacks the version. See ../shared/notes/torchsharp.md §1.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (Directory.Build.targets) as the
// WeakenGlibcxxRequirement task, and into the test project (with MINIMIND_NO_MSBUILD) to test the patcher.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace MiniMind.Build
{
    public enum PatchOutcome { NotElf, NoRequirement, AlreadyWeak, Patched }

    public static class ElfVersionPatch
    {
        public const string Version = "GLIBCXX_3.4.32";
        const ushort VerFlgWeak = 0x2;
        const uint ShtGnuVerneed = 0x6ffffffe;

        static readonly string[] LibStdCxxCandidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
            "/lib64/libstdc++.so.6",
        };

        /// <summary>The system libstdc++ the dynamic loader will pick, or null when none is found.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (var path in LibStdCxxCandidates)
                if (File.Exists(path)) return path;
            return null;
        }

        /// <summary>True when the ELF file defines the symbol version (its name appears NUL-terminated in the file).</summary>
        public static bool DefinesVersion(string libraryPath, string version)
        {
            var needle = Encoding.ASCII.GetBytes(version + "\0");
            var bytes = File.ReadAllBytes(libraryPath);
            return IndexOf(bytes, needle) >= 0;
        }

        /// <summary>Whether the loader on this machine needs the requirement weakened.</summary>
        public static bool SystemNeedsPatch()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return false;
            var lib = FindSystemLibStdCxx();
            return lib != null && !DefinesVersion(lib, Version);
        }

        /// <summary>Reads the version requirements of an ELF64 little-endian file: (library, version, flags).</summary>
        public static List<(string File, string Version, ushort Flags)> ReadRequirements(byte[] elf)
        {
            var result = new List<(string, string, ushort)>();
            foreach (var (_, file, version, flags) in Vernaux(elf))
                result.Add((file, version, flags));
            return result;
        }

        /// <summary>Marks the requirement on <paramref name="version"/> weak, in memory. Idempotent.</summary>
        public static PatchOutcome Patch(byte[] elf, string version = Version)
        {
            if (!IsElf64Le(elf)) return PatchOutcome.NotElf;
            var outcome = PatchOutcome.NoRequirement;
            foreach (var (flagsOffset, _, name, flags) in Vernaux(elf))
            {
                if (name != version) continue;
                if ((flags & VerFlgWeak) != 0) { if (outcome == PatchOutcome.NoRequirement) outcome = PatchOutcome.AlreadyWeak; continue; }
                WriteU16(elf, flagsOffset, (ushort)(flags | VerFlgWeak));
                outcome = PatchOutcome.Patched;
            }
            return outcome;
        }

        /// <summary>Patches a file on disk. The new bytes go to a temp file that replaces the original,
        /// so a hard link into the NuGet cache is never written through. The patched copy keeps the original's
        /// size and modification time, so MSBuild's incremental copy (same size and time = unchanged) leaves it alone
        /// in later builds instead of copying the unpatched file over it again while a process may be loading it.</summary>
        public static PatchOutcome PatchFile(string path, string version = Version)
        {
            var bytes = File.ReadAllBytes(path);
            var outcome = Patch(bytes, version);
            if (outcome != PatchOutcome.Patched) return outcome;
            var stamp = File.GetLastWriteTimeUtc(path);
            var tmp = path + ".weak-tmp";
            File.WriteAllBytes(tmp, bytes);
            File.SetLastWriteTimeUtc(tmp, stamp);
            File.Delete(path);
            File.Move(tmp, path);
            return outcome;
        }

        static bool IsElf64Le(byte[] b) =>
            b.Length > 64 && b[0] == 0x7f && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F' && b[4] == 2 && b[5] == 1;

        // Yields (file offset of vna_flags, needed library, version name, flags) for every vernaux entry.
        static IEnumerable<(int FlagsOffset, string File, string Version, ushort Flags)> Vernaux(byte[] elf)
        {
            if (!IsElf64Le(elf)) yield break;
            var shoff = checked((int)ReadU64(elf, 0x28));
            int shentsize = ReadU16(elf, 0x3A), shnum = ReadU16(elf, 0x3C);
            for (var i = 0; i < shnum; i++)
            {
                var sh = shoff + i * shentsize;
                if (ReadU32(elf, sh + 4) != ShtGnuVerneed) continue;
                var secOffset = checked((int)ReadU64(elf, sh + 24));
                var count = ReadU32(elf, sh + 44);
                var strtab = shoff + (int)ReadU32(elf, sh + 40) * shentsize;
                var strOffset = checked((int)ReadU64(elf, strtab + 24));

                var vn = secOffset;
                for (var n = 0; n < count; n++)
                {
                    var file = ReadCString(elf, strOffset + (int)ReadU32(elf, vn + 4));
                    var auxCount = ReadU16(elf, vn + 2);
                    var aux = vn + (int)ReadU32(elf, vn + 8);
                    for (var a = 0; a < auxCount; a++)
                    {
                        var name = ReadCString(elf, strOffset + (int)ReadU32(elf, aux + 8));
                        yield return (aux + 4, file, name, ReadU16(elf, aux + 4));
                        var next = ReadU32(elf, aux + 12);
                        if (next == 0) break;
                        aux += (int)next;
                    }
                    var vnNext = ReadU32(elf, vn + 12);
                    if (vnNext == 0) break;
                    vn += (int)vnNext;
                }
            }
        }

        static ushort ReadU16(byte[] b, int o) => (ushort)(b[o] | b[o + 1] << 8);
        static uint ReadU32(byte[] b, int o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        static ulong ReadU64(byte[] b, int o) => ReadU32(b, o) | (ulong)ReadU32(b, o + 4) << 32;
        static void WriteU16(byte[] b, int o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }

        static string ReadCString(byte[] b, int o)
        {
            var end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, o, end - o);
        }

        static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (var i = 0; i <= haystack.Length - needle.Length; i++)
            {
                var j = 0;
                while (j < needle.Length && haystack[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }
    }

#if !MINIMIND_NO_MSBUILD
    /// <summary>MSBuild task: weakens the requirement in every given libLibTorchSharp.so copy when the system needs it.</summary>
    public class WeakenGlibcxxRequirement : Microsoft.Build.Utilities.Task
    {
        public string[] Files { get; set; } = Array.Empty<string>();

        public override bool Execute()
        {
            if (!ElfVersionPatch.SystemNeedsPatch())
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                    "libstdc++ has " + ElfVersionPatch.Version + " (or this is not Linux): libLibTorchSharp.so left as shipped.");
                return true;
            }
            foreach (var file in Files)
            {
                if (!File.Exists(file)) continue;
                var outcome = ElfVersionPatch.PatchFile(file);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    "libLibTorchSharp.so (" + file + "): " + outcome + " (" + ElfVersionPatch.Version + " requirement marked weak)");
            }
            return true;
        }
    }
#endif
}
