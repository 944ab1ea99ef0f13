namespace RuleFlow.Rules;

/// <summary>
/// Code embedded in a rule's action that the host runs, not the engine: the Handlebars template of a <c>start workflow … with
/// template</c> (<see cref="Kind"/> <c>template</c>) or the JavaScript of a <c>script</c> action (<c>script</c>). The engine does not
/// parse them; a host hands the loader a check that compiles each (<c>RuleSetLoader.LoadDirectory(directory, checkCode)</c>), and the
/// loader reports what it returns as an error of the rule's file at the action.
/// </summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Kind"><c>template</c> or <c>script</c>.</param>
/// <param name="Text">The template or script text, as written between the quotes.</param>
/// <param name="File">The rule file.</param>
/// <param name="Line">1-based line of the action.</param>
/// <param name="Column">1-based column of the action.</param>
public sealed record EmbeddedCodeInfo(string Rule, string Kind, string Text, string File, int Line, int Column);

/// <summary>
/// What a host's check of an <see cref="EmbeddedCodeInfo"/> found wrong (see <see cref="RuleSetLoader.LoadDirectory(string, Func{EmbeddedCodeInfo, EmbeddedCodeError})"/>):
/// reported as an error of the rule's file at the action.
/// </summary>
/// <param name="Code">The host's diagnostic code (the server: <c>WF1021</c> for a template, <c>WF1020</c> for a script).</param>
/// <param name="Message">What is wrong, with the position inside the text.</param>
/// <param name="Hint">How to fix it, or null.</param>
public sealed record EmbeddedCodeError(string Code, string Message, string? Hint = null);
