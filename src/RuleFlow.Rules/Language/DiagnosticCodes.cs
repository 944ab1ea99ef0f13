namespace RuleFlow.Rules.Language;

/// <summary>A kind of diagnostic: its stable code, severity and a short title (the message adds the specifics).</summary>
internal sealed record DiagnosticDescriptor(string Code, DiagnosticSeverity Severity, string Title);

/// <summary>
/// Every diagnostic the rule language reports. RF1xxx: lexical and syntax errors; RF2xxx: binding and semantic errors; RF3xxx:
/// warnings. Codes are stable; docs/rules-language.md explains each with its fix.
/// </summary>
internal static class DiagnosticCodes
{
    private const DiagnosticSeverity E = DiagnosticSeverity.Error;
    private const DiagnosticSeverity W = DiagnosticSeverity.Warning;

    // Lexical
    public static readonly DiagnosticDescriptor CannotReadFile = new("RF1000", E, "cannot read the rule file");
    public static readonly DiagnosticDescriptor UnexpectedCharacter = new("RF1001", E, "unexpected character");
    public static readonly DiagnosticDescriptor UnterminatedString = new("RF1002", E, "unterminated string");
    public static readonly DiagnosticDescriptor UnterminatedRegex = new("RF1003", E, "unterminated regular expression");
    public static readonly DiagnosticDescriptor InvalidEscape = new("RF1004", E, "invalid escape sequence");
    public static readonly DiagnosticDescriptor UnknownDurationUnit = new("RF1005", E, "unknown duration unit");
    public static readonly DiagnosticDescriptor InvalidNumber = new("RF1006", E, "invalid number");
    public static readonly DiagnosticDescriptor UnknownRegexFlag = new("RF1007", E, "unknown regular expression flag");
    public static readonly DiagnosticDescriptor UnterminatedQuotedName = new("RF1008", E, "unterminated quoted name");

    // Syntax
    public static readonly DiagnosticDescriptor Expected = new("RF1100", E, "syntax error");
    public static readonly DiagnosticDescriptor ExpectedDeclaration = new("RF1101", E, "expected 'event' or 'rule'");
    public static readonly DiagnosticDescriptor UnknownEventClause = new("RF1102", E, "unknown clause in an event declaration");
    public static readonly DiagnosticDescriptor UnknownRuleOption = new("RF1103", E, "unknown rule option");
    public static readonly DiagnosticDescriptor DurationWithoutUnit = new("RF1104", E, "duration without a unit");
    public static readonly DiagnosticDescriptor ExpectedCondition = new("RF1105", E, "expected a pattern or an aggregate");
    public static readonly DiagnosticDescriptor ExpectedAction = new("RF1106", E, "expected an action");
    public static readonly DiagnosticDescriptor DuplicateClause = new("RF1107", E, "clause given twice");
    public static readonly DiagnosticDescriptor ForeignOperator = new("RF1108", E, "operator from another language");
    public static readonly DiagnosticDescriptor NestedTooDeeply = new("RF1109", E, "nested too deeply");
    public static readonly DiagnosticDescriptor NoConditions = new("RF1110", E, "rule without conditions");
    public static readonly DiagnosticDescriptor NoActions = new("RF1111", E, "rule without actions");
    public static readonly DiagnosticDescriptor TooManyElements = new("RF1112", E, "too many conditions in a rule");
    public static readonly DiagnosticDescriptor MisplacedNamespace = new("RF1113", E, "namespace not at the top of the file");
    public static readonly DiagnosticDescriptor InvalidIndex = new("RF1114", E, "invalid index");

    // Binding and semantics
    public static readonly DiagnosticDescriptor UnknownEventType = new("RF2001", E, "unknown event type");
    public static readonly DiagnosticDescriptor UnknownName = new("RF2002", E, "unknown name");
    public static readonly DiagnosticDescriptor DuplicateEventType = new("RF2003", E, "event type declared twice");
    public static readonly DiagnosticDescriptor DuplicateBinding = new("RF2004", E, "binding declared twice");
    public static readonly DiagnosticDescriptor InvalidRegex = new("RF2005", E, "invalid regular expression");
    public static readonly DiagnosticDescriptor TypeMismatch = new("RF2006", E, "type mismatch");
    public static readonly DiagnosticDescriptor UnknownDeclaredField = new("RF2007", E, "field not declared");
    public static readonly DiagnosticDescriptor InvalidRoutingPattern = new("RF2008", E, "invalid routing pattern");
    public static readonly DiagnosticDescriptor DuplicateField = new("RF2009", E, "name given twice");
    public static readonly DiagnosticDescriptor DuplicateRule = new("RF2010", E, "rule name used twice");
    public static readonly DiagnosticDescriptor UnknownFieldType = new("RF2011", E, "unknown field type");
    public static readonly DiagnosticDescriptor InvalidPriority = new("RF2012", E, "invalid priority");
    public static readonly DiagnosticDescriptor AggregateName = new("RF2013", E, "aggregate name not available");
    public static readonly DiagnosticDescriptor InvalidThreshold = new("RF2014", E, "invalid aggregate comparison");
    public static readonly DiagnosticDescriptor NonPositiveDuration = new("RF2015", E, "duration must be positive");
    public static readonly DiagnosticDescriptor UnsupportedAggregateJoin = new("RF2016", E, "unsupported join inside an aggregate");
    public static readonly DiagnosticDescriptor AggregateWithoutWindow = new("RF2017", E, "aggregate without a window");
    public static readonly DiagnosticDescriptor NonLiteralInList = new("RF2018", E, "list of 'in' must hold literals");
    public static readonly DiagnosticDescriptor AggregateInCondition = new("RF2019", E, "aggregate used in a condition");
    public static readonly DiagnosticDescriptor UnknownWindowMember = new("RF2020", E, "unknown member of a window");
    public static readonly DiagnosticDescriptor AmbiguousName = new("RF2021", E, "ambiguous name");
    public static readonly DiagnosticDescriptor ImportNotFound = new("RF2022", E, "imported file not found");
    public static readonly DiagnosticDescriptor NotAFact = new("RF2023", E, "not a fact");
    public static readonly DiagnosticDescriptor InvalidCall = new("RF2024", E, "unknown function or wrong arguments");
    public static readonly DiagnosticDescriptor StormControlConflict = new("RF2025", E, "conflicting storm control");
    public static readonly DiagnosticDescriptor InvalidFactClause = new("RF2026", E, "clause not allowed on a fact type");
    public static readonly DiagnosticDescriptor InvalidWindow = new("RF2027", E, "invalid window");
    public static readonly DiagnosticDescriptor AggregateValue = new("RF2028", E, "aggregate value missing or not allowed");
    public static readonly DiagnosticDescriptor InternalError = new("RF2999", E, "internal error");

