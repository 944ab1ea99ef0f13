using System.Collections.Concurrent;
using System.Reflection;
using Jint.Parser.Ast;

namespace RuleFlow.Scripting;

/// <summary>
/// Bounds on how deeply a script may nest, so that neither parsing nor running it can overflow the stack (an overflow ends the
/// process: a server that loads or runs such a script would crash, and crash again on every restart). Jint 2.10.4 parses and
/// evaluates recursively, with no bound of its own, at up to ~1 KB of stack per level of brackets.
/// </summary>
internal static class ScriptNesting
{
    /// <summary>Longest script, in characters (a sandboxed action or step is a few lines; the bound keeps the parse's stack bounded).</summary>
    public const int MaxSourceChars = 65_536;

    /// <summary>Deepest nesting of <c>( [ {</c> in the text, checked before parsing (brackets cost the parser the most stack per character).</summary>
    public const int MaxBracketDepth = 256;

    /// <summary>Deepest syntax tree (a node below its parent is one level), checked after parsing: what evaluation recurses through.</summary>
    public const int MaxTreeDepth = 256;

    /// <summary>Texts longer than this are parsed on a thread of their own with <see cref="ParseStackBytes"/> of stack.</summary>
    public const int InlineParseChars = 2_048;

    /// <summary>
    /// Stack of the parsing thread: what 65,536 characters of the cheapest deep construct (a run of <c>!</c>, ~250 bytes of stack per
    /// level) need, with room to spare. Reserved, and committed only as far as it is used.
    /// </summary>
    public const int ParseStackBytes = 64 * 1024 * 1024;

    private static readonly ConcurrentDictionary<Type, Func<object, IEnumerable<object?>>[]> Children = new();

    /// <summary>
    /// The offset of the first bracket that opens level <see cref="MaxBracketDepth"/> + 1, or -1. Strings and comments are skipped;
    /// a regular expression literal is not recognised, so its brackets count (conservative: a few per literal at most).
    /// </summary>
    public static int TooDeepBracketAt(string source) => TooDeepBracketAt(source, MaxBracketDepth);

    /// <summary>The offset of the first bracket that opens level <paramref name="maxDepth"/> + 1, or -1 (as <see cref="TooDeepBracketAt(string)"/>).</summary>
    public static int TooDeepBracketAt(string source, int maxDepth)
    {
        var depth = 0;
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            switch (c)
            {
                case '"' or '\'':
                    for (i++; i < source.Length && source[i] != c && source[i] != '\n'; i++)
                    {
                        if (source[i] == '\\')
                        {
                            i++;
                        }
                    }

                    break;
                case '/' when i + 1 < source.Length && source[i + 1] == '/':
                    while (i < source.Length && source[i] != '\n')
                    {
                        i++;
                    }

                    break;
                case '/' when i + 1 < source.Length && source[i + 1] == '*':
                    var end = source.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    i = end < 0 ? source.Length : end + 1;
                    break;
                case '(' or '[' or '{':
                    if (++depth > maxDepth)
                    {
                        return i;
                    }

                    break;
                case ')' or ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }

        return -1;
    }

    /// <summary>
    /// The first node of <paramref name="program"/> deeper than <see cref="MaxTreeDepth"/>, or null. Walks the tree with a stack of
    /// its own (not by recursion), through every public field and property that holds a node or a list of nodes (the hoisted
    /// declaration lists, which repeat nodes of the body, excepted).
    /// </summary>
    public static SyntaxNode? TooDeepNode(SyntaxNode program)
    {
        var pending = new Stack<(SyntaxNode Node, int Depth)>();
        pending.Push((program, 0));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > MaxTreeDepth)
            {
                return node;
            }

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

        return null;
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
