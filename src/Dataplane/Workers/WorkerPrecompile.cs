// Every method a worker can run is compiled on the control side before any worker starts.
// vswitchd runs without tiered compilation (Dataplane.csproj), so a method is JIT-compiled on
// the thread that first calls it, and compiling allocates managed memory on that thread now and
// then: the runtime allocates a class's statics and, when its pinned handle table is full, a new
// bucket for it. A worker that met a rare path (its first flood) while the table was full
// allocated 24 624 bytes at once, failing the workers' zero-allocation check one overlay run in
// about twenty. Compiled here, no method is compiled on a worker, and the workers' "jit_methods"
// counter (PollWorker) shows it.
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VSwitch.Dataplane.Workers;

internal static class WorkerPrecompile
{
    // The folders the packet loop never enters: the control side's own.
    private static readonly string[] s_controlNamespaces =
        ["VSwitch.Dataplane.Cli", "VSwitch.Dataplane.Config", "VSwitch.Dataplane.Daemon", "VSwitch.Dataplane.Metrics"];

    /// <summary>Compiles every method of the dataplane's worker-side folders; returns how many.</summary>
    public static int Run()
    {
        Type[] types = typeof(WorkerPrecompile).Assembly.GetTypes();
        Type[] workerSide = [.. types.Where(IsWorkerSide).SelectMany(type => Instantiations(type, types))];
        // Statics first: a method compiled while a class's statics do not exist yet reads every
        // static readonly field through a class-initialisation check, where one compiled after
        // takes its value as a constant (the JIT folds initialised static readonly fields).
        foreach (Type type in workerSide)
            RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        int compiled = 0;
        foreach (Type type in workerSide)
        {
            foreach (MethodBase method in Methods(type))
                compiled += Prepare(method, types);
        }
        return compiled;
    }

    private static bool IsWorkerSide(Type type) =>
        type.Namespace is { } ns && ns.StartsWith("VSwitch.Dataplane.", StringComparison.Ordinal)
        && !s_controlNamespaces.Any(c => ns == c || ns.StartsWith(c + ".", StringComparison.Ordinal));

    private static IEnumerable<MethodBase> Methods(Type type)
    {
        const BindingFlags all = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        return type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all));
    }

    private static int Prepare(MethodBase method, Type[] types)
    {
        // P/Invoke targets are bound by their first call, which Interop.Bind* makes for the loop's
        // own; callbacks from native code are compiled by the runtime's reverse stubs.
        if (method.IsAbstract || method.IsConstructor && method.IsStatic || (method.Attributes & MethodAttributes.PinvokeImpl) != 0
            || method.IsDefined(typeof(UnmanagedCallersOnlyAttribute)))
            return 0;
        if (method is MethodInfo { IsGenericMethodDefinition: true } generic)
        {
            int count = 0;
            foreach (Type[] arguments in ArgumentSets(generic.GetGenericArguments(), types))
            {
                RuntimeHelpers.PrepareMethod(generic.MethodHandle, [.. arguments.Select(a => a.TypeHandle)]);
                count++;
            }
            return count;
        }
        RuntimeHelpers.PrepareMethod(method.MethodHandle);
        return 1;
    }

    /// <summary>The type itself; for a generic type definition, each closed type of it that a field of the assembly holds (SpscRing&lt;ArpFrame&gt;, ULongMap&lt;TunnelEndpoint&gt;).</summary>
    private static IEnumerable<Type> Instantiations(Type type, Type[] types)
    {
        if (type.IsInterface)
            return [];
        if (!type.IsGenericTypeDefinition)
            return [type];
        const BindingFlags all = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        return types.Where(t => !t.IsGenericTypeDefinition)
            .SelectMany(t => t.GetFields(all).Select(f => f.FieldType))
            .Where(f => f.IsConstructedGenericType && f.GetGenericTypeDefinition() == type && !f.ContainsGenericParameters)
            .Distinct();
    }

    /// <summary>
    /// For a generic method's parameters, each constrained to an interface (the packet loop's
    /// specialisations: IFlowAccounting, IClock, ITenantSender), every struct of the assembly
    /// that implements it.
    /// </summary>
    private static IEnumerable<Type[]> ArgumentSets(Type[] parameters, Type[] types)
    {
        IEnumerable<Type[]> sets = [[]];
        foreach (Type parameter in parameters)
        {
            Type[] constraints = [.. parameter.GetGenericParameterConstraints().Where(c => c.IsInterface)];
            Type[] candidates = [.. types.Where(t => t.IsValueType && !t.IsGenericTypeDefinition && constraints.Length > 0 && constraints.All(c => c.IsAssignableFrom(t)))];
            sets = [.. sets.SelectMany(set => candidates.Select(c => (Type[])[.. set, c]))];
        }
        return sets;
    }
}
