using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;

namespace MiniMind.Tests.Common;

/// <summary>Finds implicit TorchSharp Scalars by reading IL: every call in an assembly that converts a number to a
/// Scalar, or that calls a TorchSharp method which makes one inside (transitively inside TorchSharp). Such a Scalar is
/// referenced by nothing during the native call, so the GC may finalise it mid-call (dotnet/TorchSharp#1434, #1496).
/// Used by Model.Tests (MiniMind.Model) and Actors.Tests (MiniMind.Actors), linked into both.</summary>
public static class ImplicitScalarScan
{
    /// <summary>"Type.Method → callee" for every call in <paramref name="assembly"/> that makes an implicit Scalar.</summary>
    public static List<string> Sites(Assembly assembly)
    {
        var sites = new List<string>();
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetTypes())
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
                foreach (var callee in Callees(method))
                    if (IsImplicitConversion(callee) || (IsTorchSharp(callee) && Implementations(callee).Any(m => MakesScalarInside(m, 0))))
                        sites.Add($"{type.FullName}.{method.Name} → {callee.DeclaringType?.Name}.{callee.Name}({string.Join(", ", callee.GetParameters().Select(p => p.ParameterType.Name))})");
        return [.. sites.Distinct()];
    }

    /// <summary>The callee, and for a virtual TorchSharp method every TorchSharp override of it (IL names the declaring
    /// method, <c>Optimizer.step</c>, not the AdamW that runs). Only at the call site: deeper virtual calls are not expanded.</summary>
    static IEnumerable<MethodBase> Implementations(MethodBase callee)
    {
        yield return callee;
        if (callee is not MethodInfo { IsVirtual: true, IsFinal: false } virtualMethod || callee.DeclaringType is not { } declaring) yield break;
        var parameters = callee.GetParameters().Select(p => p.ParameterType).ToArray();
        foreach (var type in TorchSharpTypes.Value.Where(t => t != declaring && declaring.IsAssignableFrom(t)))
            if (type.GetMethod(callee.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly, parameters) is { } m
                && m.GetBaseDefinition() == virtualMethod.GetBaseDefinition())
                yield return m;
    }

    static readonly Lazy<Type[]> TorchSharpTypes = new(() =>
    {
        try { return typeof(Scalar).Assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { return [.. e.Types.OfType<Type>()]; }
    });

    static bool IsTorchSharp(MethodBase m) => m.DeclaringType?.Assembly == typeof(Scalar).Assembly;

    static bool IsImplicitConversion(MethodBase m) => m.DeclaringType == typeof(Scalar) && m.Name == "op_Implicit";

    static bool MakesScalar(MethodBase m) =>
        IsImplicitConversion(m) || (m.DeclaringType?.Name == "ScalarExtensionMethods" && m.Name == "ToScalar");

    /// <summary>TorchSharp methods that make a Scalar and keep it referenced until the native call returns (read in
    /// TorchSharp 0.107's source), or that never reach such a call on our paths.</summary>
    static readonly HashSet<string> SafeInside = [];

    static readonly Dictionary<MethodBase, bool> Memo = [];

    /// <summary>Whether a TorchSharp method makes a Scalar in its body or in a TorchSharp method it calls (depth ≤ 4).</summary>
    static bool MakesScalarInside(MethodBase m, int depth)
    {
        if (SafeInside.Contains($"{m.DeclaringType?.Name}.{m.Name}")) return false;
        if (Memo.TryGetValue(m, out var known)) return known;
        Memo[m] = false;                                                       // cycles
        var result = depth < 4 && Callees(m).Any(c => MakesScalar(c) || (IsTorchSharp(c) && MakesScalarInside(c, depth + 1)));
        Memo[m] = result;
        return result;
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The methods a body calls (call, callvirt, newobj, ldftn), read from its IL.</summary>
    static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { il = null; }
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var i = 0;
        while (i < il.Length)
        {
            short value = il[i++];
            if (value == 0xFE) value = unchecked((short)(0xFE00 | il[i++]));
            var op = OpCodesByValue[value];
            var size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (ArgumentException) { }
                if (callee is not null) yield return callee;
            }
            i += size;
        }
    }
}
