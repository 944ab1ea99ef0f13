using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace RuleFlow.Scripting;

/// <summary>
/// The thread a pooled engine runs its scripts on: one job at a time, with <see cref="StackBytes"/> of stack (reserved, and committed
/// only as far as a run goes). Jint 2.10.4 evaluates recursively, without a bound of its own; the sandbox bounds how deep a run can
/// go — a syntax tree at most <see cref="ScriptNesting.MaxTreeDepth"/> deep, script function calls at most
/// <see cref="ScriptingOptions.LimitRecursion"/> deep however they are made, built-ins nesting into each other at most
/// <see cref="ScriptRunLimits.MaxBuiltInNesting"/> deep — and the deepest run measured within those bounds took 132 MB, where a
/// thread-pool thread's 1.5 MB would overflow, which ends the process. <see cref="StackNearlyExhausted"/> is the last line: every entry
/// into a script function or a built-in checks it. An engine whose run did not end normally, or took longer than 50 ms, is
/// dropped, and its thread (with whatever stack that run touched) with it.
/// </summary>
internal sealed class ScriptThread : IDisposable
{
    /// <summary>Stack of the thread: 256 MB; the deepest run measured within the sandbox's bounds took 132 MB.</summary>
    public const int StackBytes = 256 * 1024 * 1024;

    /// <summary>
    /// Stack kept free: a run that goes deeper ends at the next script function or built-in it enters (<see cref="StackNearlyExhausted"/>),
    /// which is far less than this further down (one level of the deepest expression a script may write takes ~0.3 MB).
    /// </summary>
    public const int StackHeadroomBytes = 64 * 1024 * 1024;

    [ThreadStatic]
    private static bool _isScriptThread;

    [ThreadStatic]
    private static nint _stackStart;

    [ThreadStatic]
    private static int _stackBytes;

    private readonly SemaphoreSlim _start = new(0, 1);
    private readonly SemaphoreSlim _done = new(0, 1);
    private readonly Thread _thread;
    private Action? _job;
    private volatile bool _stopping;

    /// <summary>Starts the thread.</summary>
    /// <param name="stackBytes">Its stack, more than <see cref="StackHeadroomBytes"/>: <see cref="StackBytes"/> but in tests of the
    /// stack check (<see cref="ScriptingOptions.ThreadStackBytes"/>).</param>
    public ScriptThread(int stackBytes = StackBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(stackBytes, StackHeadroomBytes);
        _thread = new Thread(() => Loop(stackBytes), stackBytes) { IsBackground = true, Name = "script" };
        _thread.Start();
    }

    /// <summary>The stack of the script thread this is called on, in bytes (0 elsewhere).</summary>
    public static int CurrentStackBytes => _stackBytes;

    /// <summary>True on a script thread: a parse there needs no thread of its own.</summary>
    public static bool IsCurrent => _isScriptThread;

    /// <summary>True on a script thread that has used all of its stack but <see cref="StackHeadroomBytes"/> (stacks grow down).</summary>
    public static bool StackNearlyExhausted => _isScriptThread && _stackStart - StackAddress() > _stackBytes - StackHeadroomBytes;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe nint StackAddress()
    {
        byte here = 0;
        return (nint)(&here);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on this thread, in the caller's execution context, and waits for it, at most
    /// <paramref name="wait"/>: its result, or its exception rethrown here. One caller at a time (the engine's owner).
    /// </summary>
    /// <param name="work">The job.</param>
    /// <param name="wait">How long to wait for it (<see cref="Timeout.InfiniteTimeSpan"/>: as long as it takes).</param>
    /// <param name="endedLate">Called on this thread when a job that was given up on ends after all.</param>
    /// <exception cref="AbandonedException">The job did not end within <paramref name="wait"/>. .NET cannot stop a thread: the job
    /// runs on until it returns to code that checks its deadline (or ends), then <paramref name="endedLate"/> is called and the thread
    /// ends. The thread is disposed; its engine must not be touched again.</exception>
    public T Invoke<T>(Func<T> work, TimeSpan wait, Action? endedLate = null)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var context = ExecutionContext.Capture();
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var state = Running;
        _job = () =>
        {
            try
            {
                if (context is null)
                {
                    result = work();
                }
                else
                {
                    ExecutionContext.Run(context, _ => result = work(), null);
                }
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                if (Interlocked.CompareExchange(ref state, Ended, Running) == Abandoned)
                {
                    endedLate?.Invoke();
                }
            }
        };
        _start.Release();
        if (!_done.Wait(wait))
        {
            if (Interlocked.CompareExchange(ref state, Abandoned, Running) == Running)
            {
                Dispose(); // the loop ends once the job does
                throw new AbandonedException();
            }

            _done.Wait(); // the job ended just as the wait ran out
        }

        _job = null;
        failure?.Throw();
        return result;
    }

    private const int Running = 0;
    private const int Ended = 1;
    private const int Abandoned = 2;

    /// <summary>A job given up on by <see cref="Invoke{T}"/>: it had not ended when the wait ran out.</summary>
    public sealed class AbandonedException() : Exception("the job did not end within the wait; its thread is abandoned");

    /// <summary>
    /// Runs <paramref name="work"/> once on a new thread with <paramref name="stackBytes"/> of stack and waits for it: its result,
    /// or its exception rethrown here. For work outside a run that may recurse deeply (parsing a long script).
    /// </summary>
    /// <exception cref="InvalidOperationException">The thread could not be started (its stack could not be reserved).</exception>
    public static T RunOnce<T>(int stackBytes, Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }, stackBytes) { IsBackground = true, Name = "script parse" };
        try
        {
            thread.Start();
        }
        catch (OutOfMemoryException ex)
        {
            // The stack could not be reserved (strict overcommit, a small address-space limit): the caller reports it, the host goes on.
            throw new InvalidOperationException($"could not start a thread with {stackBytes / (1024 * 1024)} MB of stack to parse the script: {ex.Message}", ex);
        }

        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Ends the thread (after the job it runs, if any).</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _start.Release();
    }

    private void Loop(int stackBytes)
    {
        _isScriptThread = true;
        _stackStart = StackAddress();
        _stackBytes = stackBytes;
        while (true)
        {
            _start.Wait();
            if (_stopping)
            {
                return;
            }

            _job!();
            _done.Release();
        }
    }
}