    // Warnings
    public static readonly DiagnosticDescriptor NeverFires = new("RF3001", W, "rule can never fire");
    public static readonly DiagnosticDescriptor UnusedBinding = new("RF3002", W, "unused binding");
    public static readonly DiagnosticDescriptor UnknownField = new("RF3003", W, "field not declared by the event type");
    public static readonly DiagnosticDescriptor BindingShadowsField = new("RF3004", W, "binding hides a field");
    public static readonly DiagnosticDescriptor NegationOverTransient = new("RF3005", W, "negation over events no window keeps");
    public static readonly DiagnosticDescriptor UnreachableCondition = new("RF3006", W, "condition can never hold");

    /// <summary>All descriptors, in code order.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } =
    [
        CannotReadFile, UnexpectedCharacter, UnterminatedString, UnterminatedRegex, InvalidEscape, UnknownDurationUnit, InvalidNumber,
        UnknownRegexFlag, UnterminatedQuotedName, Expected, ExpectedDeclaration, UnknownEventClause, UnknownRuleOption,
        DurationWithoutUnit, ExpectedCondition, ExpectedAction, DuplicateClause, ForeignOperator, NestedTooDeeply, NoConditions,
        NoActions, TooManyElements, MisplacedNamespace, InvalidIndex, UnknownEventType, UnknownName, DuplicateEventType, DuplicateBinding, InvalidRegex, TypeMismatch,
        UnknownDeclaredField, InvalidRoutingPattern, DuplicateField, DuplicateRule, UnknownFieldType, InvalidPriority, AggregateName,
        InvalidThreshold, NonPositiveDuration, UnsupportedAggregateJoin, AggregateWithoutWindow, NonLiteralInList,
        AggregateInCondition, UnknownWindowMember, AmbiguousName, ImportNotFound, NotAFact, InvalidCall, StormControlConflict,
        InvalidFactClause, InvalidWindow, AggregateValue, InternalError, NeverFires, UnusedBinding, UnknownField,
        BindingShadowsField, NegationOverTransient, UnreachableCondition,
    ];
}

/// <summary>Collects the diagnostics of one file; turns spans into locations.</summary>
internal sealed class DiagnosticBag(SourceText source)
{
    private readonly List<Diagnostic> _items = [];
    private readonly List<int> _errorPositions = [];

    public SourceText Source { get; } = source;

    public IReadOnlyList<Diagnostic> Items => _items;

    public bool HasErrors => _items.Exists(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>Offsets at which errors were reported, in report order (the parser uses the lexer's to avoid cascades).</summary>
    public IReadOnlyList<int> ErrorPositions => _errorPositions;

    public void Report(DiagnosticDescriptor descriptor, TextSpan span, string message, string? hint = null) =>
        Report(descriptor, span.Start, message, hint);

    public void Report(DiagnosticDescriptor descriptor, int position, string message, string? hint = null)
    {
        if (descriptor.Severity == DiagnosticSeverity.Error)
        {
            _errorPositions.Add(position);
        }

        _items.Add(new Diagnostic(descriptor.Code, descriptor.Severity, message, Source.GetLocation(position), hint));
    }

    /// <summary>Reports at a location computed elsewhere (e.g. a rule's location, for a conflict found across files).</summary>
    public void Report(DiagnosticDescriptor descriptor, SourceLocation location, string message, string? hint = null) =>
        _items.Add(new Diagnostic(descriptor.Code, descriptor.Severity, message, location, hint));

    /// <summary>An error whose code is the host's (a template or script the host compiles: <c>WF1021</c>, <c>WF1020</c>).</summary>
    public void ReportError(string code, SourceLocation location, string message, string? hint) =>
        _items.Add(new Diagnostic(code, DiagnosticSeverity.Error, message, location, hint));
}
