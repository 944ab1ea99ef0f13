using System.Collections.Concurrent;
using System.Reflection;
using Jint.Parser.Ast;

namespace RuleFlow.Scripting;

/// <summary>
/// Bounds on a script's size and nesting, so that parsing it cannot overflow the stack (an overflow ends the process: a server that
/// loads such a script would crash, and crash again on every restart). Jint 2.10.4 parses recursively, with no bound of its own, at
/// up to ~4 KB of stack per level of brackets: the parse runs on a thread whose stack holds the deepest text of the longest script.
/// Evaluation recurses the same way through the syntax tree, so the tree's depth is bounded too.
/// </summary>
internal static class ScriptNesting
{
    /// <summary>Longest script, in characters: a sandboxed action or step is a few lines, and the parse's stack is sized for this.</summary>
    public const int MaxSourceChars = 16_384;

    /// <summary>Deepest syntax tree (a node below its parent is one level), checked after parsing: what evaluation recurses through.</summary>
    public const int MaxTreeDepth = 256;

    /// <summary>Texts up to this long are parsed on the caller's thread (at most ~128 levels: well within any thread's stack).</summary>
    public const int InlineParseChars = 256;

    /// <summary>
    /// Stack of the parsing thread for longer texts: 16,384 characters nested as deeply as they can be (8,192 levels of brackets, at
    /// up to ~4 KB each) fit with room to spare. Reserved, and committed only as far as the parse goes.
    /// </summary>
    public const int ParseStackBytes = 64 * 1024 * 1024;

    private static readonly ConcurrentDictionary<Type, Func<object, IEnumerable<object?>>[]> Children = new();

    /// <summary>
    /// The offset of the first bracket of a JSON text that opens level <paramref name="maxDepth"/> + 1, or -1. Strings (<c>"…"</c>
    /// and <c>'…'</c>, with escapes) are skipped. JSON has no comments, and a JSON parser stops at the first character that is not JSON,
    /// so it never goes deeper than this count.
    /// </summary>
    public static int TooDeepJsonAt(string json, int maxDepth)
    {
        var depth = 0;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            switch (c)
            {
                case '"' or '\'':
                    for (i++; i < json.Length && json[i] != c; i++)
                    {
                        if (json[i] == '\\')
                        {
                            i++;
                        }
                    }

                    break;
                case '[' or '{':
                    if (++depth > maxDepth)
                    {
                        return i;
                    }

                    break;
                case ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }

        return -1;
    }

    /// <summary>
    /// The first node of <paramref name="program"/> deeper than <see cref="MaxTreeDepth"/>, or null (see <see cref="Walk"/>).
    /// </summary>
    public static SyntaxNode? TooDeepNode(SyntaxNode program)
    {
        foreach (var (node, depth) in Walk(program))
        {
            if (depth > MaxTreeDepth)
            {
                return node;
            }
        }

        return null;
    }

    /// <summary>
    /// Every node of the tree under <paramref name="root"/> with its depth (the root's is 0), walked with a stack of its own (not by
    /// recursion), through every public field and property that holds a node or a list of nodes (the hoisted declaration lists,
    /// which repeat nodes of the body, excepted). A node is yielded before its children are read.
    /// </summary>
    public static IEnumerable<(SyntaxNode Node, int Depth)> Walk(SyntaxNode root)
    {
        var pending = new Stack<(SyntaxNode Node, int Depth)>();
        pending.Push((root, 0));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            yield return (node, depth);
            foreach (var read in Children.GetOrAdd(node.GetType(), ReadersOf))
            {
                foreach (var child in read(node))
                {
                    if (child is SyntaxNode syntax)
                    {
                        pending.Push((syntax, depth + 1));
                    }
                }
            }
        }
    }

    private static Func<object, IEnumerable<object?>>[] ReadersOf(Type type)
    {
        var readers = new List<Func<object, IEnumerable<object?>>>();
        foreach (var member in type.GetMembers(BindingFlags.Public | BindingFlags.Instance))
        {
            if (member.Name is "VariableDeclarations" or "FunctionDeclarations" or "Tokens" or "Comments" or "Errors")
            {
                continue;
            }

            var (memberType, get) = member switch
            {
                FieldInfo f => (f.FieldType, (Func<object, object?>)f.GetValue),
                PropertyInfo { CanRead: true } p when p.GetIndexParameters().Length == 0 => (p.PropertyType, (Func<object, object?>)p.GetValue),
                _ => (null, null),
            };
            if (memberType is null || get is null || memberType == typeof(string) || memberType.IsValueType || memberType.IsArray && !typeof(SyntaxNode).IsAssignableFrom(memberType.GetElementType()))
            {
                continue;
            }

            if (typeof(System.Collections.IEnumerable).IsAssignableFrom(memberType))
            {
                readers.Add(node => Read(get, node) is System.Collections.IEnumerable items ? items.Cast<object?>() : []);
            }
            else if (!memberType.IsSealed || typeof(SyntaxNode).IsAssignableFrom(memberType) || memberType.IsInterface)
            {
                readers.Add(node => [Read(get, node)]);
            }
        }

        return [.. readers];
    }

    /// <summary>A member's value, or null when its getter throws (a member that is not a child: nothing to walk).</summary>
    private static object? Read(Func<object, object?> get, object node)
    {
        try
        {
            return get(node);
        }
        catch (Exception e) when (e is TargetInvocationException or InvalidOperationException or NotSupportedException or NullReferenceException)
        {
            return null;
        }
    }
}
