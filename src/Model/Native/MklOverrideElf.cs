using System.Buffers.Binary;
using System.Text;

namespace MiniMind.Model.Native;

/// <summary>Writes, byte by byte, the smallest x86-64 ELF shared library that glibc's <c>dlopen</c> accepts and that
/// exports one function <c>int name(void) { return 1; }</c>. It is what <c>gcc -shared</c> would build from that line
/// of C, without needing a C compiler on the user's machine: no sections, no relocations, no dependencies, just
/// <list type="bullet">
/// <item>page 0 (read + execute): ELF header, 4 program headers, a SysV hash table, the symbol and string tables,
/// and the code <c>mov eax, 1; ret</c>;</item>
/// <item>page 1 (read + write, as glibc may relocate the dynamic section in place): the dynamic section.</item>
/// </list>
/// PT_GNU_STACK marks the stack non-executable (without it glibc would make the thread stacks executable).</summary>
public static class MklOverrideElf
{
    const int PageSize = 0x1000;
    const int EhdrSize = 64, PhdrSize = 56, SymSize = 24, DynSize = 16;
    const uint PtLoad = 1, PtDynamic = 2, PtGnuStack = 0x6474e551;
    const uint PfX = 1, PfW = 2, PfR = 4;
    const long DtNull = 0, DtHash = 4, DtStrtab = 5, DtSymtab = 6, DtStrsz = 10, DtSyment = 11, DtSoname = 14;

    /// <summary>mov eax, 1; ret</summary>
    static readonly byte[] ReturnOne = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];

    /// <summary>The library image: <paramref name="symbol"/> is a global function returning 1; <paramref name="soname"/>
    /// is its DT_SONAME.</summary>
    public static byte[] Build(string symbol, string soname)
    {
        const int phnum = 4;
        const int hashOff = EhdrSize + phnum * PhdrSize;                     // 0x120
        const int hashSize = 5 * 4;                                           // nbucket, nchain, bucket[1], chain[2]
        const int symOff = (hashOff + hashSize + 7) & ~7;
        const int strOff = symOff + 2 * SymSize;                              // symbol 0 is the null symbol
        var strtab = Encoding.ASCII.GetBytes($"\0{symbol}\0{soname}\0");
        var symName = 1;
        var sonameOff = 1 + symbol.Length + 1;
        var codeOff = (strOff + strtab.Length + 15) & ~15;
        var textEnd = codeOff + ReturnOne.Length;
        if (textEnd > PageSize) throw new ArgumentException("symbol or soname too long for a one-page library");
        const int dynOff = PageSize;
        const int dynCount = 7;
        const int dynSize = dynCount * DynSize;
        var elf = new byte[dynOff + dynSize];
        var s = elf.AsSpan();

        // ELF header: 64-bit, little-endian, current version, System V ABI; a shared object for x86-64.
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 2; s[5] = 1; s[6] = 1;
        U16(s, 16, 3);                                                        // e_type ET_DYN
        U16(s, 18, 62);                                                       // e_machine EM_X86_64
        U32(s, 20, 1);                                                        // e_version
        U64(s, 32, EhdrSize);                                                 // e_phoff
        U16(s, 52, EhdrSize);                                                 // e_ehsize
        U16(s, 54, PhdrSize);                                                 // e_phentsize
        U16(s, 56, phnum);                                                    // e_phnum
        U16(s, 58, 64);                                                       // e_shentsize (no sections: e_shnum 0)

        Phdr(s, 0, PtLoad, PfR | PfX, 0, textEnd, PageSize);
        Phdr(s, 1, PtLoad, PfR | PfW, dynOff, dynSize, PageSize);
        Phdr(s, 2, PtDynamic, PfR | PfW, dynOff, dynSize, 8);
        Phdr(s, 3, PtGnuStack, PfR | PfW, 0, 0, 16);

        // SysV hash: one bucket pointing at symbol 1; both chains end.
        U32(s, hashOff, 1); U32(s, hashOff + 4, 2); U32(s, hashOff + 8, 1);

        // Symbol 1: GLOBAL FUNC, defined (any section index but SHN_UNDEF), value = the code's address.
        var sym = symOff + SymSize;
        U32(s, sym, (uint)symName);
        s[sym + 4] = (1 << 4) | 2;                                            // st_info STB_GLOBAL, STT_FUNC
        U16(s, sym + 6, 1);                                                   // st_shndx
        U64(s, sym + 8, (ulong)codeOff);                                      // st_value
        U64(s, sym + 16, (ulong)ReturnOne.Length);                            // st_size

        strtab.CopyTo(s[strOff..]);
        ReturnOne.CopyTo(s[codeOff..]);

        (long Tag, long Value)[] dynamic =
        [
            (DtHash, hashOff), (DtStrtab, strOff), (DtSymtab, symOff), (DtStrsz, strtab.Length), (DtSyment, SymSize),
            (DtSoname, sonameOff), (DtNull, 0),
        ];
        for (var i = 0; i < dynamic.Length; i++)
        {
            U64(s, dynOff + i * DynSize, (ulong)dynamic[i].Tag);
            U64(s, dynOff + i * DynSize + 8, (ulong)dynamic[i].Value);
        }
        return elf;
    }

    /// <summary>A program header whose file offset equals its virtual address (the library is mapped at one base).</summary>
    static void Phdr(Span<byte> s, int index, uint type, uint flags, long offset, long size, long align)
    {
        var p = EhdrSize + index * PhdrSize;
        U32(s, p, type);
        U32(s, p + 4, flags);
        U64(s, p + 8, (ulong)offset);                                         // p_offset
        U64(s, p + 16, (ulong)offset);                                        // p_vaddr
        U64(s, p + 24, (ulong)offset);                                        // p_paddr
        U64(s, p + 32, (ulong)size);                                          // p_filesz
        U64(s, p + 40, (ulong)size);                                          // p_memsz
        U64(s, p + 48, (ulong)align);
    }

    static void U16(Span<byte> s, int at, int v) => BinaryPrimitives.WriteUInt16LittleEndian(s[at..], (ushort)v);
    static void U32(Span<byte> s, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], v);
    static void U64(Span<byte> s, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(s[at..], v);
}
